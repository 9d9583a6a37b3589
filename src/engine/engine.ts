import { checkResumeAnswer } from "../definition/answer.ts";
import { applyInputRules } from "../definition/inputs.ts";
import { assertExecutionId } from "../ids.ts";
import type { WorkflowDefinition } from "../definition/workflow.ts";
import { ConflictError } from "../errors.ts";
import { deepEqual, isPlainObject, setOwn } from "../json.ts";
import type { StepRegistry } from "../steps/registry.ts";
import type { Store } from "../store/store.ts";
import { type Execution, type ExecutionResult, isDue, type JsonObject, newExecution, type Services } from "../types.ts";
import { admit, debounce } from "./admission.ts";
import type { Clock } from "./clock.ts";
import { EngineCore, type EngineOptions, eventWaitOf, leaseExpiry, resultOf } from "./core.ts";
import { definitionToPin, markStored } from "./definitions.ts";
import { drive, driveApplied } from "./drive.ts";
import { accept, cancel, changeHalt, migrate, retry } from "./operator.ts";
import { Run } from "./run.ts";
import { type SegmentTrace, startTrace } from "./tracing.ts";

export {
  DEFAULT_LEASE_MS,
  DEFAULT_MAX_INLINE_WAIT_MS,
  type EngineLimits,
  type EngineOptions,
  eventWaitOf,
  leaseExpiry,
  receivedRecord,
  resultOf,
} from "./core.ts";

/**
 * Runs one workflow step by step, checkpointing the execution after each step with a compare-and-set on
 * its revision. Side-effect-free steps are batched into the next checkpoint. An existing execution always
 * runs on the definition it started with (stored under its hash), whatever `workflow` is now. The class starts and
 * continues runs; the drive loop is drive.ts, the operator's calls operator.ts, the tools of steps tools.ts.
 */
export class Engine {
  readonly workflow: WorkflowDefinition;
  readonly store: Store;
  readonly services: Services;
  readonly registry: StepRegistry;
  readonly clock: Clock;
  readonly #core: EngineCore;

  constructor(workflow: WorkflowDefinition, options: EngineOptions = {}) {
    const core = new EngineCore(workflow, options, (child, childOptions) => new Engine(child, childOptions));
    this.#core = core;
    this.workflow = workflow;
    this.store = core.store;
    this.services = core.services;
    this.registry = core.registry;
    this.clock = core.clock;
  }

  /** W3C traceparent of the last run segment this engine traced (follow-up jobs carry it); undefined untraced. */
  get lastTraceparent(): string | undefined {
    return this.#core.lastTraceparent;
  }

  /**
   * Starts a run. The input rules are applied before anything is stored. An existing `pending` execution
   * is claimed and run; any other existing execution is returned as it is (idempotent start), unless it was
   * started with another input (ConflictError).
   */
  async run(
    input: unknown,
    options: { executionId?: string; deadline?: string | null; traceparent?: string } = {},
  ): Promise<ExecutionResult> {
    if (this.#core.gated(this.workflow) || (this.#core.options.flowControl !== false && this.workflow.debounce)) {
      // Admission (and debouncing) come before the claim: the run is stored pending first, like an async start.
      const stored = await this.prepare(input, { executionId: options.executionId, traceparent: options.traceparent });
      return stored.status === "pending" ? await this.continue(stored.id, { loaded: stored }) : resultOf(stored);
    }
    const checked = applyInputRules(this.workflow, input ?? {});
    const exec = this.#newExecution(checked, options.executionId ?? this.#core.ids(), options.deadline, options.traceparent);
    const run = this.#core.newRun(exec, this.workflow, false);
    run.emit("workflow.started", { workflowId: this.workflow.id, input: checked });
    run.trace = this.#core.startSegment(exec, "run");
    try {
      return await this.#core.within(run.trace, () => driveApplied(this.#core, run));
    } catch (error) {
      if (!(error instanceof ConflictError) || run.claimed) throw error;
      const existing = await this.#existing(exec, error);
      if (existing.status === "pending") return await this.continue(exec.id);
      return resultOf(existing);
    }
  }

  /**
   * Saves a new `pending` execution (the async runner's first step) after checking the input; an id that
   * already exists with the same input is left alone (idempotent). Returns the execution as stored. `traceparent`:
   * the start request's, the parent of the execution's trace.
   */
  async prepare(
    input: unknown,
    options: { executionId?: string; trigger?: JsonObject; priority?: number; traceparent?: string } = {},
  ): Promise<Execution> {
    const checked = applyInputRules(this.workflow, input ?? {});
    const exec = this.#newExecution(checked, options.executionId ?? this.#core.ids(), undefined, options.traceparent);
    exec.status = "pending";
    if (options.priority !== undefined) exec.flow = { priority: options.priority };
    if (this.#core.options.flowControl !== false && this.workflow.debounce) return await debounce(this.#core, exec, this.workflow.debounce);
    const definition = definitionToPin(this.store, this.workflow, this.clock.now());
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
      const { revision } = await this.store.commit({ execution: exec, expectedRevision: 0, events, ...(definition ? { definition } : {}) });
      markStored(this.store, this.workflow.hash);
      return { ...exec, revision };
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      return await this.#existing(exec, error);
    }
  }

  /** The execution stored under a new execution's id: same workflow and input, or a ConflictError naming the id. */
  async #existing(exec: Execution, conflict: ConflictError): Promise<Execution> {
    const existing = await this.store.load(exec.id);
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

  #newExecution(input: JsonObject, id: string, deadlineOverride: string | null | undefined, traceparent?: string): Execution {
    assertExecutionId(id);
    const now = this.clock.now();
    const deadline = deadlineOverride !== undefined ? deadlineOverride : this.#core.deadlineFrom(now, this.workflow);
    const exec = newExecution({
      id,
      workflowId: this.workflow.id,
      workflowVersion: this.workflow.version,
      workflowHash: this.workflow.hash,
      status: "running",
      input,
      recoverTo: this.workflow.steps[0]!.id,
      createdAt: now.toISOString(),
      deadline,
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
  async continue(executionId: string, options: { loaded?: Execution } = {}): Promise<ExecutionResult> {
    const exec = await this.#core.loadOwn(executionId, options.loaded);
    const now = this.clock.now().getTime();
    if (exec.status === "running") {
      const lease = leaseExpiry(exec, this.#core.leaseMs);
      if (lease > now) {
        throw new ConflictError(`Execution "${executionId}" is running under a live lease until ${new Date(lease).toISOString()}`);
      }
    } else if (exec.status !== "pending") {
      throw new ConflictError(`Execution "${executionId}" is ${exec.status}, not pending: it cannot be continued`);
    } else if (!isDue(exec, now)) {
      return { status: "pending", executionId, yielded: true, notBefore: exec.wakeAt! };
    }
    const workflow = await this.#core.pinned(exec);
    const waited = exec.flow?.waiting !== undefined;
    if (this.#core.gated(workflow)) {
      const queued = await admit(this.#core, exec, workflow);
      if (queued) return queued;
    }
    const run = this.#core.newRun(exec, workflow, true);
    run.takeover = exec.status === "running";
    exec.status = "running";
    exec.wakeAt = null;
    // Never started before: its only events can be `workflow.triggered` (a trigger started it) and `flow.queued`.
    if (exec.stepsExecuted === 0 && exec.eventSeq <= 1 + (waited ? 1 : 0)) {
      run.emit("workflow.started", { workflowId: exec.workflowId, input: exec.input });
    }
    if (waited) run.emit("flow.started", {});
    run.trace = this.#core.startSegment(exec, "continue");
    return await this.#core.within(run.trace, async () => {
      await run.checkpoint();
      return await drive(this.#core, run);
    });
  }

  /**
   * Resumes a halted execution: `response` goes to `ctx.response`, `approved` to `ctx.approved`, and the run
   * continues at `recoverTo`. Only a halted execution resumes (ConflictError otherwise; also when
   * `expectedRevision` is given and the halt is another one); the halted → running transition is a
   * compare-and-set, so concurrent resumes run it once. A bad answer is a ValidationError and changes nothing.
   */
  async resume(
    executionId: string,
    options: { response?: unknown; approved?: unknown; expectedRevision?: number; loaded?: Execution } = {},
  ): Promise<ExecutionResult> {
    const answer = checkResumeAnswer(options);
    // One span for the claim (retried or not) and the run that follows.
    let segment: SegmentTrace | undefined;
    const claim = changeHalt(this.#core, executionId, options, async (exec) => {
      const workflow = await this.#core.pinned(exec);
      const waited = exec.flow?.waiting !== undefined;
      if (this.#core.gated(workflow)) {
        // Without a slot the answer is kept (as `accept` does) and the run waits, ahead of new starts.
        const queued = await admit(this.#core, exec, workflow, answer);
        if (queued) return queued;
      }
      // The run is made from the execution as stored, so its first checkpoint writes what the resume changes.
      const run = this.#core.newRun(exec, workflow, true);
      run.trace = segment ??= this.#core.startSegment(exec, "resume");
      if (waited) run.emit("flow.started", {});
      const ctx = { ...exec.ctx };
      if (answer.response !== undefined) setOwn(ctx, "response", answer.response);
      if (answer.approved !== undefined) ctx.approved = answer.approved;
      run.setCtx(ctx, ["response", "approved"]);
      if (exec.currentStep) run.resumed = { stepId: exec.currentStep, haltData: exec.haltData };
      const eventWait = exec.haltData && eventWaitOf(exec.haltData);
      Object.assign(exec, { status: "running", haltData: null, wakeAt: null, answer: null });
      run.emit("workflow.resumed", {});
      if (eventWait && isPlainObject(answer.response) && typeof answer.response.name === "string") {
        run.emit("event.received", { event: answer.response.name, eventId: answer.response.id ?? null, stepId: exec.currentStep });
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
    return await this.#core.within(segment, () => driveApplied(this.#core, run));
  }

  /**
   * Keeps an answer on a halted execution for a queued resume (the async path): stored first, so a lost job loses
   * no answer — the sweeper hands the execution back after its grace and the answer is applied. The first answer
   * wins: ConflictError when one is already waiting. Returns the execution as stored (its revision is the one the
   * resume job names).
   */
  accept(executionId: string, options: { response?: unknown; approved?: unknown } = {}): Promise<Execution> {
    return accept(this.#core, executionId, options);
  }

  /**
   * Cancels a pending, running or halted execution: it becomes `cancelled` (terminal) at once; a worker still
   * running it stops at its next checkpoint (its compare-and-set loses), and jobs that arrive later do nothing.
   * When the workflow declares compensations, the execution is `running` with `compensating` instead: its compensations
   * run here, or, while a worker holds a live lease, in that worker once its next checkpoint loses (so a step it had in
   * flight is compensated too). ConflictError when it has already ended or is being compensated.
   */
  cancel(executionId: string, options: { reason?: string } = {}): Promise<ExecutionResult> {
    return cancel(this.#core, executionId, options);
  }

  /**
   * Reopens a failed execution at the step that failed, with the ctx it had before that step, on the
   * definition it started with; the entries keep the first attempt's history. It is stored `pending` (a new
   * deadline, when the workflow has a timeout) for `continue` or a queued job to run. ConflictError unless failed.
   */
  retry(executionId: string): Promise<Execution> {
    return retry(this.#core, executionId);
  }

  /**
   * Moves a halted or pending execution onto `target` (another version of its workflow) when every step it
   * stands on exists there; ConflictError naming what is missing otherwise.
   */
  migrate(executionId: string, target: WorkflowDefinition = this.workflow): Promise<Execution> {
    return migrate(this.#core, executionId, target);
  }

  /** The result of an execution as it is stored. */
  async result(executionId: string): Promise<ExecutionResult> {
    return resultOf(await this.#core.loadOwn(executionId));
  }
}
