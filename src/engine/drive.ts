/**
 * The drive loop: runs the steps of one claimed execution, each ending one way (execute-step.ts's StepEnd) that the
 * loop switches on, until the call ends — completed, failed, halted, or pending for a continuation.
 */
import { ConflictError, errorText, ExecutionError, LeaseLostError, WorkflowTimeoutError } from "../errors.ts";
import { toLog } from "../log.ts";
import type { Condition } from "../expressions/conditions.ts";
import { eventMatches, type SentEvent } from "../expressions/events.ts";
import { FINISHED, type StepDefinition, type StepState } from "../steps/step.ts";
import type { EventWait } from "../store/store.ts";
import { type ExecutionResult, isTerminal, type JsonObject } from "../types.ts";
import { release, stepRate } from "./admission.ts";
import { runCompensations } from "./compensation.ts";
import { type EngineCore, eventWaitOf, receivedRecord, resultOf, timeoutError, yielded } from "./core.ts";
import { markStored } from "./definitions.ts";
import { executeStep, lastError, type StepEnd, stepTypeOf } from "./execute-step.ts";
import type { Run } from "./run.ts";
import { stepTools, toolsAt } from "./tools.ts";
import { stepsOnCycles, visitOf } from "./visits.ts";

/**
 * Drives a run whose claim is stored (the caller's input or answer applied): a race lost later on (a cancel, a
 * takeover after a lost lease) answers what is stored now instead of a ConflictError.
 */
export async function driveApplied(core: EngineCore, run: Run): Promise<ExecutionResult> {
  try {
    return await drive(core, run);
  } catch (error) {
    if (!(error instanceof ConflictError) || !run.claimed) throw error;
    return resultOf(await core.loadOwn(run.exec.id));
  }
}

/** Drives a run; a call that leaves `running` for good (ended, halted, waiting for a time) frees its flow slot. */
export async function drive(core: EngineCore, run: Run): Promise<ExecutionResult> {
  const result = await driveSteps(core, run);
  const exec = run.exec;
  const waiting = exec.status === "halted" || (exec.status === "pending" && exec.wakeAt !== null);
  return isTerminal(exec.status) || waiting ? await release(core, run, result) : result;
}

/** The drive loop: steps until the call ends. */
async function driveSteps(core: EngineCore, run: Run): Promise<ExecutionResult> {
  const exec = run.exec;
  let cancelTimer: (() => void) | undefined;
  if (exec.deadline) {
    const left = Date.parse(exec.deadline) - core.clock.now().getTime();
    cancelTimer = core.clock.setTimer(Math.max(0, left), () => run.abort.abort(timeoutError(run)));
  }
  try {
    if (exec.compensating) return await compensate(core, run);
    while (exec.recoverTo && exec.recoverTo !== FINISHED) {
      if (run.pastDeadline()) {
        return await fail(core, run, timeoutError(run));
      }
      const step = run.steps.get(exec.recoverTo);
      // The budget bounds the time spent in side effects: a pure step (start, assign, end) never takes a delivery of its own.
      if (core.budgetUsed(run) && run.claimed && !run.storeClaimed && run.stepsRun > 0 && !(step && core.registry.get(step.type)?.pure)) {
        return await pause(run);
      }
      if (!step) {
        return await fail(core, run, new ExecutionError(`Step "${exec.recoverTo}" does not exist in workflow "${exec.workflowId}"`));
      }
      const ended = await runTopLevel(core, run, step);
      if (ended) return ended;
      // A cancel landed while the step ran and this worker took it on (Run.renew): the claim first, then the undoing.
      if (exec.compensating) {
        await run.checkpoint();
        return await compensate(core, run);
      }
    }
    return await complete(run);
  } catch (error) {
    if (error instanceof LeaseLostError) {
      toLog(core.options.log).warn("worker lost its lease: it stops, the run goes on where the store has it", {
        executionId: exec.id,
        workflowId: exec.workflowId,
        step: exec.currentStep ?? undefined,
        error: error.message,
      });
    }
    const joined = error instanceof ConflictError && run.claimed ? await joinCancel(core, run) : null;
    if (joined) return await drive(core, joined);
    throw error;
  } finally {
    cancelTimer?.();
    if (run.claimed) markStored(core.store, exec.workflowHash);
  }
}

/** Ends this call at a checkpoint, the execution `pending` (at `wakeAt`, when given) for a continuation. */
async function pause(run: Run, wakeAt: string | null = null): Promise<ExecutionResult> {
  run.exec.status = "pending";
  run.exec.wakeAt = wakeAt;
  await run.checkpoint();
  return yielded(run, wakeAt ?? undefined);
}

/** Runs one top-level step; returns a result when the call ends (completed, halted, failed, pending), else undefined. */
async function runTopLevel(core: EngineCore, run: Run, step: StepDefinition): Promise<ExecutionResult | undefined> {
  const exec = run.exec;
  let type;
  try {
    run.countStep();
    type = stepTypeOf(core.registry, step);
  } catch (error) {
    return await fail(core, run, error);
  }
  // A step's rate: its turn comes before the fence, so the claim is checked after the wait.
  if (step.rate) {
    const notBefore = await stepRate(core, run, step, `${exec.id}:${step.id}`, true);
    if (notBefore) return await pause(run, notBefore);
  }
  // Before a side effect: the claim must be live by this worker's clock, and stored with every step run since
  // the last checkpoint (a step that pins a value stores it with its own checkpoint, and fences after it).
  if (!type.pure) {
    const checkpointDue = !type.pins && (!run.claimed || run.unsaved > run.replayed);
    if (checkpointDue) await run.checkpointBefore(step.id);
    else await run.fence(step.id);
    run.storeClaimed = false;
  }
  exec.currentStep = step.id;
  const cursor = exec.loop && exec.loop.stepId === step.id ? exec.loop : null;
  const ctxBefore = cursor ? cursor.before : exec.ctx;
  const resumed = run.resumed && run.resumed.stepId === step.id ? { haltData: run.resumed.haltData } : undefined;
  run.resumed = undefined;
  const state: StepState = {
    executionId: exec.id,
    workflowId: exec.workflowId,
    input: exec.input,
    ctx: exec.ctx,
    scope: `${exec.id}:${step.id}`,
    idempotencyKey: `${exec.id}:${step.id}:${visitOf(exec, step.id)}`,
    nested: false,
    resumed,
    loop: cursor,
    retryAttempt: exec.retry && exec.retry.stepId === step.id ? exec.retry.attempt : undefined,
  };
  const stopHeartbeat = type.pure ? undefined : run.heartbeat();
  const unsaved = run.unsaved;
  let end: StepEnd;
  try {
    end = await executeStep(run, step, type, step, state, toolsAt(core, run, run.signal, step, ctxBefore, exec.ctx, "top"));
  } finally {
    stopHeartbeat?.();
  }
  if (type.replayable) run.replayed += run.unsaved - unsaved;
  if (end.kind === "wait-until" && "again" in end) {
    // The step runs again in a continuation: its loop cursor and pinned values stay, a call goes on at its attempt.
    try {
      if (run.lost) throw run.lost;
      if (end.again.attempt !== undefined) exec.retry = { stepId: step.id, attempt: end.again.attempt };
      return await pause(run, end.until ?? null);
    } finally {
      end.again.endSpan();
    }
  }
  if (run.lost) throw run.lost;
  exec.loop = null;
  exec.retry = null;
  if (!type.pure) {
    if (stepsOnCycles(run.workflow, core.registry).has(step.id)) {
      exec.visits = { ...exec.visits, [step.id]: (exec.visits[step.id] ?? 0) + 1 };
    }
    exec.pinned = null;
  }
  switch (end.kind) {
    case "fail": {
      const error = end.error;
      if (error instanceof ConflictError) throw error;
      run.setCtx(ctxBefore);
      if (!step.on_error || error instanceof WorkflowTimeoutError || run.signal.aborted) return await fail(core, run, error);
      run.setCtx({ ...ctxBefore, _last_error: lastError(step.id, error) });
      exec.recoverTo = step.on_error;
      return undefined;
    }
    case "halt": {
      const outcome = end.outcome;
      if (outcome.ctx) run.setCtx(outcome.ctx, outcome.changed);
      exec.status = "halted";
      exec.haltData = outcome.data;
      exec.recoverTo = outcome.resumeStep ?? step.next ?? FINISHED;
      exec.wakeAt = outcome.wakeAt ?? null;
      const halted = resultOf(exec);
      run.emit("workflow.halted", { halt: halted.halt as unknown as JsonObject });
      const wait = eventWaitOf(outcome.data);
      const committed = await run.checkpoint(wait);
      const event = wait && (committed.event ?? await claimCandidate(core, exec.id, wait, committed.candidates));
      if (!event) return halted;
      // The event was sent before the wait began (within its lookback): the run goes on at once.
      run.resumed = { stepId: step.id, haltData: exec.haltData };
      Object.assign(exec, { status: "running", haltData: null, wakeAt: null });
      run.setCtx({ ...exec.ctx, response: receivedRecord(event) }, ["response"]);
      run.emit("event.received", { event: event.name, eventId: event.id, stepId: step.id, ...(event.actor ? { actor: event.actor } : {}) });
      await run.checkpoint();
      return undefined;
    }
    case "wait-until":
    case "done": {
      const outcome = end.outcome;
      if (outcome.ctx) run.setCtx(outcome.ctx, outcome.changed);
      exec.recoverTo = outcome.next ?? step.next ?? FINISHED;
      return end.kind === "wait-until" ? await wait(core, run, end.until) : undefined;
    }
  }
}

/** The first buffered event (in send order) that an unindexed wait's match accepts, handed to this execution. */
async function claimCandidate(core: EngineCore, executionId: string, wait: EventWait, candidates: SentEvent[] = []) {
  for (const event of candidates) {
    if (eventMatches(wait.match as Condition | null, event.payload) && await core.store.claimEvent(executionId, wait.waitId, event)) {
      return event;
    }
  }
  return undefined;
}

/** A `wait` step: a short wait is slept; a longer one ends the call with the execution pending until then. */
async function wait(core: EngineCore, run: Run, until: string): Promise<ExecutionResult | undefined> {
  const ms = Date.parse(until) - core.clock.now().getTime();
  if (ms <= 0) return undefined;
  if (ms <= core.maxInlineWaitMs) {
    await core.clock.sleep(ms, run.signal).catch(() => undefined);
    return undefined;
  }
  return await pause(run, until);
}

async function complete(run: Run): Promise<ExecutionResult> {
  const exec = run.exec;
  exec.status = "completed";
  exec.recoverTo = null;
  exec.wakeAt = null;
  if (exec.compensations.length) exec.compensations = [];
  exec.result = Object.hasOwn(exec.ctx, "result") ? exec.ctx.result! : null;
  run.emit("workflow.completed", { output: exec.result });
  await run.checkpoint();
  return resultOf(exec);
}

async function fail(core: EngineCore, run: Run, error: unknown): Promise<ExecutionResult> {
  const exec = run.exec;
  exec.error = errorText(error);
  exec.loop = null;
  exec.wakeAt = null;
  if (exec.compensating) {
    // A cancel this worker took on while the step ran (Run.renew): the run ends cancelled, as the cancel said.
    exec.error = exec.compensating.error;
    await run.checkpoint();
    return await compensate(core, run);
  }
  if (exec.compensations.length) {
    exec.compensating = { status: "failed", error: exec.error, reason: null, ok: true, cancelRevision: null };
    run.emit("workflow.compensating", { status: "failed", error: exec.error });
    await run.checkpoint();
    return await compensate(core, run);
  }
  exec.status = "failed";
  run.emit("workflow.failed", { error: exec.error });
  await run.checkpoint();
  return resultOf(exec);
}

/** Runs the compensations of a failed or cancelled run (compensation.ts), on a signal the workflow deadline does not abort. */
async function compensate(core: EngineCore, run: Run): Promise<ExecutionResult> {
  const ctx = run.exec.ctx;
  const tools = stepTools(core, run, new AbortController().signal, { top: { id: "", type: "" }, ctxBefore: ctx, ctx });
  await runCompensations(run, core.registry, tools);
  return resultOf(run.exec);
}

/**
 * After this worker's checkpoint lost: when the only commit since its last one is a cancel that left the compensations
 * to the lease holder (and nothing was committed after it: no takeover), the run goes on from the cancelled execution, with
 * the compensations of the steps this worker completed meanwhile added (and their entries and events). Null otherwise (the
 * ConflictError stands).
 */
async function joinCancel(core: EngineCore, run: Run): Promise<Run | null> {
  const stored = await run.cancelToJoin();
  if (!stored) return null;
  const joined = core.newRun(stored, run.workflow, true);
  joined.adopt(run);
  // The claim is stored before any compensation runs: a worker that took the run over meanwhile wins here.
  await joined.checkpoint();
  return joined;
}
