/**
 * Warnings: things a valid definition allows that can hurt at run time. They never make a definition invalid
 * (`durable-workflow lint` prints them and still exits 0).
 */
import type { ValidationIssue } from "../errors.ts";
import { defaultStepRegistry } from "../steps/registry.ts";
import type { StepDefinition } from "../steps/step.ts";
import { formatPath } from "./issues.ts";
import { type LoadOptions, loadWorkflow, type WorkflowSource } from "./load.ts";
import { readSource } from "./source.ts";

/** Step types whose `timeout` is a wait while halted (no worker, no lease), not a bound on running work. */
const HALTING = new Set(["approval", "wait_for_event"]);

/**
 * Steps whose `timeout` can outlast a worker's lease of `leaseMs`: such a step holds the execution only through
 * its worker's heartbeats, and is aborted as soon as a renewal is refused. Nothing for an invalid definition (its
 * issues come first).
 */
export function leaseWarnings(source: WorkflowSource, options: LoadOptions & { leaseMs: number }): ValidationIssue[] {
  let steps: readonly StepDefinition[];
  try {
    steps = loadWorkflow(source, options).steps;
  } catch {
    return [];
  }
  const registry = options.registry ?? defaultStepRegistry;
  const locate = readSource(source).locate;
  const leaseSeconds = options.leaseMs / 1000;
  const warnings: ValidationIssue[] = [];
  const walk = (list: readonly StepDefinition[], at: (string | number)[]) => {
    list.forEach((step, index) => {
      const path = [...at, index];
      const timeout = step.timeout;
      if (typeof timeout === "number" && timeout > leaseSeconds && !HALTING.has(step.type) && !registry.get(step.type)?.pure) {
        const warning: ValidationIssue = {
          path: formatPath([...path, "timeout"]),
          message: `step "${step.id}" may run ${timeout} s, longer than the ${leaseSeconds} s lease: it keeps the execution only ` +
            `through its worker's heartbeats (a refused renewal aborts it); raise the lease (DW_LEASE_SECONDS) above the timeout, ` +
            `or shorten the timeout`,
        };
        const position = locate?.([...path, "timeout"]);
        if (position) Object.assign(warning, { line: position.line, column: position.column });
        warnings.push(warning);
      }
      for (const key of ["do", "branches"]) {
        if (Array.isArray(step[key])) walk(step[key] as StepDefinition[], [...path, key]);
      }
    });
  };
  walk(steps, ["steps"]);
  return warnings;
}
