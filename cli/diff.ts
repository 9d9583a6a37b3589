import { FINISHED, type StepDefinition, type WorkflowDefinition } from "../src/mod.ts";
import { choice, type Command, UsageError } from "./command.ts";
import { CONFIG_HELP, CONFIG_OPTION, loadConfig } from "./config.ts";
import { readWorkflow } from "./files.ts";

interface Breaking {
  stepId: string;
  reason: string;
}

interface WorkflowDiff {
  added: string[];
  removed: string[];
  changed: { id: string; keys: string[] }[];
  /** What breaks an execution of the old version that is halted or pending when it moves to the new one. */
  breaking: Breaking[];
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.keys(value).sort().map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]));
}

/** Where an execution halted at a `halt` step goes on: its `resume_step`, else its `next`, fixed when it halted. */
function resumeTarget(step: StepDefinition): string | undefined {
  if (step.type !== "halt") return undefined;
  return (step.resume_step as string | undefined) ?? step.next;
}

/** Compares the top-level steps of two versions by id (nested steps count as a change of their parent). */
function diffWorkflows(before: WorkflowDefinition, after: WorkflowDefinition): WorkflowDiff {
  const old = new Map(before.steps.map((step) => [step.id, step]));
  const now = new Map(after.steps.map((step) => [step.id, step]));
  const added = [...now.keys()].filter((id) => !old.has(id));
  const removed = [...old.keys()].filter((id) => !now.has(id));
  const changed = [...old.values()].flatMap((step) => {
    const next = now.get(step.id);
    if (!next || same(step, next)) return [];
    const keys = [...new Set([...Object.keys(step), ...Object.keys(next)])].filter((key) => !same(step[key], next[key])).sort();
    return [{ id: step.id, keys }];
  });
  const breaking: Breaking[] = [];
  for (const step of old.values()) {
    const next = now.get(step.id);
    if (!next) {
      breaking.push({ stepId: step.id, reason: `step "${step.id}" was removed: executions halted or pending at it cannot go on` });
      continue;
    }
    if (next.type !== step.type) {
      breaking.push({
        stepId: step.id,
        reason:
          `step "${step.id}" changed type (${step.type} -> ${next.type}): executions halted or pending at it would re-enter a different step`,
      });
    }
    const target = resumeTarget(step);
    if (target && target !== FINISHED && !now.has(target)) {
      breaking.push({ stepId: step.id, reason: `executions halted at "${step.id}" resume at "${target}", which no longer exists` });
    }
  }
  return { added, removed, changed, breaking };
}

function describe(diff: WorkflowDiff, before: WorkflowDefinition, after: WorkflowDefinition): string[] {
  const lines = [`${before.id} ${before.version} -> ${after.id} ${after.version}`];
  if (!diff.added.length && !diff.removed.length && !diff.changed.length) lines.push("no step changed");
  for (const id of diff.added) lines.push(`  + ${id}`);
  for (const id of diff.removed) lines.push(`  - ${id}`);
  for (const { id, keys } of diff.changed) lines.push(`  ~ ${id} (${keys.join(", ")})`);
  if (!diff.breaking.length) lines.push("no breaking change for executions waiting on the old version");
  else lines.push("breaking for executions waiting on the old version:", ...diff.breaking.map((b) => `  ! ${b.reason}`));
  return lines;
}

export const diff: Command = {
  name: "diff",
  summary: "compare two versions of a workflow step by step",
  help: `Usage: durable-workflow diff <old> <new> [--format text|json] [--config file]

Lists the steps added (+), removed (-) and changed (~, with the keys that differ), compared by id, and
the changes that would break executions of the old version that are halted or pending: a step they wait
at that no longer exists (or has another type), or a resume target that no longer exists. Exits 0.

Options:
  --format text|json    json prints { added, removed, changed: [{ id, keys }], breaking: [{ stepId, reason }] }
${CONFIG_HELP}`,
  options: { format: { type: "string" }, ...CONFIG_OPTION },
  async run(args) {
    const { values, positionals } = args;
    const format = choice(values.format, "format", ["text", "json"], "text");
    if (positionals.length !== 2) throw new UsageError("diff needs two workflow files: <old> <new>");
    await loadConfig(args);
    const [before, after] = [await readWorkflow(positionals[0]!), await readWorkflow(positionals[1]!)];
    const result = diffWorkflows(before, after);
    const text = format === "json" ? JSON.stringify(result, null, 2) : describe(result, before, after).join("\n");
    process.stdout.write(`${text}\n`);
    return 0;
  },
};
