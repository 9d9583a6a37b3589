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
import type { StepSpan } from "./tracing.ts";

const BUILT_IN: ReadonlySet<StepType> = new Set(BUILT_IN_STEP_TYPES);

type Outcome<K extends StepOutcome["kind"]> = Extract<StepOutcome, { kind: K }>;

/**
 * How a step ended, the one thing the drive loop and the nested runner switch on: `done` (go on at `next`), `halt`,
 * `wait-until` (a `wait` step: go on at its `next` once `until` passed; or `again`: the step runs again in a
 * continuation, at `attempt`, not before `until`), `fail` (the step's error, caught).
 */
export type StepEnd =
  | { kind: "done"; outcome: Outcome<"continue"> }
  | { kind: "halt"; outcome: Outcome<"halt"> }
  | { kind: "wait-until"; until: string; outcome: Outcome<"wait"> }
  | { kind: "wait-until"; until: string | undefined; again: { attempt: number | undefined; endSpan: () => void } }
  | { kind: "fail"; error: unknown };

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
 * Executes `step` (recorded as `label`, e.g. `<loop>:<body step>`) and records its entry and events; a step error is
 * returned as `fail`. `tools.waitToRetry` is wrapped so that every retry emits `step.retrying` and the entry records
 * the last attempt; only built-in steps (which return `runAgain` for it) may have a wait scheduled instead of slept.
 */
export async function executeStep(
  run: Run,
  step: StepDefinition,
  type: StepType,
  label: { id: string; type: string },
  state: StepState,
  tools: StepTools,
): Promise<StepEnd> {
  const startedAt = run.nowMs();
  let attempt = state.retryAttempt ?? 1;
  run.emitStep("step.started", label, startedAt);
  const span = run.trace?.startStep(label, state.nested);
  if (span) state = { ...state, traceparent: span.traceparent };
  // The step's own view of the tools: the same object underneath, with its retries counted and announced.
  const counted: StepTools = { ...tools };
  counted.waitToRetry = (ms, next, error) => {
    const data = run.emitRetrying(label, ms, next, error);
    span?.event("step.retrying", data);
    attempt = next;
    return BUILT_IN.has(type) ? tools.waitToRetry(ms, next, error) : tools.sleep(ms, tools.signal).then(() => undefined);
  };
  let outcome: StepOutcome;
  try {
    const returned = type.execute(step, state, counted);
    // A synchronous executor (most pure steps) costs no extra turn of the event loop.
    outcome = returned instanceof Promise ? await returned : returned;
    if ((outcome.kind === "halt" || outcome.kind === "again") && state.nested) {
      const what = outcome.kind === "halt" ? "halt" : "end the call";
      throw new ExecutionError(`Step "${step.id}" cannot ${what} inside a loop body or a parallel branch`, { stepId: step.id });
    }
    if (!BUILT_IN.has(type) && outcome.kind !== "again") {
      if (outcome.ctx) outcome.ctx = toJson(outcome.ctx, `The ctx of step "${step.id}"`) as JsonObject;
      if (outcome.output !== undefined) outcome.output = toJson(outcome.output, `The output of step "${step.id}"`);
    }
    if (outcome.kind !== "again" && outcome.ctx) {
      run.checkCtxSize(outcome.ctx, step.id, outcome.changed && { from: state.ctx, changed: outcome.changed });
    }
  } catch (error) {
    const text = errorText(error);
    const ended = run.nowMs();
    run.entry(label, "failed", startedAt, { error: text, attempt }, ended);
    run.emitStep("step.failed", label, ended, "error", text);
    if (span || run.meter) observe(run, span, label, "failed", startedAt, ended, attempt, text);
    return { kind: "fail", error };
  }
  if (outcome.kind === "again") {
    // The span ends once the checkpoint that ends the call is stored (its store requests are the step's).
    const endSpan = () => span && run.trace!.endStep(span, "yielded", outcome.attempt ?? attempt);
    return { kind: "wait-until", until: outcome.until, again: { attempt: outcome.attempt, endSpan } };
  }
  const ended = run.nowMs();
  if (outcome.kind === "halt") {
    run.entry(label, "halted", startedAt, { output: outcome.data }, ended);
    run.emitStep("step.halted", label, ended, "output", outcome.data);
    if (span || run.meter) observe(run, span, label, "halted", startedAt, ended, attempt);
    return { kind: "halt", outcome };
  }
  const output = outcome.output ?? null;
  const attempts = outcome.kind === "continue" ? outcome.attempt ?? attempt : attempt;
  run.entry(label, "completed", startedAt, { output, attempt: attempts }, ended);
  run.emitStep("step.completed", label, ended, "output", output);
  if (step.compensate !== undefined) recordCompensation(run, step, type, label, state, tools, outcome);
  if (span || run.meter) observe(run, span, label, "completed", startedAt, ended, attempts);
  return outcome.kind === "wait" ? { kind: "wait-until", until: outcome.until, outcome } : { kind: "done", outcome };
}

/** Ends the step's span and records its duration and attempts (called only when an SDK is wired). */
function observe(
  run: Run,
  span: StepSpan | undefined,
  label: { id: string; type: string },
  outcome: string,
  startedAt: number,
  ended: number,
  attempt: number,
  error?: string,
): void {
  if (span) run.trace!.endStep(span, outcome, attempt, error);
  const meter = run.meter;
  if (!meter) return;
  meter.stepDuration.record(Math.max(0, ended - startedAt), { "step.type": label.type, "step.outcome": outcome });
  meter.stepAttempts.record(attempt, { "step.type": label.type });
}
