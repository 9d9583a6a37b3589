/**
 * Flow control in the engine: admission of a run to its workflow's `concurrency` / `rate` (and the slot's release),
 * debounced starts, and a step's own `rate`. The store keeps the counts (flow.ts).
 */
import { ConflictError } from "../errors.ts";
import type { WorkflowDefinition } from "../definition/workflow.ts";
import type { DebounceSpec, RateSpec } from "../steps/flow.ts";
import type { StepDefinition } from "../steps/step.ts";
import type { Execution, ExecutionResult } from "../types.ts";
import { type EngineCore, resultOf } from "./core.ts";
import { acquireRequest, flowKey, flowStoreOf, waitingText } from "./flow.ts";
import type { Run } from "./run.ts";

/**
 * Debounce: a start within `period` of the previous one with the same key replaces the input of the run that
 * has not started yet (the last input wins) and pushes its start back, never past `max` after the first start;
 * the answer is that run. A start after that run began (or ended) makes a new one.
 */
export async function debounce(core: EngineCore, exec: Execution, debounce: DebounceSpec): Promise<Execution> {
  const flow = flowStoreOf(core.store);
  const request = { workflowId: exec.workflowId, key: flowKey(debounce.key, exec.input), executionId: exec.id };
  const now = core.clock.now().getTime();
  let current: string | undefined = await flow.flowDebounce(request);
  for (let attempt = 0; attempt < 10; attempt++) {
    if (current === exec.id) {
      const latest = now + (debounce.max ?? Infinity) * 1000;
      exec.wakeAt = new Date(Math.min(now + debounce.period * 1000, latest)).toISOString();
      if (Number.isFinite(latest)) exec.flow = { ...exec.flow, latest: new Date(latest).toISOString() };
      return await core.createPending(exec);
    }
    const gathering = current ? await core.store.load(current) : null;
    if (gathering && gathering.status === "pending" && gathering.stepsExecuted === 0 && gathering.workflowId === exec.workflowId) {
      const run = core.newRun(gathering, core.workflow, true);
      const latest = gathering.flow?.latest ? Date.parse(gathering.flow.latest) : Infinity;
      Object.assign(gathering, {
        input: exec.input,
        wakeAt: new Date(Math.min(now + debounce.period * 1000, latest)).toISOString(),
      });
      try {
        await run.checkpoint();
        return gathering;
      } catch (error) {
        if (!(error instanceof ConflictError)) throw error;
        continue; // it started (or took another input) meanwhile: look again
      }
    }
    current = (await flow.flowDebounce({ ...request, ...(current ? { expected: current } : {}) })) || undefined;
  }
  throw new ConflictError(`Debounce of workflow "${exec.workflowId}" key ${request.key}: too many concurrent starts, try again`);
}

/**
 * Asks the store for a slot (and a start under `rate`). Admitted: undefined, the execution marked so. Refused:
 * the execution stays pending (or halted, keeping `answer` for its resume) with why it waits, and the call ends
 * — a released slot starts it; a rate wait asks for a continuation at the time the rate allows.
 */
export async function admit(
  core: EngineCore,
  exec: Execution,
  workflow: WorkflowDefinition,
  answer?: Execution["answer"],
): Promise<ExecutionResult | undefined> {
  const now = core.clock.now().getTime();
  const admission = await flowStoreOf(core.store).flowAcquire(acquireRequest(workflow, exec, now, core.leaseMs));
  if (admission.admitted) {
    const { waiting: _, ...mark } = exec.flow ?? {};
    exec.flow = { ...mark, admitted: true };
    return undefined;
  }
  const waiting = waitingText(admission);
  const wakeAt = admission.reason === "rate" ? new Date(admission.retryAt).toISOString() : exec.status === "halted" ? exec.wakeAt : null;
  const first = exec.flow?.waiting === undefined;
  if (exec.flow?.waiting !== waiting || exec.wakeAt !== wakeAt || (answer && !exec.answer)) {
    const run = core.newRun(exec, workflow, true);
    Object.assign(exec, { flow: { ...exec.flow, waiting }, wakeAt, ...(answer && !exec.answer ? { answer } : {}) });
    if (first) run.emit("flow.queued", { reason: admission.reason, key: admission.key, waiting });
    await run.checkpoint();
  }
  const result = resultOf(exec);
  return result.status === "pending" && wakeAt ? { ...result, yielded: true, notBefore: wakeAt } : result;
}

/** After a call leaves `running` for good (ended, halted, waiting for a time): frees the slot; the result names the waiters to start. */
export async function release(core: EngineCore, run: Run, result: ExecutionResult): Promise<ExecutionResult> {
  const workflow = run.workflow;
  if (!core.gated(workflow) || !workflow.concurrency) return result;
  const exec = run.exec;
  const start = await flowStoreOf(core.store).flowRelease({
    workflowId: exec.workflowId,
    executionId: exec.id,
    now: core.clock.now().getTime(),
    concurrency: { key: flowKey(workflow.concurrency.key, exec.input), limit: workflow.concurrency.limit },
    staleMs: core.leaseMs,
  });
  return start.length ? { ...result, flowStart: start } : result;
}

/**
 * A step's `rate` (a service's quota, across all executions): waits for its turn before the call. A wait the
 * engine would not sleep in process (over `maxInlineWaitMs`) is not waited: its end (ISO) is returned, for a
 * top-level call to end `pending` until then.
 */
export async function stepRate(
  core: EngineCore,
  run: Run,
  step: StepDefinition,
  scope: string,
  topLevel: boolean,
  signal = run.signal,
): Promise<string | undefined> {
  const rate = step.rate as RateSpec;
  const exec = run.exec;
  const key = `step:${step.id}:${flowKey(rate.key, exec.input)}`;
  const member = `${scope}:${exec.stepsExecuted}`;
  for (;;) {
    const now = core.clock.now().getTime();
    const admission = await flowStoreOf(core.store).flowAcquire({
      workflowId: exec.workflowId,
      executionId: exec.id,
      now,
      order: now,
      staleMs: core.leaseMs,
      rate: { key, limit: rate.limit, periodMs: rate.period * 1000, member },
    });
    if (admission.admitted || admission.reason !== "rate") return undefined;
    const wait = admission.retryAt - now;
    if (topLevel && run.claimed && wait > core.maxInlineWaitMs) return new Date(admission.retryAt).toISOString();
    await core.clock.sleep(wait, signal);
  }
}
