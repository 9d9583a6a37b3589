/**
 * Visits of top-level steps, for idempotency keys (`<scope>:<visit>`). Only a step on a cycle of the definition's
 * graph (a router back-edge, an `on_error` loop) can be reached twice in one epoch, so only those are counted on
 * the execution: a linear run stores no counter at all.
 */
import type { WorkflowDefinition } from "../definition/workflow.ts";
import type { StepRegistry } from "../steps/registry.ts";
import { FINISHED, type StepDefinition } from "../steps/step.ts";
import type { Execution } from "../types.ts";

const cache = new WeakMap<WorkflowDefinition, ReadonlySet<string>>();

/** Ids of the top-level steps from which a path of targets leads back to themselves. */
export function stepsOnCycles(workflow: WorkflowDefinition, registry: StepRegistry): ReadonlySet<string> {
  let found = cache.get(workflow);
  if (found) return found;
  const next = new Map<string, string[]>();
  for (const step of workflow.steps) next.set(step.id, targetsOf(step, registry).filter((id) => id !== FINISHED));
  const onCycle = new Set<string>();
  for (const start of next.keys()) {
    const seen = new Set<string>();
    const queue = [...next.get(start)!];
    while (queue.length && !onCycle.has(start)) {
      const id = queue.pop()!;
      if (id === start) onCycle.add(start);
      else if (!seen.has(id)) {
        seen.add(id);
        queue.push(...(next.get(id) ?? []));
      }
    }
  }
  found = onCycle;
  cache.set(workflow, found);
  return found;
}

function targetsOf(step: StepDefinition, registry: StepRegistry): string[] {
  const ids = [step.next, step.on_error].filter((id): id is string => typeof id === "string");
  for (const { target } of registry.get(step.type)?.targets?.(step) ?? []) ids.push(target);
  return ids;
}

/** The visit part of a step's idempotency keys: visits ended so far + 1, after operator retries `r<epoch>.<visit>`. */
export function visitOf(exec: Execution, stepId: string): string {
  const visit = (exec.visits[stepId] ?? 0) + 1;
  return exec.epoch ? `r${exec.epoch}.${visit}` : `${visit}`;
}
