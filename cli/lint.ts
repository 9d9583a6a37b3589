import { leaseWarnings } from "../src/definition/lint.ts";
import { DEFAULT_LEASE_MS } from "../src/engine/engine.ts";
import { validateWorkflow, type ValidationIssue } from "../src/mod.ts";
import { choice, type Command, UsageError } from "./command.ts";
import { readText, UnreadableFile } from "./files.ts";

interface FileReport {
  file: string;
  valid: boolean;
  issues: ValidationIssue[];
  /** Present when there are any: what a valid file allows that can hurt at run time. */
  warnings?: ValidationIssue[];
}

async function lintFile(file: string, leaseMs: number): Promise<FileReport> {
  try {
    const text = await readText(file);
    const { valid, issues } = validateWorkflow(text);
    const warnings = valid ? leaseWarnings(text, { leaseMs }) : [];
    return { file, valid, issues, ...(warnings.length ? { warnings } : {}) };
  } catch (error) {
    if (!(error instanceof UnreadableFile)) throw error;
    return { file, valid: false, issues: [{ path: "", message: error.reason }] };
  }
}

/** `file:line:col  path: message` (the location only when the issue has one; `warning: ` before a warning's path). */
function issueLine(file: string, issue: ValidationIssue, kind = ""): string {
  const at = issue.line ? `${file}:${issue.line}:${issue.column ?? 1}` : file;
  return `${at}  ${kind}${issue.path ? `${issue.path}: ` : ""}${issue.message}`;
}

function byPosition(issues: ValidationIssue[]): ValidationIssue[] {
  const key = (issue: ValidationIssue) => (issue.line ?? Infinity) * 1e6 + (issue.column ?? 0);
  return [...issues].sort((a, b) => key(a) - key(b));
}

function summary(reports: FileReport[]): string {
  const invalid = reports.filter((r) => !r.valid);
  const files = (n: number) => `${n} file${n === 1 ? "" : "s"}`;
  const warnings = reports.reduce((sum, r) => sum + (r.warnings?.length ?? 0), 0);
  if (!invalid.length) return `${files(reports.length)} valid${warnings ? ` (${warnings} warning${warnings === 1 ? "" : "s"})` : ""}`;
  const issues = invalid.reduce((sum, r) => sum + r.issues.length, 0);
  return `${invalid.length} of ${files(reports.length)} invalid (${issues} issue${issues === 1 ? "" : "s"})`;
}

export const lint: Command = {
  name: "lint",
  summary: "check workflow files and list every issue",
  help: `Usage: durable-workflow lint <files...> [--format text|json]

Checks each workflow file (YAML or JSON) and prints every issue as
  file:line:col  path: message
and every warning (a valid file still exits 0) as
  file:line:col  warning: path: message
Exits 1 when any file is invalid, 0 otherwise.

Warnings: a step whose timeout is longer than the lease (it then holds the
execution only through heartbeats).

Options:
  --format text|json   json prints [{ file, valid, issues: [{ path, message, line, column }], warnings? }]
  --lease-seconds N    the workers' lease (default: DW_LEASE_SECONDS, else ${DEFAULT_LEASE_MS / 1000})`,
  options: { format: { type: "string" }, "lease-seconds": { type: "string" } },
  async run({ values, positionals }) {
    const format = choice(values.format, "format", ["text", "json"], "text");
    if (!positionals.length) throw new UsageError("lint needs at least one file");
    const leaseText = values["lease-seconds"] ?? process.env.DW_LEASE_SECONDS;
    const leaseSeconds = leaseText === undefined ? DEFAULT_LEASE_MS / 1000 : Number(leaseText);
    if (!Number.isFinite(leaseSeconds) || leaseSeconds <= 0) {
      throw new UsageError(`--lease-seconds (or DW_LEASE_SECONDS) must be a positive number of seconds, got ${JSON.stringify(leaseText)}`);
    }
    const reports: FileReport[] = [];
    for (const file of positionals) reports.push(await lintFile(file, leaseSeconds * 1000));
    if (format === "json") process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
    else {
      const lines = reports.flatMap((r) => [
        ...byPosition(r.issues).map((issue) => issueLine(r.file, issue)),
        ...byPosition(r.warnings ?? []).map((warning) => issueLine(r.file, warning, "warning: ")),
      ]);
      process.stdout.write([...lines, summary(reports)].join("\n") + "\n");
    }
    return reports.every((r) => r.valid) ? 0 : 1;
  },
};
