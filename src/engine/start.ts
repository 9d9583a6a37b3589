/**
 * Starting and going on: a run from its input (run, prepare, debounced or admitted first), a pending or taken-over
 * execution continued, a halted one resumed with its answer. Each claims the execution and hands the run to drive.ts.
 */
import { checkResumeAnswer } from "../definition/answer.ts";
import { applyInputRules } from "../definition/inputs.ts";
import { ConflictError } from "../errors.ts";
import { assertExecutionId } from "../ids.ts";
import { deepEqual, isPlainObject, setOwn } from "../json.ts";
import { type Execution, type ExecutionResult, isDue, type JsonObject, newExecution } from "../types.ts";
import { admit, debounce } from "./admission.ts";
import { type EngineCore, eventWaitOf, leaseExpiry, resultOf } from "./core.ts";
import { startLabels } from "./labels.ts";
import { drive, driveApplied } from "./drive.ts";
import { changeHalt } from "./operator.ts";
import { Run } from "./run.ts";
import { claimedAs, type ClaimRequest, CurrentVersionChangedError } from "../store/store.ts";
import { type SegmentTrace, startTrace } from "./tracing.ts";

/**
 * Starts a run. The input rules are applied before anything is stored. An existing `pending` execution
 * is claimed and run; any other existing execution is returned as it is (idempotent start), unless it was
 * started with another input (ConflictError).
 */
export interface RunOptions {
  executionId?: string;
  deadline?: string | null;
  traceparent?: string;
  labels?: Record<string, string>;
  /** As PrepareOptions.checkCurrent: the run's first commit checks that this engine's definition is the current version. */
  checkCurrent?: boolean;
}

export async function startRun(core: EngineCore, input: unknown, options: RunOptions = {}): Promise<ExecutionResult> {
  if (core.gated(core.workflow) || (core.options.flowControl !== false && core.workflow.debounce)) {
    // Admission (and debouncing) come before the claim: the run is stored pending first, like an async start.
    const stored = await prepare(core, input, {
      executionId: options.executionId,
      traceparent: options.traceparent,
      labels: options.labels,
      checkCurrent: options.checkCurrent,
    });
    return stored.status === "pending" ? await continueRun(core, stored.id, { loaded: stored }) : resultOf(stored);
  }
  const checked = applyInputRules(core.workflow, input ?? {});
  const exec = freshExecution(core, checked, options.executionId ?? core.ids(), options.deadline, options.traceparent, options.labels);
  const run = core.newRun(exec, core.workflow, false, options.checkCurrent);
  run.emit("workflow.started", { workflowId: core.workflow.id, input: checked });
  run.trace = core.startSegment(exec, "run");
  try {
    return await core.within(run.trace, () => driveApplied(core, run));
  } catch (error) {
    if (!(error instanceof ConflictError) || error instanceof CurrentVersionChangedError || run.claimed) throw error;
    const existing = await existingFor(core, exec, error);
    if (existing.status === "pending") return await continueRun(core, exec.id);
    return resultOf(existing);
  }
}

/**
 * Saves a new `pending` execution (the async runner's first step) after checking the input; an id that
 * already exists with the same input is left alone (idempotent). Returns the execution as stored. `traceparent`:
 * the start request's, the parent of the execution's trace.
 */
export interface PrepareOptions {
  executionId?: string;
  trigger?: JsonObject;
  priority?: number;
  traceparent?: string;
  labels?: Record<string, string>;
  /**
   * Saves only while this engine's definition is the workflow's current version in the store (else a
   * CurrentVersionChangedError, nothing saved): the caller's check that it starts new runs on the current version,
   * in the save's own request.
   */
  checkCurrent?: boolean;
}

export async function prepare(core: EngineCore, input: unknown, options: PrepareOptions = {}): Promise<Execution> {
  const checked = applyInputRules(core.workflow, input ?? {});
  const exec = freshExecution(core, checked, options.executionId ?? core.ids(), undefined, options.traceparent, options.labels);
  exec.status = "pending";
  if (options.priority !== undefined) exec.flow = { priority: options.priority };
  if (core.options.flowControl !== false && core.workflow.debounce) {
    if (options.checkCurrent && (await core.store.currentDefinition(exec.workflowId))?.hash !== core.workflow.hash) {
      throw new CurrentVersionChangedError(exec.workflowId, core.workflow.hash);
    }
    return await debounce(core, exec, core.workflow.debounce);
  }
  // A run started by a trigger tells which one in its first event.
  const events = options.trigger
    ? [{
      seq: ++exec.eventSeq,
      type: "workflow.triggered" as const,
      data: { executionId: exec.id, workflowId: exec.workflowId, trigger: options.trigger },
      timestamp: exec.createdAt,
    }]
    : [];
  try {
    return await core.createPending(exec, { events, ...(options.checkCurrent ? { currentHash: core.workflow.hash } : {}) });
  } catch (error) {
    if (!(error instanceof ConflictError) || error instanceof CurrentVersionChangedError) throw error;
    return await existingFor(core, exec, error);
  }
}

/** The execution stored under a new execution's id: same workflow and input, or a ConflictError naming the id. */
async function existingFor(core: EngineCore, exec: Execution, conflict: ConflictError): Promise<Execution> {
  const existing = await core.store.load(exec.id);
  if (!existing) throw conflict;
  if (existing.workflowId !== exec.workflowId) {
    throw new ConflictError(`Execution "${exec.id}" already exists for workflow "${existing.workflowId}", not "${exec.workflowId}"`);
  }
  if (!deepEqual(existing.input, exec.input)) {
    throw new ConflictError(
      `Execution "${exec.id}" already exists with a different input: start it with the same input, or use another executionId`,
    );
  }
  return existing;
}

function freshExecution(
  core: EngineCore,
  input: JsonObject,
  id: string,
  deadlineOverride: string | null | undefined,
  traceparent: string | undefined,
  labels: Record<string, string> | undefined,
): Execution {
  assertExecutionId(id);
  const now = core.clock.now();
  const deadline = deadlineOverride !== undefined ? deadlineOverride : core.deadlineFrom(now, core.workflow);
  const exec = newExecution({
    id,
    workflowId: core.workflow.id,
    workflowVersion: core.workflow.version,
    workflowHash: core.workflow.hash,
    status: "running",
    input,
    recoverTo: core.workflow.steps[0]!.id,
    createdAt: now.toISOString(),
    deadline,
    labels: startLabels(core.workflow, input, labels, now),
  });
  const trace = startTrace(exec, traceparent);
  if (trace) exec.trace = trace;
  return exec;
}

/**
 * Runs on a `pending` execution (saved by the async runner, left by a yield, waiting for a time), or takes
 * over a `running` one whose lease has expired. A pending execution whose `wakeAt` is still ahead is left
 * alone: `{ status: "pending", yielded: true, notBefore }`.
 */
export async function continueRun(core: EngineCore, executionId: string, options: ContinueOptions = {}): Promise<ExecutionResult> {
  const claim = options.claimed;
  if (claim) {
    return await continueClaimed(core, await core.loadOwn(executionId, claimedAs(claim.execution, claim.request, claim.revision)), claim);
  }
  const exec = await core.loadOwn(executionId, options.loaded);
  const now = core.clock.now().getTime();
  if (exec.status === "running") {
    const lease = leaseExpiry(exec, core.leaseMs);
    if (lease > now) {
      throw new ConflictError(`Execution "${executionId}" is running under a live lease until ${new Date(lease).toISOString()}`);
    }
  } else if (exec.status !== "pending") {
    throw new ConflictError(`Execution "${executionId}" is ${exec.status}, not pending: it cannot be continued`);
  } else if (!isDue(exec, now)) {
    return { status: "pending", executionId, yielded: true, notBefore: exec.wakeAt! };
  }
  const workflow = await core.pinned(exec);
  const waited = exec.flow?.waiting !== undefined;
  if (core.gated(workflow)) {
    const queued = await admit(core, exec, workflow);
    if (queued) return queued;
  }
  const run = core.newRun(exec, workflow, true);
  run.takeover = exec.status === "running";
  exec.status = "running";
  exec.wakeAt = null;
  return await goOn(core, run, waited, async () => {
    // The claim travels with the first checkpoint, made before the first side effect (drive.ts): the pure steps run
    // before it (a run that loses the race discards them) and their entries share its request. Compensations are
    // side effects from the start: claimed first.
    if (exec.compensating) await run.checkpoint();
    else run.claimed = false;
    return await drive(core, run);
  });
}

/** Continue's options: `loaded`, the execution as the caller read it; `claimed`, a claim the store made with its read. */
export interface ContinueOptions {
  loaded?: Execution;
  claimed?: StoreClaim;
}

/**
 * A claim made by the store with its load (Store.claim): the execution as it was read, the request and the revision,
 * and when it was sent (monotonicMs).
 */
export interface StoreClaim {
  execution: Execution;
  request: ClaimRequest;
  revision: number;
  sentAt: number;
}

/** Continues an execution the store claimed with its load: pending, due, outside flow control (Store.claim's rule). */
async function continueClaimed(core: EngineCore, exec: Execution, claim: StoreClaim): Promise<ExecutionResult> {
  const run = core.newRun(exec, await core.pinned(exec), true);
  run.claimedByStore(claim.sentAt);
  return await goOn(core, run, false, () => drive(core, run));
}

/** The events and the segment of a continued run, then `work` (its claim and drive). */
function goOn(core: EngineCore, run: Run, waited: boolean, work: () => Promise<ExecutionResult>): Promise<ExecutionResult> {
  const exec = run.exec;
  // Never started before: its only events can be `workflow.triggered` (a trigger started it) and `flow.queued`.
  if (exec.stepsExecuted === 0 && exec.eventSeq <= 1 + (waited ? 1 : 0)) {
    run.emit("workflow.started", { workflowId: exec.workflowId, input: exec.input });
  }
  if (waited) run.emit("flow.started", {});
  run.trace = core.startSegment(exec, "continue");
  return core.within(run.trace, work);
}

/**
 * Resumes a halted execution: `response` goes to `ctx.response`, `approved` to `ctx.approved`, and the run
 * continues at `recoverTo`. Only a halted execution resumes (ConflictError otherwise; also when
 * `expectedRevision` is given and the halt is another one); the halted → running transition is a
 * compare-and-set, so concurrent resumes run it once. A bad answer is a ValidationError and changes nothing.
 */
export async function resume(
  core: EngineCore,
  executionId: string,
  options: { response?: unknown; approved?: unknown; expectedRevision?: number; loaded?: Execution; actor?: string } = {},
): Promise<ExecutionResult> {
  const answer = checkResumeAnswer(options);
  // One span for the claim (retried or not) and the run that follows.
  let segment: SegmentTrace | undefined;
  const claim = changeHalt(core, executionId, options, async (exec) => {
    const workflow = await core.pinned(exec);
    const waited = exec.flow?.waiting !== undefined;
    if (core.gated(workflow)) {
      // Without a slot the answer is kept (as `accept` does) and the run waits, ahead of new starts.
      const queued = await admit(core, exec, workflow, answer);
      if (queued) return queued;
    }
    // The run is made from the execution as stored, so its first checkpoint writes what the resume changes.
    const run = core.newRun(exec, workflow, true);
    run.trace = segment ??= core.startSegment(exec, "resume");
    if (waited) run.emit("flow.started", {});
    const actor = options.actor ?? exec.answer?.actor;
    const ctx = { ...exec.ctx };
    if (answer.response !== undefined) setOwn(ctx, "response", answer.response);
    if (answer.approved !== undefined) ctx.approved = answer.approved;
    run.setCtx(ctx, ["response", "approved"]);
    if (exec.currentStep) run.resumed = { stepId: exec.currentStep, haltData: exec.haltData };
    const eventWait = exec.haltData && eventWaitOf(exec.haltData);
    Object.assign(exec, { status: "running", haltData: null, wakeAt: null, answer: null });
    run.actor = actor;
    run.emit("workflow.resumed", actor ? { actor } : {});
    if (eventWait && isPlainObject(answer.response) && typeof answer.response.name === "string") {
      const { name, id, actor: sender } = answer.response;
      run.emit("event.received", {
        event: name,
        eventId: id ?? null,
        stepId: exec.currentStep,
        ...(typeof sender === "string" ? { actor: sender } : {}),
      });
    }
    await run.checkpoint();
    return run;
  });
  let claimed: Run | ExecutionResult;
  try {
    claimed = await claim;
  } catch (error) {
    segment?.end(undefined, error);
    throw error;
  }
  if (!(claimed instanceof Run)) {
    segment?.end(claimed);
    return claimed;
  }
  const run = claimed;
  return await core.within(segment, () => driveApplied(core, run));
}
