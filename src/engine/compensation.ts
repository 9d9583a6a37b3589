/**
 * Compensation (sagas): a `call` or `http` step with `compensate:` stores its compensation, resolved, when it completes;
 * when the run fails (no `on_error` took over) or is cancelled, the compensations run newest first, each with its
 * attempts and a checkpoint after it, before the run ends `failed` or `cancelled` with `compensated: true|false`.
 */
import { errorText, ExecutionError } from "../errors.ts";
import type { StepRegistry } from "../steps/registry.ts";
import type { StepDefinition, StepState, StepTools, StepType } from "../steps/step.ts";
import type { Json, JsonObject } from "../types.ts";
import type { WorkflowDefinition } from "../definition/workflow.ts";
import type { Run } from "./run.ts";

/** Stores the compensation of a step that just completed, resolved against the ctx after it. */
export function recordCompensation(
  run: Run,
  step: StepDefinition,
  type: StepType,
  label: { id: string; type: string },
  state: StepState,
  tools: StepTools,
  outcome: { ctx?: JsonObject },
): void {
  if (!type.compensation) return;
  const key = `${state.idempotencyKey}:compensate`;
  const exec = run.exec;
  // A loop iteration run again after a takeover completes its steps again: their compensation is stored once.
  if (exec.compensations.some((item) => item.key === key)) return;
  let resolved: Json = null;
  let error: string | null = null;
  try {
    resolved = type.compensation.resolve(step, { ...state, ctx: outcome.ctx ?? state.ctx, idempotencyKey: key }, tools);
  } catch (cause) {
    error = `The compensation of step "${label.id}" could not be resolved: ${errorText(cause)}`;
  }
  exec.compensations = [
    ...exec.compensations,
    { stepId: label.id, stepType: step.type, key, compensate: step.compensate as JsonObject, resolved, error },
  ];
}

/**
 * Runs the stored compensations, newest first, each removed with a checkpoint once it ran (a takeover goes on with the
 * rest, re-sending the one in flight under the same key); one that fails after its retries leaves `ok` false and the
 * others still run. `tools` carry a signal of their own: compensations run past the workflow deadline.
 */
export async function runCompensations(run: Run, registry: StepRegistry, tools: StepTools): Promise<void> {
  const exec = run.exec;
  while (exec.compensations.length) {
    const item = exec.compensations[exec.compensations.length - 1]!;
    const label = { id: item.stepId, type: item.stepType };
    const started = run.nowMs();
    let attempt = 1;
    const own: StepTools = Object.create(tools);
    own.waitToRetry = (ms, next, error) => {
      run.emitRetrying(label, ms, next, error, { compensate: true });
      attempt = next;
      return tools.sleep(ms, tools.signal).then(() => undefined);
    };
    const state: StepState = {
      executionId: exec.id,
      workflowId: exec.workflowId,
      input: exec.input,
      ctx: exec.ctx,
      scope: item.key,
      idempotencyKey: item.key,
      nested: true,
    };
    try {
      const type = registry.get(item.stepType);
      if (item.error !== null) throw new ExecutionError(item.error, { stepId: item.stepId });
      if (!type?.compensation) throw new ExecutionError(`Step type "${item.stepType}" has no compensation`, { stepId: item.stepId });
      const step = { id: item.stepId, type: item.stepType, compensate: item.compensate };
      const output = await type.compensation.run(step, item.resolved, state, own);
      const ended = run.nowMs();
      run.entry(label, "compensated", started, { output, attempt }, ended);
      run.emitStep("step.compensated", label, ended, "output", output);
    } catch (error) {
      const text = errorText(error);
      const ended = run.nowMs();
      run.entry(label, "compensation_failed", started, { error: text, attempt }, ended);
      run.emitStep("step.compensation_failed", label, ended, "error", text);
      exec.compensating = { ...exec.compensating!, ok: false };
    }
    exec.compensations = exec.compensations.slice(0, -1);
    await run.checkpoint();
  }
  const { status, error, reason, ok } = exec.compensating!;
  Object.assign(exec, { status, error, compensated: ok, compensating: null, wakeAt: null, retry: null, loop: null, pinned: null });
  if (status === "failed") run.emit("workflow.failed", { error, compensated: ok });
  else run.emit("workflow.cancelled", { reason: reason ?? error, compensated: ok });
  await run.checkpoint();
}

const declared = new WeakMap<WorkflowDefinition, boolean>();

/** True when a step of the workflow (loop bodies and branches included) declares `compensate:`. */
export function hasCompensation(workflow: WorkflowDefinition): boolean {
  let found = declared.get(workflow);
  if (found === undefined) declared.set(workflow, found = anyCompensate(workflow.steps));
  return found;
}

function anyCompensate(steps: readonly StepDefinition[]): boolean {
  return steps.some((step) =>
    step.compensate !== undefined ||
    ["do", "branches"].some((key) => Array.isArray(step[key]) && anyCompensate(step[key] as StepDefinition[]))
  );
}
