import { DEFAULT_LEASE_MS, leaseWarnings, loadWorkflow, ValidationError, type ValidationIssue } from "../src/mod.ts";
import { choice, type Command, UsageError } from "./command.ts";
import { CONFIG_HELP, CONFIG_OPTION, loadConfig } from "./config.ts";
import { readText, UnreadableFile } from "./files.ts";

interface FileReport {
  file: string;
  valid: boolean;
  issues: ValidationIssue[];
  /** Present when there are some: what is valid but can go wrong at run time (lease). */
  warnings?: ValidationIssue[];
}

async function lintFile(file: string, leaseMs: number): Promise<FileReport> {
  try {
    // Read and checked once: loadWorkflow's ValidationError holds the issues validateWorkflow would list.
    const warnings = leaseWarnings(loadWorkflow(await readText(file)), leaseMs);
    return { file, valid: true, issues: [], ...(warnings.length ? { warnings } : {}) };
  } catch (error) {
    if (error instanceof ValidationError) return { file, valid: false, issues: error.issues };
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
  help: `Usage: durable-workflow lint <files...> [--format text|json] [--config file]

Checks each workflow file (YAML or JSON) and prints every issue as
  file:line:col  path: message
and every warning (a step that can outlast the lease) as
  file  warning: path: message
Exits 1 when any file is invalid, 0 otherwise (warnings do not change it).

Options:
  --format text|json     json prints [{ file, valid, issues: [{ path, message, line, column }], warnings? }]
  --lease-seconds <n>    the lease the warnings compare with (default 60, as DW_LEASE_SECONDS)
${CONFIG_HELP}`,
  options: { format: { type: "string" }, "lease-seconds": { type: "string" }, ...CONFIG_OPTION },
  async run(args) {
    const { values, positionals } = args;
    const format = choice(values.format, "format", ["text", "json"], "text");
    if (!positionals.length) throw new UsageError("lint needs at least one file");
    const lease = values["lease-seconds"] === undefined ? DEFAULT_LEASE_MS / 1000 : Number(values["lease-seconds"]);
    if (!(lease > 0)) throw new UsageError(`--lease-seconds must be a positive number, got ${values["lease-seconds"]}`);
    await loadConfig(args);
    const reports: FileReport[] = [];
    for (const file of positionals) reports.push(await lintFile(file, lease * 1000));
    if (format === "json") process.stdout.write(`${JSON.stringify(reports, null, 2)}\n`);
    else {
      const lines = reports.flatMap((r) => [
        ...byPosition(r.issues).map((issue) => issueLine(r.file, issue)),
        ...(r.warnings ?? []).map((w) => `${r.file}  warning: ${w.path}: ${w.message}`),
      ]);
      process.stdout.write([...lines, summary(reports)].join("\n") + "\n");
    }
    return reports.every((r) => r.valid) ? 0 : 1;
  },
};
