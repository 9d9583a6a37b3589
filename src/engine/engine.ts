import { currentConfig, lookupWorkflow, type WorkflowLookup } from "../config.ts";
import { applyInputRules } from "../definition/inputs.ts";
import type { WorkflowDefinition } from "../definition/workflow.ts";
import { ConfigError, ConflictError, ExecutionError, NotFoundError, ValidationError, errorText } from "../errors.ts";
import { cloneJson, jsonSize, setOwn, toJson } from "../json.ts";
import { BUILT_IN_STEP_TYPES, defaultStepRegistry, type StepRegistry } from "../steps/registry.ts";
import {
  FINISHED,
  type ChildOutcome,
  type ChildRequest,
  type NestedRun,
  type StepDefinition,
  type StepOutcome,
  type StepState,
  type StepTools,
  type StepType,
} from "../steps/step.ts";
import { EXECUTION_ID_PATTERN, type Store } from "../store/store.ts";
import type {
  Entry,
  EntryAction,
  EventType,
  Execution,
  ExecutionResult,
  Json,
  JsonObject,
  Services,
} from "../types.ts";
import { WorkflowEvent, type EventHandler } from "./events.ts";
import { resolveValue } from "../expressions/references.ts";

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
  clock?: () => Date;
  /** Id generator for executions and entries (default `crypto.randomUUID`). */
  ids?: () => string;
  /** Sleep between call retries (tests pass one that does not wait). */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Called for every event, live; events are also stored with the checkpoint that produced them. */
  onEvent?: EventHandler;
  limits?: EngineLimits;
  /**
   * Time budget of one run/resume/continue call in ms: when it is used up, the engine checkpoints the
   * execution as `pending` (recoverTo set) and returns `{ status: "pending", yielded: true }` so that an
   * async adapter can enqueue a continuation. Default: no budget.
   */
  budgetMs?: number;
  /**
   * Call retry waits longer than this (ms) are not slept inside the process: the execution is checkpointed
   * as `pending` with the attempt to run and `{ status: "pending", yielded: true, notBefore }` is returned,
   * for an async adapter to deliver a delayed continuation. Default: always sleep.
   */
  scheduleRetriesOverMs?: number;
}

/** A workflow timeout: fails the execution whatever the step's `on_error` says. */
export class WorkflowTimeoutError extends ExecutionError {
  override name = "TimeoutError";
}

/** Thrown to end a run at a checkpoint: the time budget is used up, or a call retry was scheduled. */
class Yield extends Error {
  constructor(readonly notBefore?: string) {
    super("yield");
  }
}

export const DEFAULT_MAX_STEPS = 10_000;
export const DEFAULT_MAX_CTX_BYTES = 1024 * 1024;

function defaultSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** Per call of run/resume/continue: the working copy of the execution and what is not yet stored. */
interface Run {
  exec: Execution;
  /** False until the execution exists in the store with this run's claim. */
  claimed: boolean;
  entries: Entry[];
  events: WorkflowEvent[];
  /**
   * Events are delivered to `onEvent` only once this call's claim is stored (a run, resume or continue
   * that loses the race emits nothing); until then they wait here.
   */
  held: WorkflowEvent[];
  delivering: boolean;
  startedAt: number;
  /** Aborted at the workflow deadline. */
  abort: AbortController;
  signal: AbortSignal;
  /** Set when a resume re-enters the halting step. */
  resumed?: { stepId: string; haltData: JsonObject | null };
  /** Steps executed by this call: a budget yield needs at least one, so every continuation makes progress. */
  stepsRun: number;
}

/**
 * Runs one workflow step by step, checkpointing the execution after each step with a compare-and-set on
 * its revision. Side-effect-free steps are batched into the next checkpoint.
 */
export class Engine {
  readonly workflow: WorkflowDefinition;
  readonly store: Store;
  readonly services: Services;
  readonly registry: StepRegistry;
  readonly #options: EngineOptions;
  readonly #clock: () => Date;
  readonly #ids: () => string;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #steps = new Map<string, StepDefinition>();
  readonly #maxSteps: number;
  readonly #maxCtxBytes: number;

  constructor(workflow: WorkflowDefinition, options: EngineOptions = {}) {
    const config = currentConfig();
    const store = options.store ?? config.store;
    if (!store) throw new ConfigError("No store configured: pass { store } or call configure({ store })");
    this.workflow = workflow;
    this.store = store;
    this.services = options.services ?? config.services ?? {};
    this.registry = options.registry ?? defaultStepRegistry;
    this.#options = options;
    this.#clock = options.clock ?? config.clock ?? (() => new Date());
    this.#ids = options.ids ?? (() => crypto.randomUUID());
    this.#sleep = options.sleep ?? defaultSleep;
    this.#maxSteps = options.limits?.maxSteps ?? DEFAULT_MAX_STEPS;
    this.#maxCtxBytes = options.limits?.maxCtxBytes ?? DEFAULT_MAX_CTX_BYTES;
    for (const step of workflow.steps) this.#steps.set(step.id, step);
  }

  /**
   * Starts a run. The input rules are applied before anything is stored. An existing `pending` execution
   * is claimed and run; any other existing execution is returned as it is (idempotent start).
   */
  async run(input: unknown, options: { executionId?: string; deadline?: string | null } = {}): Promise<ExecutionResult> {
    const checked = applyInputRules(this.workflow, input ?? {});
    const exec = this.#newExecution(checked, options.executionId ?? this.#ids(), options.deadline);
    const id = exec.id;
    const run = this.#newRun(exec, false);
    this.#emit(run, "workflow.started", { workflowId: this.workflow.id, input: checked });
    try {
      return await this.#drive(run);
    } catch (error) {
      if (error instanceof ConflictError && !run.claimed) {
        const existing = await this.store.load(id);
        if (!existing) throw error;
        if (existing.workflowId !== this.workflow.id) {
          throw new ConflictError(`Execution "${id}" already exists for workflow "${existing.workflowId}", not "${this.workflow.id}"`);
        }
        if (existing.status === "pending") return await this.continue(id);
        return resultOf(existing);
      }
      throw error;
    }
  }

  /**
   * Saves a new `pending` execution (the async runner's first step) after checking the input; an id that
   * already exists is left alone (idempotent). Returns the execution as stored.
   */
  async prepare(input: unknown, options: { executionId?: string } = {}): Promise<Execution> {
    const exec = this.#newExecution(applyInputRules(this.workflow, input ?? {}), options.executionId ?? this.#ids(), undefined);
    exec.status = "pending";
    try {
      return await this.store.commit({ execution: exec, expectedRevision: 0 });
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      const existing = await this.store.load(exec.id);
      if (!existing) throw error;
      if (existing.workflowId !== this.workflow.id) {
        throw new ConflictError(`Execution "${exec.id}" already exists for workflow "${existing.workflowId}", not "${this.workflow.id}"`);
      }
      return existing;
    }
  }

  #newExecution(input: JsonObject, id: string, deadlineOverride: string | null | undefined): Execution {
    checkExecutionId(id);
    const now = this.#now();
    const deadline = deadlineOverride !== undefined
      ? deadlineOverride
      : this.workflow.timeout ? new Date(now.getTime() + this.workflow.timeout * 1000).toISOString() : null;
    return {
      id,
      workflowId: this.workflow.id,
      workflowVersion: this.workflow.version,
      workflowHash: this.workflow.hash,
      status: "running",
      input,
      ctx: {},
      currentStep: null,
      result: null,
      recoverTo: this.workflow.steps[0]!.id,
      haltData: null,
      error: null,
      createdAt: now.toISOString(),
      updatedAt: now.toISOString(),
      revision: 0,
      deadline,
      stepsExecuted: 0,
      eventSeq: 0,
      loop: null,
      retry: null,
    };
  }

  /** Claims a `pending` execution (saved by the async runner, or left by a yielded run) and runs it on. */
  async continue(executionId: string, options: { loaded?: Execution } = {}): Promise<ExecutionResult> {
    const exec = await this.#loadOwn(executionId, options.loaded);
    if (exec.status !== "pending") {
      throw new ConflictError(`Execution "${executionId}" is ${exec.status}, not pending: it cannot be continued`);
    }
    if (exec.retry && this.#now().getTime() < Date.parse(exec.retry.notBefore)) {
      return { status: "pending", executionId, yielded: true, notBefore: exec.retry.notBefore };
    }
    exec.status = "running";
    const run = this.#newRun(exec, true);
    if (exec.stepsExecuted === 0 && exec.eventSeq === 0) {
      this.#emit(run, "workflow.started", { workflowId: this.workflow.id, input: exec.input });
    }
    await this.#checkpoint(run);
    return await this.#drive(run);
  }

  /**
   * Resumes a halted execution: `response` goes to `ctx.response`, `approved` to `ctx.approved`, and the run
   * continues at `recoverTo`. Only a halted execution resumes (ConflictError otherwise; also when
   * `expectedRevision` is given and the halt is another one); the halted → running transition is a
   * compare-and-set, so concurrent resumes run it once.
   */
  async resume(
    executionId: string,
    options: { response?: unknown; approved?: boolean; expectedRevision?: number; loaded?: Execution } = {},
  ): Promise<ExecutionResult> {
    const exec = await this.#loadOwn(executionId, options.loaded);
    if (exec.status !== "halted") {
      throw new ConflictError(`Execution "${executionId}" is ${exec.status}: only a halted execution can be resumed`);
    }
    if (options.expectedRevision !== undefined && exec.revision !== options.expectedRevision) {
      throw new ConflictError(`Execution "${executionId}" is at revision ${exec.revision}, not ${options.expectedRevision}: that halt was already answered`);
    }
    if (options.approved !== undefined && typeof options.approved !== "boolean") {
      throw new ValidationError("Invalid resume", [{ path: "approved", message: "must be a boolean" }]);
    }
    const ctx = { ...exec.ctx };
    if (options.response !== undefined) setOwn(ctx, "response", toJsonInput(options.response, "response"));
    if (options.approved !== undefined) ctx.approved = options.approved;
    const haltData = exec.haltData;
    Object.assign(exec, { ctx, status: "running", haltData: null });
    const run = this.#newRun(exec, true);
    if (exec.currentStep) run.resumed = { stepId: exec.currentStep, haltData };
    this.#emit(run, "workflow.resumed", {});
    await this.#checkpoint(run);
    return await this.#drive(run);
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
    checkExecutionId(executionId);
    const exec = loaded && loaded.id === executionId ? cloneJson(loaded) : await this.store.load(executionId);
    if (!exec) throw new NotFoundError(`Execution "${executionId}" not found`);
    if (exec.workflowId !== this.workflow.id) {
      throw new ConflictError(`Execution "${executionId}" belongs to workflow "${exec.workflowId}", not "${this.workflow.id}"`);
    }
    return exec;
  }

  #newRun(exec: Execution, claimed: boolean): Run {
    const abort = new AbortController();
    return {
      exec, claimed, entries: [], events: [], held: [], delivering: false, startedAt: Date.now(), abort, signal: abort.signal, stepsRun: 0,
    };
  }

  #now(): Date {
    return this.#clock();
  }

  #emit(run: Run, type: EventType, data: JsonObject): void {
    const event = new WorkflowEvent(type, { executionId: run.exec.id, ...data }, this.#now(), ++run.exec.eventSeq);
    run.events.push(event);
    if (run.delivering) this.#deliver(event);
    else run.held.push(event);
  }

  #deliver(event: WorkflowEvent): void {
    try {
      this.#options.onEvent?.(event);
    } catch {
      // A subscriber's error never breaks the run; the runners report it.
    }
  }

  #entry(run: Run, step: { id: string; type: string }, action: EntryAction, startedAt: number, extra: {
    output?: Json;
    error?: string;
    attempt?: number;
  }): void {
    run.entries.push({
      id: this.#ids(),
      executionId: run.exec.id,
      stepId: step.id,
      stepType: step.type,
      action,
      attempt: extra.attempt ?? 1,
      durationMs: Math.max(0, this.#now().getTime() - startedAt),
      output: extra.output ?? null,
      error: extra.error ?? null,
      timestamp: this.#now().toISOString(),
    });
  }

  /** One store round trip: the execution, its new entries and events; creates it on the first call of a new run. */
  async #checkpoint(run: Run): Promise<void> {
    const exec = run.exec;
    exec.updatedAt = this.#now().toISOString();
    const saved = await this.store.commit({
      execution: exec,
      expectedRevision: run.claimed ? exec.revision : 0,
      entries: run.entries,
      events: run.events.map((e) => e.toStored()),
    });
    exec.revision = saved.revision;
    run.entries = [];
    run.events = [];
    run.claimed = true;
    if (!run.delivering) {
      run.delivering = true;
      for (const event of run.held.splice(0)) this.#deliver(event);
    }
  }

  async #drive(run: Run): Promise<ExecutionResult> {
    const exec = run.exec;
    const abort = run.abort;
    let timer: ReturnType<typeof setTimeout> | undefined;
    if (exec.deadline) {
      const left = Date.parse(exec.deadline) - this.#now().getTime();
      timer = setTimeout(() => abort.abort(this.#timeoutError(exec)), Math.max(0, Math.min(left, 2 ** 31 - 1)));
    }
    try {
      while (exec.recoverTo && exec.recoverTo !== FINISHED) {
        if (exec.deadline && this.#now().getTime() >= Date.parse(exec.deadline)) {
          return await this.#fail(run, this.#timeoutError(exec));
        }
        if (this.#budgetUsed(run) && run.claimed && run.stepsRun > 0) return await this.#yield(run);
        const step = this.#steps.get(exec.recoverTo);
        if (!step) return await this.#fail(run, new ExecutionError(`Step "${exec.recoverTo}" does not exist in workflow "${this.workflow.id}"`));
        const outcome = await this.#runTopLevel(run, step);
        if (outcome) return outcome;
      }
      return await this.#complete(run);
    } catch (error) {
      if (error instanceof Yield) return this.#yielded(run, error.notBefore);
      throw error;
    } finally {
      if (timer !== undefined) clearTimeout(timer);
    }
  }

  #budgetUsed(run: Run): boolean {
    const budget = this.#options.budgetMs;
    return budget !== undefined && Date.now() - run.startedAt >= budget;
  }

  async #yield(run: Run): Promise<ExecutionResult> {
    run.exec.status = "pending";
    await this.#checkpoint(run);
    return this.#yielded(run);
  }

  #yielded(run: Run, notBefore?: string): ExecutionResult {
    return { status: "pending", executionId: run.exec.id, yielded: true, ...(notBefore ? { notBefore } : {}) };
  }

  /**
   * Marks an execution that can no longer advance as failed (e.g. the queue gave up delivering its job).
   * Terminal executions are left as they are. Compare-and-set like every checkpoint.
   */
  async abandon(executionId: string, reason: string): Promise<ExecutionResult> {
    const exec = await this.#loadOwn(executionId);
    if (exec.status === "completed" || exec.status === "failed") return resultOf(exec);
    const run = this.#newRun(exec, true);
    return await this.#fail(run, new ExecutionError(reason));
  }

  #timeoutError(exec: Execution): WorkflowTimeoutError {
    return new WorkflowTimeoutError(
      this.workflow.timeout ? `Workflow timeout after ${this.workflow.timeout}s` : `Workflow deadline ${exec.deadline} passed`,
    );
  }

  #countStep(run: Run): void {
    run.stepsRun += 1;
    run.exec.stepsExecuted += 1;
    if (run.exec.stepsExecuted > this.#maxSteps) {
      throw new ExecutionError(`Run limit: more than ${this.#maxSteps} steps executed in execution "${run.exec.id}"`);
    }
  }

  #stepType(step: StepDefinition): StepType {
    const type = this.registry.get(step.type);
    if (!type) throw new ExecutionError(`Unknown step type "${step.type}" (step "${step.id}")`, { stepId: step.id });
    return type;
  }

  /** Runs one top-level step; returns a result when the run ends (completed, halted, failed), else undefined. */
  async #runTopLevel(run: Run, step: StepDefinition): Promise<ExecutionResult | undefined> {
    const exec = run.exec;
    const startedAt = this.#now().getTime();
    const cursor = exec.loop && exec.loop.stepId === step.id ? exec.loop : null;
    const ctxBefore = cursor ? cursor.before : exec.ctx;
    let type: StepType;
    try {
      this.#countStep(run);
      type = this.#stepType(step);
    } catch (error) {
      return await this.#fail(run, error);
    }
    // Before a side effect: the claim, and every step run since the last checkpoint, must be stored.
    if (!type.pure && (!run.claimed || run.entries.length > 0)) await this.#checkpoint(run);
    exec.currentStep = step.id;
    this.#emit(run, "step.started", { stepId: step.id, stepType: step.type });
    const resumed = run.resumed && run.resumed.stepId === step.id ? { haltData: run.resumed.haltData } : undefined;
    run.resumed = undefined;
    let outcome: StepOutcome;
    try {
      const state: StepState = {
        executionId: exec.id,
        workflowId: this.workflow.id,
        input: exec.input,
        ctx: exec.ctx,
        scope: `${exec.id}:${step.id}`,
        nested: false,
        resumed,
        loop: cursor,
        retryAttempt: exec.retry && exec.retry.stepId === step.id ? exec.retry.attempt : undefined,
      };
      outcome = await type.execute(step, state, this.#tools(run, run.signal, step, ctxBefore, state.ctx));
      outcome = this.#checkOutcome(outcome, type, step);
    } catch (error) {
      if (error instanceof Yield) throw error;
      const text = errorText(error);
      this.#entry(run, step, "failed", startedAt, { error: text });
      this.#emit(run, "step.failed", { stepId: step.id, stepType: step.type, error: text });
      exec.loop = null;
      exec.retry = null;
      if (error instanceof WorkflowTimeoutError || run.signal.aborted) return await this.#fail(run, error);
      if (!step.on_error || error instanceof ConflictError) {
        if (error instanceof ConflictError) throw error;
        exec.ctx = { ...ctxBefore };
        return await this.#fail(run, error);
      }
      exec.ctx = {
        ...ctxBefore,
        _last_error: { step: step.id, message: error instanceof Error ? error.message : String(error), class: error instanceof Error ? error.name : "Error" },
      };
      exec.recoverTo = step.on_error;
      return undefined;
    }
    exec.loop = null;
    exec.retry = null;
    exec.ctx = outcome.ctx ?? exec.ctx;
    if (outcome.kind === "halt") {
      exec.status = "halted";
      exec.haltData = outcome.data;
      exec.recoverTo = outcome.resumeStep ?? step.next ?? FINISHED;
      this.#entry(run, step, "halted", startedAt, { output: outcome.data });
      this.#emit(run, "step.halted", { stepId: step.id, stepType: step.type, output: outcome.data });
      const result = resultOf(exec);
      this.#emit(run, "workflow.halted", { halt: result.halt as unknown as JsonObject });
      await this.#checkpoint(run);
      return result;
    }
    const output = outcome.output ?? null;
    this.#entry(run, step, "completed", startedAt, { output, attempt: outcome.attempt });
    this.#emit(run, "step.completed", { stepId: step.id, stepType: step.type, output });
    exec.recoverTo = outcome.next ?? step.next ?? FINISHED;
    return undefined;
  }

  /** JSON-only ctx and outputs, and the ctx size limit. */
  #checkOutcome(outcome: StepOutcome, type: StepType, step: StepDefinition): StepOutcome {
    if (!BUILT_IN_STEP_TYPES.includes(type)) {
      if (outcome.ctx) outcome.ctx = toJson(outcome.ctx, `The ctx of step "${step.id}"`) as JsonObject;
      if (outcome.output !== undefined) outcome.output = toJson(outcome.output, `The output of step "${step.id}"`);
    }
    if (outcome.ctx) {
      const size = jsonSize(outcome.ctx);
      if (size > this.#maxCtxBytes) {
        throw new ExecutionError(`ctx is ${size} bytes after step "${step.id}", over the limit of ${this.#maxCtxBytes}`, { stepId: step.id });
      }
    }
    return outcome;
  }

  async #complete(run: Run): Promise<ExecutionResult> {
    const exec = run.exec;
    exec.status = "completed";
    exec.recoverTo = null;
    exec.result = Object.hasOwn(exec.ctx, "result") ? exec.ctx.result! : null;
    this.#emit(run, "workflow.completed", { output: exec.result });
    await this.#checkpoint(run);
    return resultOf(exec);
  }

  async #fail(run: Run, error: unknown): Promise<ExecutionResult> {
    const exec = run.exec;
    exec.status = "failed";
    exec.error = errorText(error);
    exec.loop = null;
    this.#emit(run, "workflow.failed", { error: exec.error });
    await this.#checkpoint(run);
    return resultOf(exec);
  }

  /** The tools of one step; `stateCtx` is the ctx the step was given (references resolve against it). */
  #tools(run: Run, signal: AbortSignal, top: StepDefinition, ctxBefore: Readonly<JsonObject>, stateCtx: Readonly<JsonObject>): StepTools {
    const exec = run.exec;
    const scope = (ctx: Readonly<JsonObject>) => ({ input: exec.input, ctx, now: () => this.#now() });
    return {
      resolve: (value, ctx) => resolveValue(value, scope(ctx ?? stateCtx)),
      now: () => this.#now(),
      services: this.services,
      signal,
      sleep: this.#sleep,
      waitToRetry: async (ms, attempt) => {
        const threshold = this.#options.scheduleRetriesOverMs;
        const nested = signal !== run.signal;
        if (threshold === undefined || ms <= threshold || nested || !run.claimed || exec.currentStep !== top.id) {
          return await this.#sleep(ms, signal);
        }
        const notBefore = new Date(this.#now().getTime() + ms).toISOString();
        exec.retry = { stepId: top.id, attempt, notBefore };
        exec.status = "pending";
        await this.#checkpoint(run);
        throw new Yield(notBefore);
      },
      runSteps: (steps, ctx, options) => this.#runNested(run, steps, ctx, options, top, ctxBefore),
      runChild: (request) => this.#runChild(run, request),
      checkpointLoop: async ({ index, outputs, ctx }) => {
        exec.ctx = ctx;
        exec.loop = { stepId: top.id, index, outputs: [...outputs], before: { ...ctxBefore } };
        if (this.#budgetUsed(run)) {
          exec.status = "pending";
          await this.#checkpoint(run);
          throw new Yield();
        }
        await this.#checkpoint(run);
      },
    };
  }

  /** Steps of a loop body or a parallel branch, in listed order (a target may jump forward or end the body). */
  async #runNested(
    run: Run,
    steps: StepDefinition[],
    ctxIn: JsonObject,
    options: { parentId: string; scope: string; signal?: AbortSignal },
    top: StepDefinition,
    ctxBefore: Readonly<JsonObject>,
  ): Promise<NestedRun> {
    let ctx = ctxIn;
    let output: Json = null;
    let sideEffects = false;
    const signal = options.signal ?? run.signal;
    for (let i = 0; i < steps.length;) {
      const step = steps[i]!;
      const label = { id: `${options.parentId}:${step.id}`, type: step.type };
      if (signal.aborted) throw signal.reason;
      if (run.exec.deadline && this.#now().getTime() >= Date.parse(run.exec.deadline)) throw this.#timeoutError(run.exec);
      this.#countStep(run);
      const type = this.#stepType(step);
      if (!type.pure) sideEffects = true;
      const startedAt = this.#now().getTime();
      this.#emit(run, "step.started", { stepId: label.id, stepType: step.type });
      let outcome: StepOutcome;
      try {
        const state: StepState = {
          executionId: run.exec.id,
          workflowId: this.workflow.id,
          input: run.exec.input,
          ctx,
          scope: `${options.scope}:${step.id}`,
          nested: true,
        };
        const tools = {
          ...this.#tools(run, signal, top, ctxBefore, ctx),
          checkpointLoop: undefined,
          waitToRetry: (ms: number) => this.#sleep(ms, signal),
        };
        outcome = this.#checkOutcome(await type.execute(step, state, tools), type, step);
        if (outcome.kind === "halt") {
          throw new ExecutionError(`Step "${step.id}" cannot halt inside a loop body or a parallel branch`, { stepId: step.id });
        }
      } catch (error) {
        if (error instanceof Yield) throw error;
        const text = errorText(error);
        this.#entry(run, label, "failed", startedAt, { error: text });
        this.#emit(run, "step.failed", { stepId: label.id, stepType: step.type, error: text });
        if (!step.on_error || signal.aborted || error instanceof ConflictError) throw error;
        ctx = {
          ...ctx,
          _last_error: { step: step.id, message: error instanceof Error ? error.message : String(error), class: error instanceof Error ? error.name : "Error" },
        };
        if (step.on_error === FINISHED) break;
        i = steps.findIndex((s) => s.id === step.on_error);
        if (i < 0) break;
        continue;
      }
      ctx = outcome.ctx ?? ctx;
      output = outcome.output ?? null;
      this.#entry(run, label, "completed", startedAt, { output, attempt: outcome.attempt });
      this.#emit(run, "step.completed", { stepId: label.id, stepType: step.type, output });
      const next = outcome.next ?? step.next;
      if (next === FINISHED) break;
      i = next ? steps.findIndex((s) => s.id === next) : i + 1;
      if (i < 0) break;
    }
    return { ctx, output, sideEffects };
  }

  async #runChild(run: Run, request: ChildRequest): Promise<ChildOutcome> {
    const workflow = lookupWorkflow(this.#options.workflows, request.workflowId);
    if (!workflow) throw new ExecutionError(`Unknown workflow "${request.workflowId}" (child ${request.childId})`);
    const child = new Engine(workflow, { ...this.#options, store: this.store, services: this.services, registry: this.registry, onEvent: undefined, budgetMs: undefined });
    const deadlines = [run.exec.deadline ? Date.parse(run.exec.deadline) : Infinity];
    if (request.timeoutSeconds) deadlines.push(this.#now().getTime() + request.timeoutSeconds * 1000);
    if (workflow.timeout) deadlines.push(this.#now().getTime() + workflow.timeout * 1000);
    const deadline = Math.min(...deadlines);
    const existing = await this.store.load(request.childId);
    let result: ExecutionResult;
    if (!existing) {
      result = await child.run(request.input, { executionId: request.childId, deadline: Number.isFinite(deadline) ? new Date(deadline).toISOString() : null });
    } else if (existing.status === "halted" && request.resume) {
      result = await child.resume(request.childId, request.resume);
    } else if (existing.status === "pending") {
      result = await child.continue(request.childId);
    } else {
      result = resultOf(existing);
    }
    if (result.status === "failed") {
      throw new ExecutionError(`Child workflow "${request.workflowId}" (${request.childId}) failed: ${result.error}`);
    }
    if (result.status === "halted") {
      if (!request.mayHalt) {
        throw new ExecutionError(`Child workflow "${request.workflowId}" (${request.childId}) halted, but a step inside a loop body or a parallel branch cannot halt`);
      }
      return { status: "halted", halt: { data: result.halt?.data ?? {}, prompt: result.halt?.prompt } };
    }
    if (result.status !== "completed") {
      throw new ExecutionError(`Child workflow "${request.workflowId}" (${request.childId}) is ${result.status}, still in progress elsewhere`);
    }
    return { status: "completed", output: result.output ?? null };
  }
}

function checkExecutionId(id: string): void {
  if (typeof id !== "string" || !EXECUTION_ID_PATTERN.test(id)) {
    throw new ValidationError("Invalid execution id", [{
      path: "executionId",
      message: `"${String(id).slice(0, 60)}" must be 1-200 characters of letters, digits, _ - . : [ ]`,
    }]);
  }
}

function toJsonInput(value: unknown, what: string): Json {
  try {
    return toJson(value, what);
  } catch (error) {
    throw new ValidationError(`Invalid ${what}`, [{ path: what, message: (error as Error).message }]);
  }
}

/** What run/resume return for an execution as it is stored. */
export function resultOf(exec: Execution): ExecutionResult {
  const result: ExecutionResult = { status: exec.status, executionId: exec.id };
  if (exec.status === "completed") result.output = exec.result;
  if (exec.status === "halted") {
    const data = exec.haltData ?? {};
    const prompt = typeof data.prompt === "string" ? data.prompt : typeof data.reason === "string" ? data.reason : undefined;
    result.halt = { data, ...(prompt === undefined ? {} : { prompt }), ...(exec.recoverTo ? { resumeStep: exec.recoverTo } : {}) };
  }
  if (exec.status === "failed" && exec.error) result.error = exec.error;
  return result;
}
