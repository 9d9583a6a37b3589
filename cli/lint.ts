import { validateWorkflow, type ValidationIssue } from "../src/mod.ts";
import { choice, type Command, UsageError } from "./command.ts";
import { readText, UnreadableFile } from "./files.ts";

interface FileReport {
  file: string;
  valid: boolean;
  issues: ValidationIssue[];
}

async function lintFile(file: string): Promise<FileReport> {
  try {
    const { valid, issues } = validateWorkflow(await readText(file));
    return { file, valid, issues };
  } catch (error) {
    if (!(error instanceof UnreadableFile)) throw error;
    return { file, valid: false, issues: [{ path: "", message: error.reason }] };
  }
}

/** `file:line:col  path: message` (the location only when the issue has one). */
function issueLine(file: string, issue: ValidationIssue): string {
  const at = issue.line ? `${file}:${issue.line}:${issue.column ?? 1}` : file;
  return `${at}  ${issue.path ? `${issue.path}: ` : ""}${issue.message}`;
}

function byPosition(issues: ValidationIssue[]): ValidationIssue[] {
  const key = (issue: ValidationIssue) => (issue.line ?? Infinity) * 1e6 + (issue.column ?? 0);
  return [...issues].sort((a, b) => key(a) - key(b));
}

function summary(reports: FileReport[]): string {
  const invalid = reports.filter((r) => !r.valid);
  const files = (n: number) => `${n} file${n === 1 ? "" : "s"}`;
  if (!invalid.length) return `${files(reports.length)} valid`;
  const issues = invalid.reduce((sum, r) => sum + r.issues.length, 0);
  return `${invalid.length} of ${files(reports.length)} invalid (${issues} issue${issues === 1 ? "" : "s"})`;
}

export const lint: Command = {
  name: "lint",
  summary: "check workflow files and list every issue",
  help: `Usage: durable-workflow lint <files...> [--format text|json]

Checks each workflow file (YAML or JSON) and prints every issue as
  file:line:col  path: message
Exits 1 when any file is invalid, 0 otherwise.

Options:
  --format text|json   json prints [{ file, valid, issues: [{ path, message, line, column }] }]`,
  options: { format: { type: "string" } },
  async run({ values, positionals }) {
    const format = choice(values.format, "format", ["text", "json"], "text");
    if (!positionals.length) throw new UsageError("lint needs at least one file");
    const reports: FileReport[] = [];
    for (const file of positionals) reports.push(await lintFile(file));
    if (format === "json") process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
    else {
      const lines = reports.flatMap((r) => byPosition(r.issues).map((issue) => issueLine(r.file, issue)));
      process.stdout.write([...lines, summary(reports)].join("\n") + "\n");
    }
    return reports.every((r) => r.valid) ? 0 : 1;
  },
};
