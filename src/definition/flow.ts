import type { RawIssue } from "./issues.ts";
import type { StepNode } from "./steps.ts";

/** The top-level flow-control keys, copied into the definition (and its hash) only when present. */
export const FLOW_KEYS = ["concurrency", "rate", "priority", "debounce"] as const;

/** Step types that can leave a run waiting for an answer: a debounced run must not (its input is replaced while it waits). */
const HALTING = new Set(["halt", "approval", "wait_for_event"]);

/**
 * Rules the schemas cannot express: a debounced workflow never halts, and a flow key names a declared input
 * (when the workflow declares inputs).
 */
export function checkFlowRules(
  top: Record<string, unknown>,
  all: readonly StepNode[],
  inputs: readonly string[] | null,
  issues: RawIssue[],
): void {
  if (top.debounce !== undefined) {
    for (const node of all) {
      const type = node.raw.type;
      if (typeof type === "string" && HALTING.has(type)) {
        issues.push({
          path: ["debounce"],
          message:
            `a debounced workflow cannot halt: step "${node.id}" is a ${type} step (debounce replaces the input of a run that has not started; a halted run has)`,
        });
      }
    }
  }
  if (!inputs) return;
  const keys: [string, unknown][] = [["priority", top.priority]];
  for (const name of ["concurrency", "rate", "debounce"]) {
    const spec = top[name];
    if (spec && typeof spec === "object") keys.push([`${name}.key`, (spec as { key?: unknown }).key]);
  }
  for (const [where, key] of keys) {
    const name = typeof key === "string" && key.startsWith("$input.") ? key.slice(7).split(".")[0]! : undefined;
    if (name !== undefined && !inputs.includes(name)) {
      issues.push({ path: where.split("."), message: `${key} names no declared input ("${name}" is not in inputs)` });
    }
  }
}
