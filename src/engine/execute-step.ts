/**
 * Running one step, the same way at the top level and inside a loop body or a parallel branch: count it,
 * announce it, execute it with its tools, check what it returned, and record the entry and the event.
 */
import { errorText, ExecutionError } from "../errors.ts";
import { toJson } from "../json.ts";
import { BUILT_IN_STEP_TYPES, type StepRegistry } from "../steps/registry.ts";
import type { StepDefinition, StepOutcome, StepState, StepTools, StepType } from "../steps/step.ts";
import type { JsonObject } from "../types.ts";
import { recordCompensation } from "./compensation.ts";
import type { Run } from "./run.ts";

/** Thrown to end a run at a checkpoint: the time budget is used up, a call retry or a wait was scheduled. */
export class Yield extends Error {
  constructor(readonly notBefore?: string) {
    super("yield");
  }
}

const BUILT_IN: ReadonlySet<StepType> = new Set(BUILT_IN_STEP_TYPES);

export type StepResult =
  | { ok: true; outcome: StepOutcome }
  | { ok: false; error: unknown };

export function stepTypeOf(registry: StepRegistry, step: StepDefinition): StepType {
  const type = registry.get(step.type);
  if (!type) throw new ExecutionError(`Unknown step type "${step.type}" (step "${step.id}")`, { stepId: step.id });
  return type;
}

/** `ctx._last_error` after a step failed and its `on_error` took over. */
export function lastError(stepId: string, error: unknown): JsonObject {
  return {
    step: stepId,
    message: error instanceof Error ? error.message : String(error),
    class: error instanceof Error ? error.name : "Error",
  };
}

/**
 * Executes `step` (recorded as `label`, e.g. `<loop>:<body step>`) and records its entry and events. A step
 * error is returned, not thrown; a Yield is thrown. `tools.waitToRetry` is wrapped so that every retry emits
 * `step.retrying` and the entry records the last attempt.
 */
export async function executeStep(
  run: Run,
  step: StepDefinition,
  type: StepType,
  label: { id: string; type: string },
  state: StepState,
  tools: StepTools,
): Promise<StepResult> {
  const startedAt = run.nowMs();
  let attempt = state.retryAttempt ?? 1;
  run.emitStep("step.started", label, startedAt);
  // The step's own view of the tools: the same object underneath, with its retries counted and announced.
  const counted: StepTools = Object.create(tools);
  counted.waitToRetry = (ms, next, error) => {
    run.emit("step.retrying", { stepId: label.id, stepType: label.type, attempt: next, error: errorText(error), delayMs: ms });
    attempt = next;
    return tools.waitToRetry(ms, next, error);
  };
  let outcome: StepOutcome;
  try {
    const returned = type.execute(step, state, counted);
    // A synchronous executor (most pure steps) costs no extra turn of the event loop.
    outcome = returned instanceof Promise ? await returned : returned;
    if (outcome.kind === "halt" && state.nested) {
      throw new ExecutionError(`Step "${step.id}" cannot halt inside a loop body or a parallel branch`, { stepId: step.id });
    }
    if (!BUILT_IN.has(type)) {
      if (outcome.ctx) outcome.ctx = toJson(outcome.ctx, `The ctx of step "${step.id}"`) as JsonObject;
      if (outcome.output !== undefined) outcome.output = toJson(outcome.output, `The output of step "${step.id}"`);
    }
    if (outcome.ctx) run.checkCtxSize(outcome.ctx, step.id, outcome.changed && { from: state.ctx, changed: outcome.changed });
  } catch (error) {
    if (error instanceof Yield) throw error;
    const text = errorText(error);
    const ended = run.nowMs();
    run.entry(label, "failed", startedAt, { error: text, attempt }, ended);
    run.emitStep("step.failed", label, ended, "error", text);
    return { ok: false, error };
  }
  const ended = run.nowMs();
  if (outcome.kind === "halt") {
    run.entry(label, "halted", startedAt, { output: outcome.data }, ended);
    run.emitStep("step.halted", label, ended, "output", outcome.data);
  } else {
    const output = outcome.output ?? null;
    const attempts = outcome.kind === "continue" ? outcome.attempt ?? attempt : attempt;
    run.entry(label, "completed", startedAt, { output, attempt: attempts }, ended);
    run.emitStep("step.completed", label, ended, "output", output);
    if (step.compensate !== undefined) recordCompensation(run, step, type, label, state, tools, outcome);
  }
  return { ok: true, outcome };
}
