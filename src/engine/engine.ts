import { currentConfig, lookupWorkflow, type WorkflowLookup } from "../config.ts";
import { checkResumeAnswer } from "../definition/answer.ts";
import { applyInputRules } from "../definition/inputs.ts";
import type { WorkflowDefinition } from "../definition/workflow.ts";
import { ConfigError, ConflictError, errorText, ExecutionError, LeaseLostError, NotFoundError, WorkflowTimeoutError } from "../errors.ts";
import { type Log, type Logger, toLog } from "../log.ts";
import { deepEqual, isPlainObject, setOwn } from "../json.ts";
import { resolveValue } from "../expressions/references.ts";
import { defaultStepRegistry, type StepRegistry } from "../steps/registry.ts";
import { FINISHED, type HttpOptions, type NestedRun, type StepDefinition, type StepState, type StepTools } from "../steps/step.ts";
import { assertExecutionId } from "../ids.ts";
import type { EventWait, Store } from "../store/store.ts";
import type { Condition } from "../expressions/conditions.ts";
import { eventMatches, matchKey, type SentEvent } from "../expressions/events.ts";
import { type Execution, type ExecutionResult, isDue, isTerminal, type JsonObject, newExecution, type Services } from "../types.ts";
import { runChild } from "./child.ts";
import { startLabels } from "./labels.ts";
import { hasCompensation, runCompensations } from "./compensation.ts";
import { type Clock, toClock } from "./clock.ts";
import { definitionToPin, markStored, pinnedDefinition } from "./definitions.ts";
import type { EventHandler } from "./events.ts";
import { executeStep, lastError, stepTypeOf, Yield } from "./execute-step.ts";
import type { DebounceSpec, RateSpec } from "../steps/flow.ts";
import { acquireRequest, flowKey, flowStoreOf, isGated, waitingText } from "./flow.ts";
import { Run } from "./run.ts";
import { instruments, type Outcome, type SegmentTrace, startSegment, startTrace, timed } from "./tracing.ts";
import { stepsOnCycles, visitOf } from "./visits.ts";

export interface EngineLimits {
  /** Steps executed per execution, loop body steps included (default 10 000). */
  maxSteps?: number;
  /** Size of ctx as JSON in bytes (default 1 MiB). */
  maxCtxBytes?: number;
}

export interface EngineOptions {
  store?: Store;
  services?: Services;
  registry?: StepRegistry;
  /** Where `workflow` steps find child workflows (default: the global `register`). */
  workflows?: WorkflowLookup;
  /** Time and timers: a `Clock` (tests pass a ManualClock), or a function giving the time with real timers. */
  clock?: Clock | (() => Date);
  /** Id generator for executions and entries (default `crypto.randomUUID`). */
  ids?: () => string;
  /** Sleep between call retries, when `clock` is a function (a Clock sleeps itself). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Called for every event, live; events are also stored with the checkpoint that produced them. */
  onEvent?: EventHandler;
  /** Where the engine writes its lines (a worker that lost its lease): default JSON lines on the console. */
  log?: Log | Logger;
  limits?: EngineLimits;
  /**
   * Time budget of one run/resume/continue call in ms: when it is used up, the engine checkpoints the
   * execution as `pending` and returns `{ status: "pending", yielded: true }` so that an async adapter can
   * enqueue a continuation. Default: no budget.
   */
  budgetMs?: number;
  /**
   * Call retry waits longer than this (ms) are not slept inside the process: the execution is checkpointed
   * as `pending` with the attempt to run and `{ status: "pending", yielded: true, notBefore }` is returned,
   * for an async adapter to deliver a delayed continuation. Default: always sleep.
   */
  scheduleRetriesOverMs?: number;
  /** `wait` steps up to this long are slept in process; longer ones end the call `pending` with `notBefore` (default 1 000 ms). */
  maxInlineWaitMs?: number;
  /** How long a claim (`running`) lasts without a checkpoint before another worker may take over (default 60 000 ms). */
  leaseMs?: number;
  /** Options of `http` steps: fetch, allow-list, private addresses, response body limit. */
  http?: HttpOptions;
  /** Values `$secrets.NAME` resolves to in `http` steps, at call time; never stored, redacted from what is. */
  secrets?: Readonly<Record<string, string>>;
  /**
   * Admit runs of workflows with `concurrency` / `rate` through the store (default true). Child workflows run
   * inside their parent's slot: their engines pass false.
   */
  flowControl?: boolean;
  /**
   * W3C `traceparent` of what asked for this call (a queued job's publisher): each run segment's span links to it
   * (its parent is the execution's own trace, see docs/observability.md).
   */
  traceparent?: string;
}

const DEFAULT_MAX_STEPS = 10_000;
const DEFAULT_MAX_CTX_BYTES = 1024 * 1024;
export const DEFAULT_LEASE_MS = 60_000;
export const DEFAULT_MAX_INLINE_WAIT_MS = 1_000;
/** A resume (or a kept answer) that loses its store race to another change of the same halt tries this often. */
const HALT_CHANGE_ATTEMPTS = 5;

/**
 * Runs one workflow step by step, checkpointing the execution after each step with a compare-and-set on
 * its revision. Side-effect-free steps are batched into the next checkpoint. An existing execution always
 * runs on the definition it started with (stored under its hash), whatever `workflow` is now.
 */
export class Engine {
  readonly workflow: WorkflowDefinition;
  readonly store: Store;
  readonly services: Services;
  readonly registry: StepRegistry;
  readonly clock: Clock;
  readonly #options: EngineOptions;
  readonly #ids: () => string;
  readonly #maxSteps: number;
  readonly #maxCtxBytes: number;
  readonly #leaseMs: number;
  readonly #steps = new WeakMap<WorkflowDefinition, Map<string, StepDefinition>>();
  /** W3C traceparent of the last run segment this engine traced (follow-up jobs carry it); undefined untraced. */
  lastTraceparent: string | undefined;

  constructor(workflow: WorkflowDefinition, options: EngineOptions = {}) {
    const config = currentConfig();
    const store = options.store ?? config.store;
    if (!store) throw new ConfigError("No store configured: pass { store } or call configure({ store })");
    this.workflow = workflow;
    this.store = store;
    this.services = options.services ?? config.services ?? {};
    this.registry = options.registry ?? defaultStepRegistry;
    this.clock = toClock(options.clock ?? config.clock, options.sleep);
    this.#options = options;
    this.#ids = options.ids ?? (() => crypto.randomUUID());
    this.#maxSteps = options.limits?.maxSteps ?? DEFAULT_MAX_STEPS;
    this.#maxCtxBytes = options.limits?.maxCtxBytes ?? DEFAULT_MAX_CTX_BYTES;
    this.#leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
  }

  /**
   * Starts a run. The input rules are applied before anything is stored. An existing `pending` execution
   * is claimed and run; any other existing execution is returned as it is (idempotent start), unless it was
   * started with another input (ConflictError).
   */
  async run(
    input: unknown,
    options: { executionId?: string; deadline?: string | null; traceparent?: string; labels?: Record<string, string> } = {},
  ): Promise<ExecutionResult> {
    if (this.#gated(this.workflow) || (this.#options.flowControl !== false && this.workflow.debounce)) {
      // Admission (and debouncing) come before the claim: the run is stored pending first, like an async start.
      const stored = await this.prepare(input, {
        executionId: options.executionId,
        traceparent: options.traceparent,
        labels: options.labels,
      });
      return stored.status === "pending" ? await this.continue(stored.id, { loaded: stored }) : resultOf(stored);
    }
    const checked = applyInputRules(this.workflow, input ?? {});
    const exec = this.#newExecution(checked, options.executionId ?? this.#ids(), options.deadline, options.traceparent, options.labels);
    const run = this.#newRun(exec, this.workflow, false);
    run.emit("workflow.started", { workflowId: this.workflow.id, input: checked });
    run.trace = this.#startSegment(exec, "run");
    try {
      return await this.#within(run.trace, () => this.#driveApplied(run));
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
    options: { executionId?: string; trigger?: JsonObject; priority?: number; traceparent?: string; labels?: Record<string, string> } = {},
  ): Promise<Execution> {
    const checked = applyInputRules(this.workflow, input ?? {});
    const exec = this.#newExecution(checked, options.executionId ?? this.#ids(), undefined, options.traceparent, options.labels);
    exec.status = "pending";
    if (options.priority !== undefined) exec.flow = { priority: options.priority };
    if (this.#options.flowControl !== false && this.workflow.debounce) return await this.#debounce(exec, this.workflow.debounce);
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

  /**
   * Debounce: a start within `period` of the previous one with the same key replaces the input of the run that
   * has not started yet (the last input wins) and pushes its start back, never past `max` after the first start;
   * the answer is that run. A start after that run began (or ended) makes a new one.
   */
  async #debounce(exec: Execution, debounce: DebounceSpec): Promise<Execution> {
    const flow = flowStoreOf(this.store);
    const request = { workflowId: exec.workflowId, key: flowKey(debounce.key, exec.input), executionId: exec.id };
    const now = this.clock.now().getTime();
    let current: string | undefined = await flow.flowDebounce(request);
    for (let attempt = 0; attempt < 10; attempt++) {
      if (current === exec.id) {
        const latest = now + (debounce.max ?? Infinity) * 1000;
        exec.wakeAt = new Date(Math.min(now + debounce.period * 1000, latest)).toISOString();
        if (Number.isFinite(latest)) exec.flow = { ...exec.flow, latest: new Date(latest).toISOString() };
        const definition = definitionToPin(this.store, this.workflow, this.clock.now());
        const { revision } = await this.store.commit({ execution: exec, expectedRevision: 0, ...(definition ? { definition } : {}) });
        markStored(this.store, this.workflow.hash);
        return { ...exec, revision };
      }
      const gathering = current ? await this.store.load(current) : null;
      if (gathering && gathering.status === "pending" && gathering.stepsExecuted === 0 && gathering.workflowId === exec.workflowId) {
        const run = this.#newRun(gathering, this.workflow, true);
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

  #newExecution(
    input: JsonObject,
    id: string,
    deadlineOverride: string | null | undefined,
    traceparent: string | undefined,
    labels: Record<string, string> | undefined,
  ): Execution {
    assertExecutionId(id);
    const now = this.clock.now();
    const deadline = deadlineOverride !== undefined ? deadlineOverride : this.#deadlineFrom(now, this.workflow);
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
      labels: startLabels(this.workflow, input, labels, now),
    });
    const trace = startTrace(exec, traceparent);
    if (trace) exec.trace = trace;
    return exec;
  }

  #deadlineFrom(now: Date, workflow: WorkflowDefinition): string | null {
    return workflow.timeout ? new Date(now.getTime() + workflow.timeout * 1000).toISOString() : null;
  }

  /**
   * Runs on a `pending` execution (saved by the async runner, left by a yield, waiting for a time), or takes
   * over a `running` one whose lease has expired. A pending execution whose `wakeAt` is still ahead is left
   * alone: `{ status: "pending", yielded: true, notBefore }`.
   */
  async continue(executionId: string, options: { loaded?: Execution } = {}): Promise<ExecutionResult> {
    const exec = await this.#loadOwn(executionId, options.loaded);
    const now = this.clock.now().getTime();
    if (exec.status === "running") {
      const lease = leaseExpiry(exec, this.#leaseMs);
      if (lease > now) {
        throw new ConflictError(`Execution "${executionId}" is running under a live lease until ${new Date(lease).toISOString()}`);
      }
    } else if (exec.status !== "pending") {
      throw new ConflictError(`Execution "${executionId}" is ${exec.status}, not pending: it cannot be continued`);
    } else if (!isDue(exec, now)) {
      return { status: "pending", executionId, yielded: true, notBefore: exec.wakeAt! };
    }
    const workflow = await this.#pinned(exec);
    const waited = exec.flow?.waiting !== undefined;
    if (this.#gated(workflow)) {
      const queued = await this.#admit(exec, workflow);
      if (queued) return queued;
    }
    const run = this.#newRun(exec, workflow, true);
    run.takeover = exec.status === "running";
    exec.status = "running";
    exec.wakeAt = null;
    // Never started before: its only events can be `workflow.triggered` (a trigger started it) and `flow.queued`.
    if (exec.stepsExecuted === 0 && exec.eventSeq <= 1 + (waited ? 1 : 0)) {
      run.emit("workflow.started", { workflowId: exec.workflowId, input: exec.input });
    }
    if (waited) run.emit("flow.started", {});
    run.trace = this.#startSegment(exec, "continue");
    return await this.#within(run.trace, async () => {
      await run.checkpoint();
      return await this.#drive(run);
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
    options: { response?: unknown; approved?: unknown; expectedRevision?: number; loaded?: Execution; actor?: string } = {},
  ): Promise<ExecutionResult> {
    const answer = checkResumeAnswer(options);
    // One span for the claim (retried or not) and the run that follows.
    let segment: SegmentTrace | undefined;
    const claim = this.#changeHalt(executionId, options, async (exec) => {
      const workflow = await this.#pinned(exec);
      const waited = exec.flow?.waiting !== undefined;
      if (this.#gated(workflow)) {
        // Without a slot the answer is kept (as `accept` does) and the run waits, ahead of new starts.
        const queued = await this.#admit(exec, workflow, answer);
        if (queued) return queued;
      }
      // The run is made from the execution as stored, so its first checkpoint writes what the resume changes.
      const run = this.#newRun(exec, workflow, true);
      run.trace = segment ??= this.#startSegment(exec, "resume");
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
    return await this.#within(segment, () => this.#driveApplied(run));
  }

  /**
   * Loads a halted execution and stores `change` to it (a resume's claim, a kept answer). When something else was
   * stored between the load and the change (a migrate, say), the same halt is changed again on what is stored now;
   * a halt answered meanwhile is a ConflictError. With `expectedRevision` (a queued job's), nothing is retried.
   */
  async #changeHalt<T>(
    executionId: string,
    options: { loaded?: Execution; expectedRevision?: number; refuse?: (exec: Execution) => void },
    change: (exec: Execution) => Promise<T>,
  ): Promise<T> {
    let loaded = options.loaded;
    let halt: Pick<Execution, "currentStep" | "haltData"> | undefined;
    for (let attempt = 1;; attempt++) {
      const exec = await this.#loadOwn(executionId, loaded);
      loaded = undefined;
      if (exec.status !== "halted") {
        throw new ConflictError(`Execution "${executionId}" is ${exec.status}: only a halted execution can be resumed`);
      }
      if (options.expectedRevision !== undefined && exec.revision !== options.expectedRevision) {
        throw new ConflictError(
          `Execution "${executionId}" is at revision ${exec.revision}, not ${options.expectedRevision}: that halt was already answered`,
        );
      }
      if (halt && (halt.currentStep !== exec.currentStep || !deepEqual(halt.haltData, exec.haltData))) {
        throw new ConflictError(`Execution "${executionId}" was answered and halted again meanwhile: that halt was already answered`);
      }
      halt = { currentStep: exec.currentStep, haltData: exec.haltData };
      options.refuse?.(exec);
      try {
        return await change(exec);
      } catch (error) {
        if (error instanceof ConflictError && options.expectedRevision === undefined && attempt < HALT_CHANGE_ATTEMPTS) continue;
        throw error;
      }
    }
  }

  /**
   * Keeps an answer on a halted execution for a queued resume (the async path): stored first, so a lost job loses
   * no answer — the sweeper hands the execution back after its grace and the answer is applied. The first answer
   * wins: ConflictError when one is already waiting. Returns the execution as stored (its revision is the one the
   * resume job names).
   */
  async accept(executionId: string, options: { response?: unknown; approved?: unknown; actor?: string } = {}): Promise<Execution> {
    const answer = { ...checkResumeAnswer(options), ...(options.actor ? { actor: options.actor } : {}) };
    const refuse = (exec: Execution) => {
      if (exec.answer) throw new ConflictError(`Execution "${executionId}" already has an answer waiting to be applied`);
    };
    return await this.#changeHalt(executionId, { refuse }, async (exec) => {
      const run = this.#newRun(exec, this.workflow, true);
      exec.answer = answer;
      await run.checkpoint();
      return exec;
    });
  }

  /**
   * Cancels a pending, running or halted execution: it becomes `cancelled` (terminal) at once; a worker still
   * running it stops at its next checkpoint (its compare-and-set loses), and jobs that arrive later do nothing.
   * When the workflow declares compensations, the execution is `running` with `compensating` instead: its compensations
   * run here, or, while a worker holds a live lease, in that worker once its next checkpoint loses (so a step it had in
   * flight is compensated too). ConflictError when it has already ended or is being compensated.
   */
  async cancel(executionId: string, options: { reason?: string; actor?: string } = {}): Promise<ExecutionResult> {
    const exec = await this.#loadOwn(executionId);
    if (isTerminal(exec.status)) {
      throw new ConflictError(
        `Execution "${executionId}" is already ${exec.status}: only a pending, running or halted execution can be cancelled`,
      );
    }
    if (exec.compensating) {
      throw new ConflictError(`Execution "${executionId}" is already being compensated (it ends ${exec.compensating.status})`);
    }
    const reason = options.reason ?? "Cancelled by an operator";
    const workflow = await this.#pinned(exec);
    const run = this.#newRun(exec, workflow, true);
    const error = `Cancelled: ${reason}`;
    const actorField: JsonObject = options.actor ? { actor: options.actor } : {};
    if (hasCompensation(workflow)) {
      const inFlight = exec.status === "running" && leaseExpiry(exec, this.#leaseMs) > this.clock.now().getTime();
      Object.assign(exec, { status: "running", error, wakeAt: null, retry: null, answer: null });
      exec.compensating = { status: "cancelled", error, reason, ok: true, cancelRevision: inFlight ? exec.revision + 1 : null };
      run.emit("workflow.compensating", { status: "cancelled", error, ...actorField });
      await run.checkpoint();
      return inFlight ? resultOf(exec) : await this.#drive(run);
    }
    Object.assign(exec, { status: "cancelled", error, wakeAt: null, retry: null, answer: null });
    run.emit("workflow.cancelled", { reason, ...actorField });
    await this.#operate(run, "cancel");
    return await this.#release(run, resultOf(exec));
  }

  /**
   * Reopens a failed execution at the step that failed, with the ctx it had before that step, on the
   * definition it started with; the entries keep the first attempt's history. It is stored `pending` (a new
   * deadline, when the workflow has a timeout) for `continue` or a queued job to run. ConflictError unless failed.
   */
  async retry(executionId: string, options: { actor?: string } = {}): Promise<Execution> {
    const exec = await this.#loadOwn(executionId);
    if (exec.status !== "failed") {
      throw new ConflictError(`Execution "${executionId}" is ${exec.status}: only a failed execution can be retried`);
    }
    if (exec.compensated !== null) {
      throw new ConflictError(`Execution "${executionId}" was compensated (its completed steps were undone): start a new execution`);
    }
    const workflow = await this.#pinned(exec);
    const run = this.#newRun(exec, workflow, true);
    Object.assign(exec, {
      status: "pending",
      error: null,
      recoverTo: exec.recoverTo ?? exec.currentStep ?? workflow.steps[0]!.id,
      deadline: this.#deadlineFrom(this.clock.now(), workflow),
      retry: null,
      loop: null,
      wakeAt: null,
      epoch: (exec.epoch ?? 0) + 1,
      pinned: null,
    });
    run.emit("workflow.resumed", { retry: true, ...(options.actor ? { actor: options.actor } : {}) });
    return await this.#operate(run, "retry");
  }

  /**
   * Moves a halted or pending execution onto `target` (another version of its workflow) when every step it
   * stands on exists there; ConflictError naming what is missing otherwise.
   */
  async migrate(executionId: string, target: WorkflowDefinition = this.workflow, options: { actor?: string } = {}): Promise<Execution> {
    const exec = await this.#loadOwn(executionId);
    if (exec.status !== "halted" && exec.status !== "pending") {
      throw new ConflictError(`Execution "${executionId}" is ${exec.status}: only a halted or pending execution can be migrated`);
    }
    if (target.id !== exec.workflowId) {
      throw new ConflictError(`Execution "${executionId}" belongs to workflow "${exec.workflowId}", not "${target.id}"`);
    }
    const ids = new Set(allStepIds(target.steps));
    const needed = [exec.currentStep, exec.recoverTo, exec.loop?.stepId, exec.retry?.stepId].filter((id): id is string =>
      !!id && id !== FINISHED
    );
    const missing = [...new Set(needed)].filter((id) => !ids.has(id));
    if (missing.length) {
      throw new ConflictError(
        `Execution "${executionId}" cannot move to version ${target.version} (${target.hash.slice(0, 12)}): it stands on step${
          missing.length === 1 ? "" : "s"
        } ${missing.map((id) => `"${id}"`).join(", ")}, missing there`,
      );
    }
    const run = this.#newRun(exec, target, true);
    run.emit("workflow.migrated", {
      fromVersion: exec.workflowVersion,
      fromHash: exec.workflowHash,
      version: target.version,
      hash: target.hash,
      ...(options.actor ? { actor: options.actor } : {}),
    });
    Object.assign(exec, { workflowVersion: target.version, workflowHash: target.hash });
    return await this.#operate(run, "migrate");
  }

  /** The result of an execution as it is stored. */
  async result(executionId: string): Promise<ExecutionResult> {
    return resultOf(await this.#loadOwn(executionId));
  }

  /**
   * The execution from the store, or `loaded` (the caller's fresh copy, saving a round trip): either way its
   * revision guards the checkpoints that follow.
   */
  async #loadOwn(executionId: string, loaded?: Execution): Promise<Execution> {
    assertExecutionId(executionId);
    const exec = loaded && loaded.id === executionId
      ? { ...loaded }
      : await timed(instruments(), "load", () => this.store.load(executionId));
    if (!exec) throw new NotFoundError(`Execution "${executionId}" not found`);
    if (exec.workflowId !== this.workflow.id) {
      throw new ConflictError(`Execution "${executionId}" belongs to workflow "${exec.workflowId}", not "${this.workflow.id}"`);
    }
    return exec;
  }

  /** The definition the execution started with (see definitions.ts). */
  async #pinned(exec: Execution): Promise<WorkflowDefinition> {
    return (await pinnedDefinition(this.store, exec.workflowHash, this.workflow, this.registry)) ?? this.workflow;
  }

  #newRun(exec: Execution, workflow: WorkflowDefinition, claimed: boolean): Run {
    let steps = this.#steps.get(workflow);
    if (!steps) this.#steps.set(workflow, steps = new Map(workflow.steps.map((step) => [step.id, step])));
    return new Run(exec, workflow, steps, claimed, {
      store: this.store,
      clock: this.clock,
      ids: this.#options.ids,
      onEvent: this.#options.onEvent,
      leaseMs: this.#leaseMs,
      maxSteps: this.#maxSteps,
      maxCtxBytes: this.#maxCtxBytes,
      definition: claimed ? undefined : definitionToPin(this.store, workflow, this.clock.now()),
    });
  }

  /** The span of one run segment (`kind`: run, continue, resume, or an operator's cancel, retry, migrate), when an SDK records. */
  #startSegment(exec: Execution, kind: string): SegmentTrace | undefined {
    const segment = startSegment(exec, kind, this.#options.traceparent);
    if (segment) this.lastTraceparent = segment.traceparent;
    return segment;
  }

  /** Does `work` within `segment`, which ends with its outcome. */
  async #within<T extends Outcome>(segment: SegmentTrace | undefined, work: () => Promise<T>): Promise<T> {
    if (!segment) return await work();
    try {
      const result = await work();
      segment.end(result);
      return result;
    } catch (error) {
      segment.end(undefined, error);
      throw error;
    }
  }

  /** An operator's change (cancel, retry, migrate): one checkpoint, traced as a short segment of its own. */
  async #operate(run: Run, kind: string): Promise<Execution> {
    run.trace = this.#startSegment(run.exec, kind);
    return await this.#within(run.trace, async () => {
      await run.checkpoint();
      return run.exec;
    });
  }

  /**
   * Drives a run whose claim is stored (the caller's input or answer applied): a race lost later on (a cancel, a
   * takeover after a lost lease) answers what is stored now instead of a ConflictError.
   */
  async #driveApplied(run: Run): Promise<ExecutionResult> {
    try {
      return await this.#drive(run);
    } catch (error) {
      if (!(error instanceof ConflictError) || !run.claimed) throw error;
      return resultOf(await this.#loadOwn(run.exec.id));
    }
  }

  async #drive(run: Run): Promise<ExecutionResult> {
    const result = await this.#driveSteps(run);
    const exec = run.exec;
    const waiting = exec.status === "halted" || (exec.status === "pending" && exec.wakeAt !== null);
    return isTerminal(exec.status) || waiting ? await this.#release(run, result) : result;
  }

  #gated(workflow: WorkflowDefinition): boolean {
    return this.#options.flowControl !== false && isGated(workflow);
  }

  /**
   * Asks the store for a slot (and a start under `rate`). Admitted: undefined, the execution marked so. Refused:
   * the execution stays pending (or halted, keeping `answer` for its resume) with why it waits, and the call ends
   * — a released slot starts it; a rate wait asks for a continuation at the time the rate allows.
   */
  async #admit(exec: Execution, workflow: WorkflowDefinition, answer?: Execution["answer"]): Promise<ExecutionResult | undefined> {
    const now = this.clock.now().getTime();
    const admission = await flowStoreOf(this.store).flowAcquire(acquireRequest(workflow, exec, now, this.#leaseMs));
    if (admission.admitted) {
      const { waiting: _, ...mark } = exec.flow ?? {};
      exec.flow = { ...mark, admitted: true };
      return undefined;
    }
    const waiting = waitingText(admission);
    const wakeAt = admission.reason === "rate" ? new Date(admission.retryAt).toISOString() : exec.status === "halted" ? exec.wakeAt : null;
    const first = exec.flow?.waiting === undefined;
    if (exec.flow?.waiting !== waiting || exec.wakeAt !== wakeAt || (answer && !exec.answer)) {
      const run = this.#newRun(exec, workflow, true);
      Object.assign(exec, { flow: { ...exec.flow, waiting }, wakeAt, ...(answer && !exec.answer ? { answer } : {}) });
      if (first) run.emit("flow.queued", { reason: admission.reason, key: admission.key, waiting });
      await run.checkpoint();
    }
    return exec.status === "halted" ? resultOf(exec) : { ...resultOf(exec), ...(wakeAt ? { yielded: true, notBefore: wakeAt } : {}) };
  }

  /** After a call leaves `running` for good (ended, halted, waiting for a time): frees the slot; the result names the waiters to start. */
  async #release(run: Run, result: ExecutionResult): Promise<ExecutionResult> {
    const workflow = run.workflow;
    if (!this.#gated(workflow) || !workflow.concurrency) return result;
    const exec = run.exec;
    const start = await flowStoreOf(this.store).flowRelease({
      workflowId: exec.workflowId,
      executionId: exec.id,
      now: this.clock.now().getTime(),
      concurrency: { key: flowKey(workflow.concurrency.key, exec.input), limit: workflow.concurrency.limit },
      staleMs: this.#leaseMs,
    });
    return start.length ? { ...result, flowStart: start } : result;
  }

  /**
   * A step's `rate` (a service's quota, across all executions): waits for its turn before the call. A wait the
   * engine would not sleep in process (over `maxInlineWaitMs`) ends a top-level call `pending` until then.
   */
  async #stepRate(run: Run, step: StepDefinition, scope: string, topLevel: boolean, signal = run.signal): Promise<void> {
    const rate = step.rate as RateSpec;
    const exec = run.exec;
    const key = `step:${step.id}:${flowKey(rate.key, exec.input)}`;
    const member = `${scope}:${exec.stepsExecuted}`;
    for (;;) {
      const now = this.clock.now().getTime();
      const admission = await flowStoreOf(this.store).flowAcquire({
        workflowId: exec.workflowId,
        executionId: exec.id,
        now,
        order: now,
        staleMs: this.#leaseMs,
        rate: { key, limit: rate.limit, periodMs: rate.period * 1000, member },
      });
      if (admission.admitted || admission.reason !== "rate") return;
      const wait = admission.retryAt - now;
      if (topLevel && run.claimed && wait > (this.#options.maxInlineWaitMs ?? DEFAULT_MAX_INLINE_WAIT_MS)) {
        const notBefore = new Date(admission.retryAt).toISOString();
        await this.#yield(run, notBefore);
        throw new Yield(notBefore);
      }
      await this.clock.sleep(wait, signal);
    }
  }

  /** The drive loop: steps until the call ends. */
  async #driveSteps(run: Run): Promise<ExecutionResult> {
    const exec = run.exec;
    let cancelTimer: (() => void) | undefined;
    if (exec.deadline) {
      const left = Date.parse(exec.deadline) - this.clock.now().getTime();
      cancelTimer = this.clock.setTimer(Math.max(0, left), () => run.abort.abort(this.#timeoutError(run)));
    }
    try {
      if (exec.compensating) return await this.#compensate(run);
      while (exec.recoverTo && exec.recoverTo !== FINISHED) {
        if (exec.deadline && this.clock.now().getTime() >= Date.parse(exec.deadline)) {
          return await this.#fail(run, this.#timeoutError(run));
        }
        if (this.#budgetUsed(run) && run.claimed && run.stepsRun > 0) return await this.#yield(run);
        const step = run.steps.get(exec.recoverTo);
        if (!step) {
          return await this.#fail(run, new ExecutionError(`Step "${exec.recoverTo}" does not exist in workflow "${exec.workflowId}"`));
        }
        const outcome = await this.#runTopLevel(run, step);
        if (outcome) return outcome;
        // A cancel landed while the step ran and this worker took it on (Run.renew): the claim first, then the undoing.
        if (exec.compensating) {
          await run.checkpoint();
          return await this.#compensate(run);
        }
      }
      return await this.#complete(run);
    } catch (error) {
      if (error instanceof Yield) return yielded(run, error.notBefore);
      if (error instanceof LeaseLostError) {
        toLog(this.#options.log).warn("worker lost its lease: it stops, the run goes on where the store has it", {
          executionId: exec.id,
          workflowId: exec.workflowId,
          step: exec.currentStep ?? undefined,
          error: error.message,
        });
      }
      const joined = error instanceof ConflictError && run.claimed ? await this.#joinCancel(run) : null;
      if (joined) return await this.#drive(joined);
      throw error;
    } finally {
      cancelTimer?.();
      if (run.claimed) markStored(this.store, exec.workflowHash);
    }
  }

  #budgetUsed(run: Run): boolean {
    const budget = this.#options.budgetMs;
    return budget !== undefined && this.clock.now().getTime() - run.startedAt >= budget;
  }

  /** Ends this call at a checkpoint, the execution `pending` (at `wakeAt`, when given) for a continuation. */
  async #yield(run: Run, wakeAt: string | null = null): Promise<ExecutionResult> {
    run.exec.status = "pending";
    run.exec.wakeAt = wakeAt;
    await run.checkpoint();
    return yielded(run, wakeAt ?? undefined);
  }

  #timeoutError(run: Run): WorkflowTimeoutError {
    return new WorkflowTimeoutError(
      run.workflow.timeout ? `Workflow timeout after ${run.workflow.timeout}s` : `Workflow deadline ${run.exec.deadline} passed`,
    );
  }

  /** Runs one top-level step; returns a result when the call ends (completed, halted, failed, pending), else undefined. */
  async #runTopLevel(run: Run, step: StepDefinition): Promise<ExecutionResult | undefined> {
    const exec = run.exec;
    let type;
    try {
      run.countStep();
      type = stepTypeOf(this.registry, step);
    } catch (error) {
      return await this.#fail(run, error);
    }
    // A step's rate: its turn comes before the fence, so the claim is checked after the wait.
    if (step.rate) await this.#stepRate(run, step, `${exec.id}:${step.id}`, true);
    // Before a side effect: the claim must be live by this worker's clock, and stored with every step run since
    // the last checkpoint (a step that pins a value stores it with its own checkpoint, and fences after it).
    if (!type.pure) {
      const checkpointDue = !type.pins && (!run.claimed || run.unsaved > 0);
      await run.fence(step.id, checkpointDue);
      if (checkpointDue) {
        await run.checkpoint();
        // The commit may have been stored long ago (a worker paused while it waited for the answer): look again.
        await run.fence(step.id, true);
      }
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
    let result;
    try {
      result = await executeStep(run, step, type, step, state, this.#tools(run, run.signal, step, ctxBefore, { ctx: exec.ctx }));
    } finally {
      stopHeartbeat?.();
    }
    if (run.lost) throw run.lost;
    exec.loop = null;
    exec.retry = null;
    if (!type.pure) {
      if (stepsOnCycles(run.workflow, this.registry).has(step.id)) {
        exec.visits = { ...exec.visits, [step.id]: (exec.visits[step.id] ?? 0) + 1 };
      }
      exec.pinned = null;
    }
    if (!result.ok) {
      const error = result.error;
      if (error instanceof ConflictError) throw error;
      run.setCtx(ctxBefore);
      if (!step.on_error || error instanceof WorkflowTimeoutError || run.signal.aborted) return await this.#fail(run, error);
      run.setCtx({ ...ctxBefore, _last_error: lastError(step.id, error) });
      exec.recoverTo = step.on_error;
      return undefined;
    }
    const outcome = result.outcome;
    if (outcome.ctx) run.setCtx(outcome.ctx, outcome.changed);
    if (outcome.kind === "halt") {
      exec.status = "halted";
      exec.haltData = outcome.data;
      exec.recoverTo = outcome.resumeStep ?? step.next ?? FINISHED;
      exec.wakeAt = outcome.wakeAt ?? null;
      const halted = resultOf(exec);
      run.emit("workflow.halted", { halt: halted.halt as unknown as JsonObject });
      const wait = eventWaitOf(outcome.data);
      const committed = await run.checkpoint(wait);
      const event = wait && (committed.event ?? await this.#claimCandidate(exec, wait, committed.candidates));
      if (!event) return halted;
      // The event was sent before the wait began (within its lookback): the run goes on at once.
      run.resumed = { stepId: step.id, haltData: exec.haltData };
      Object.assign(exec, { status: "running", haltData: null, wakeAt: null });
      run.setCtx({ ...exec.ctx, response: receivedRecord(event) }, ["response"]);
      run.emit("event.received", { event: event.name, eventId: event.id, stepId: step.id, ...(event.actor ? { actor: event.actor } : {}) });
      await run.checkpoint();
      return undefined;
    }
    exec.recoverTo = outcome.next ?? step.next ?? FINISHED;
    if (outcome.kind === "wait") return await this.#wait(run, outcome.until);
    return undefined;
  }

  /** The first buffered event (in send order) that an unindexed wait's match accepts, handed to this execution. */
  async #claimCandidate(exec: Execution, wait: EventWait, candidates: SentEvent[] = []): Promise<SentEvent | undefined> {
    for (const event of candidates) {
      if (eventMatches(wait.match as Condition | null, event.payload) && await this.store.claimEvent(exec.id, wait.waitId, event)) {
        return event;
      }
    }
    return undefined;
  }

  /** A `wait` step: a short wait is slept; a longer one ends the call with the execution pending until then. */
  async #wait(run: Run, until: string): Promise<ExecutionResult | undefined> {
    const ms = Date.parse(until) - this.clock.now().getTime();
    if (ms <= 0) return undefined;
    if (ms <= (this.#options.maxInlineWaitMs ?? DEFAULT_MAX_INLINE_WAIT_MS)) {
      await this.clock.sleep(ms, run.signal).catch(() => undefined);
      return undefined;
    }
    return await this.#yield(run, until);
  }

  async #complete(run: Run): Promise<ExecutionResult> {
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

  async #fail(run: Run, error: unknown): Promise<ExecutionResult> {
    const exec = run.exec;
    exec.error = errorText(error);
    exec.loop = null;
    exec.wakeAt = null;
    if (exec.compensating) {
      // A cancel this worker took on while the step ran (Run.renew): the run ends cancelled, as the cancel said.
      exec.error = exec.compensating.error;
      await run.checkpoint();
      return await this.#compensate(run);
    }
    if (exec.compensations.length) {
      exec.compensating = { status: "failed", error: exec.error, reason: null, ok: true, cancelRevision: null };
      run.emit("workflow.compensating", { status: "failed", error: exec.error });
      await run.checkpoint();
      return await this.#compensate(run);
    }
    exec.status = "failed";
    run.emit("workflow.failed", { error: exec.error });
    await run.checkpoint();
    return resultOf(exec);
  }

  /** Runs the compensations of a failed or cancelled run (compensation.ts), on a signal the workflow deadline does not abort. */
  async #compensate(run: Run): Promise<ExecutionResult> {
    const ctx = run.exec.ctx;
    const tools = this.#tools(run, new AbortController().signal, { id: "", type: "" }, ctx, { ctx });
    await runCompensations(run, this.registry, tools);
    return resultOf(run.exec);
  }

  /**
   * After this worker's checkpoint lost: when the only commit since its last one is a cancel that left the compensations
   * to the lease holder (and nothing was committed after it: no takeover), the run goes on from the cancelled execution, with the compensations of the steps this worker
   * completed meanwhile added (and their entries and events). Null otherwise (the ConflictError stands).
   */
  async #joinCancel(run: Run): Promise<Run | null> {
    const stored = await this.store.load(run.exec.id);
    const cancel = stored?.compensating?.cancelRevision;
    if (!stored || stored.status !== "running" || cancel !== stored.revision || cancel !== run.exec.revision + 1) return null;
    const known = new Set(stored.compensations.map((item) => item.key));
    stored.compensations = [...stored.compensations, ...run.exec.compensations.filter((item) => !known.has(item.key))];
    const joined = this.#newRun(stored, run.workflow, true);
    joined.adopt(run);
    // The claim is stored before any compensation runs: a worker that took the run over meanwhile wins here.
    await joined.checkpoint();
    return joined;
  }

  /** The tools of one step; `given.ctx` is the ctx the step was given (references resolve against it). */
  #tools(run: Run, signal: AbortSignal, top: StepDefinition, ctxBefore: JsonObject, given: { ctx: Readonly<JsonObject> }): StepTools {
    const exec = run.exec;
    const clock = this.clock;
    const nested = signal !== run.signal;
    return {
      resolve: (value, ctx) => resolveValue(value, { input: exec.input, ctx: ctx ?? given.ctx, now: () => clock.now() }),
      now: () => clock.now(),
      services: this.services,
      signal,
      sleep: (ms, sleepSignal) => clock.sleep(ms, sleepSignal),
      setTimer: (ms, fn) => clock.setTimer(ms, fn),
      waitToRetry: async (ms, attempt) => {
        const threshold = this.#options.scheduleRetriesOverMs;
        if (threshold === undefined || ms <= threshold || nested || !run.claimed || exec.currentStep !== top.id) {
          return await clock.sleep(ms, signal);
        }
        const notBefore = new Date(clock.now().getTime() + ms).toISOString();
        exec.retry = { stepId: top.id, attempt };
        await this.#yield(run, notBefore);
        throw new Yield(notBefore);
      },
      pin: async (key, make) => {
        const stored = exec.pinned && Object.hasOwn(exec.pinned, key) ? exec.pinned[key] : undefined;
        const value = stored === undefined ? make() : stored as ReturnType<typeof make>;
        if (stored === undefined) exec.pinned = { ...exec.pinned, [key]: value };
        if (stored === undefined || !run.claimed || run.unsaved > 0) {
          await run.fence(top.id, true);
          await run.checkpointInTurn();
          // The commit may have been stored long ago (a worker paused while it waited for the answer): look again.
          await run.fence(top.id, true);
        }
        return value;
      },
      http: this.#options.http ?? {},
      secrets: this.#options.secrets ?? {},
      runSteps: (steps, ctx, options) => this.#runNested(run, steps, ctx, options, top, ctxBefore),
      runChild: (request) =>
        runChild(
          this.store,
          request,
          lookupWorkflow(this.#options.workflows, request.workflowId),
          (workflow) =>
            new Engine(workflow, {
              ...this.#options,
              clock,
              store: this.store,
              services: this.services,
              registry: this.registry,
              onEvent: undefined,
              budgetMs: undefined,
              flowControl: false,
              traceparent: undefined,
            }),
          { parent: exec.deadline, now: clock.now().getTime() },
          resultOf,
        ),
      checkpointLoop: async ({ index, outputs, ctx }) => {
        run.setCtx(ctx);
        exec.loop = { stepId: top.id, index, outputs, before: ctxBefore };
        exec.pinned = null;
        if (this.#budgetUsed(run)) {
          await this.#yield(run);
          throw new Yield();
        }
        await run.checkpoint();
      },
    };
  }

  /** The tools of nested steps, made once per top-level step and signal (a hot loop body asks for them every step). */
  #nestedTools(run: Run, signal: AbortSignal, top: StepDefinition, ctxBefore: JsonObject, ctx: JsonObject): StepTools {
    let cached = run.nestedTools.get(signal);
    if (!cached || cached.top !== top) {
      const given = { ctx };
      cached = { top, given, tools: { ...this.#tools(run, signal, top, ctxBefore, given), checkpointLoop: undefined } };
      run.nestedTools.set(signal, cached);
    }
    cached.given.ctx = ctx;
    return cached.tools;
  }

  /** Steps of a loop body or a parallel branch, in listed order (a target may jump forward or end the body). */
  async #runNested(
    run: Run,
    steps: StepDefinition[],
    ctxIn: JsonObject,
    options: { parentId: string; scope: string; signal?: AbortSignal },
    top: StepDefinition,
    ctxBefore: JsonObject,
  ): Promise<NestedRun> {
    let ctx = ctxIn;
    let output: NestedRun["output"] = null;
    let sideEffects = false;
    /** A step failed and its `on_error` took over: the body's output is null, whatever the handler returns. */
    let handled = false;
    const signal = options.signal ?? run.signal;
    for (let i = 0; i < steps.length;) {
      const step = steps[i]!;
      if (signal.aborted) throw signal.reason;
      if (run.exec.deadline && this.clock.now().getTime() >= Date.parse(run.exec.deadline)) throw this.#timeoutError(run);
      run.countStep();
      const type = stepTypeOf(this.registry, step);
      if (!type.pure) {
        sideEffects = true;
        await run.fence(step.id);
      }
      const state: StepState = {
        executionId: run.exec.id,
        workflowId: run.exec.workflowId,
        input: run.exec.input,
        ctx,
        scope: `${options.scope}:${step.id}`,
        idempotencyKey: `${options.scope}:${step.id}:${visitOf(run.exec, top.id)}`,
        nested: true,
      };
      const tools = this.#nestedTools(run, signal, top, ctxBefore, ctx);
      if (step.rate) await this.#stepRate(run, step, state.scope, false, signal);
      const result = await executeStep(run, step, type, nestedLabel(options.parentId, step), state, tools);
      if (!result.ok) {
        const error = result.error;
        if (!step.on_error || signal.aborted || error instanceof ConflictError) throw error;
        ctx = { ...ctx, _last_error: lastError(step.id, error) };
        handled = true;
        if (step.on_error === FINISHED) break;
        i = steps.findIndex((s) => s.id === step.on_error);
        if (i < 0) break;
        continue;
      }
      const outcome = result.outcome;
      ctx = outcome.ctx ?? ctx;
      output = outcome.output ?? null;
      const next = outcome.kind === "halt" ? undefined : outcome.next ?? step.next;
      if (next === FINISHED) break;
      i = next ? steps.findIndex((s) => s.id === next) : i + 1;
      if (i < 0) break;
    }
    return { ctx, output: handled ? null : output, sideEffects };
  }
}

const labels = new WeakMap<StepDefinition, { id: string; type: string }>();

/** How a nested step is recorded: `<parent>:<step>` (made once per step definition: a step has one parent). */
function nestedLabel(parentId: string, step: StepDefinition): { id: string; type: string } {
  let label = labels.get(step);
  if (!label) labels.set(step, label = { id: `${parentId}:${step.id}`, type: step.type });
  return label;
}

function yielded(run: Run, notBefore?: string): ExecutionResult {
  return { status: "pending", executionId: run.exec.id, yielded: true, ...(notBefore ? { notBefore } : {}) };
}

/** When a running execution's claim expires: its lease, or (stored before leases) its last checkpoint + `leaseMs`. */
export function leaseExpiry(exec: Execution, leaseMs: number): number {
  return exec.leaseUntil ? Date.parse(exec.leaseUntil) : Date.parse(exec.updatedAt) + leaseMs;
}

function allStepIds(steps: readonly StepDefinition[]): string[] {
  const ids: string[] = [];
  for (const step of steps) {
    ids.push(step.id);
    for (const key of ["do", "branches"]) {
      const body = step[key];
      if (Array.isArray(body)) ids.push(...allStepIds(body as StepDefinition[]));
    }
  }
  return ids;
}

/** The store's view of a `wait_for_event` halt, or undefined for any other halt. */
export function eventWaitOf(data: JsonObject): EventWait | undefined {
  if (data.type !== "event" || !Array.isArray(data.events) || typeof data.wait_id !== "string") return undefined;
  const match = isPlainObject(data.match) ? data.match : null;
  return { waitId: data.wait_id, events: data.events as string[], key: matchKey(match as Condition | null), match };
}

/** What a waiting run receives of an event (its `ctx.response` on resume, then the step's output). */
export function receivedRecord(event: SentEvent): JsonObject {
  return {
    name: event.name,
    payload: event.payload,
    id: event.id,
    received_at: event.sentAt,
    ...(event.actor ? { actor: event.actor } : {}),
  };
}

/** What run/resume return for an execution as it is stored. */
export function resultOf(exec: Execution): ExecutionResult {
  const result: ExecutionResult = { status: exec.status, executionId: exec.id };
  if (exec.status === "completed") result.output = exec.result;
  if (exec.status === "halted") {
    const data = exec.haltData ?? {};
    const prompt = typeof data.prompt === "string" ? data.prompt : typeof data.reason === "string" ? data.reason : undefined;
    result.halt = {
      data,
      ...(prompt === undefined ? {} : { prompt }),
      ...(exec.recoverTo ? { resumeStep: exec.recoverTo } : {}),
      ...(exec.wakeAt ? { wakeAt: exec.wakeAt } : {}),
    };
  }
  if ((exec.status === "failed" || exec.status === "cancelled") && exec.error) result.error = exec.error;
  if (exec.compensating) Object.assign(result, { compensating: exec.compensating.status, error: exec.compensating.error });
  if (exec.compensated !== null) result.compensated = exec.compensated;
  if (exec.status === "pending" && exec.wakeAt) result.notBefore = exec.wakeAt;
  return result;
}
