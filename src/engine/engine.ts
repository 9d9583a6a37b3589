import type { WorkflowDefinition } from "../definition/workflow.ts";
import type { StepRegistry } from "../steps/registry.ts";
import type { Store } from "../store/store.ts";
import type { Execution, ExecutionResult, Services } from "../types.ts";
import type { Clock } from "./clock.ts";
import { EngineCore, type EngineOptions, resultOf } from "./core.ts";
import { accept, cancel, migrate, retry } from "./operator.ts";
import { type ContinueOptions, continueRun, prepare, type PrepareOptions, resume, type RunOptions, startRun } from "./start.ts";

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
 * runs on the definition it started with (stored under its hash), whatever `workflow` is now. This class is the
 * public face: starting and going on is start.ts, the drive loop drive.ts, the operator's calls operator.ts, the
 * tools of steps tools.ts, flow admission admission.ts.
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
  run(input: unknown, options: RunOptions = {}): Promise<ExecutionResult> {
    return startRun(this.#core, input, options);
  }

  /**
   * Saves a new `pending` execution (the async runner's first step) after checking the input; an id that
   * already exists with the same input is left alone (idempotent). Returns the execution as stored. `traceparent`:
   * the start request's, the parent of the execution's trace.
   */
  prepare(input: unknown, options: PrepareOptions = {}): Promise<Execution> {
    return prepare(this.#core, input, options);
  }

  /**
   * Runs on a `pending` execution (saved by the async runner, left by a yield, waiting for a time), or takes
   * over a `running` one whose lease has expired. A pending execution whose `wakeAt` is still ahead is left
   * alone: `{ status: "pending", yielded: true, notBefore }`.
   */
  continue(executionId: string, options: ContinueOptions = {}): Promise<ExecutionResult> {
    return continueRun(this.#core, executionId, options);
  }

  /**
   * Resumes a halted execution: `response` goes to `ctx.response`, `approved` to `ctx.approved`, and the run
   * continues at `recoverTo`. Only a halted execution resumes (ConflictError otherwise; also when
   * `expectedRevision` is given and the halt is another one); the halted → running transition is a
   * compare-and-set, so concurrent resumes run it once. A bad answer is a ValidationError and changes nothing.
   */
  resume(
    executionId: string,
    options: { response?: unknown; approved?: unknown; expectedRevision?: number; loaded?: Execution; actor?: string } = {},
  ): Promise<ExecutionResult> {
    return resume(this.#core, executionId, options);
  }

  /**
   * Keeps an answer on a halted execution for a queued resume (the async path): stored first, so a lost job loses
   * no answer — the sweeper hands the execution back after its grace and the answer is applied. The first answer
   * wins: ConflictError when one is already waiting. Returns the execution as stored (its revision is the one the
   * resume job names).
   */
  accept(executionId: string, options: { response?: unknown; approved?: unknown; actor?: string } = {}): Promise<Execution> {
    return accept(this.#core, executionId, options);
  }

  /**
   * Cancels a pending, running or halted execution: it becomes `cancelled` (terminal) at once; a worker still
   * running it stops at its next checkpoint (its compare-and-set loses), and jobs that arrive later do nothing.
   * When the workflow declares compensations, the execution is `running` with `compensating` instead: its compensations
   * run here, or, while a worker holds a live lease, in that worker once its next checkpoint loses (so a step it had in
   * flight is compensated too). ConflictError when it has already ended or is being compensated.
   */
  cancel(executionId: string, options: { reason?: string; actor?: string } = {}): Promise<ExecutionResult> {
    return cancel(this.#core, executionId, options);
  }

  /**
   * Reopens a failed execution at the step that failed, with the ctx it had before that step, on the
   * definition it started with; the entries keep the first attempt's history. It is stored `pending` (a new
   * deadline, when the workflow has a timeout) for `continue` or a queued job to run. ConflictError unless failed.
   */
  retry(executionId: string, options: { actor?: string } = {}): Promise<Execution> {
    return retry(this.#core, executionId, options);
  }

  /**
   * Moves a halted or pending execution onto `target` (another version of its workflow) when every step it
   * stands on exists there; ConflictError naming what is missing otherwise.
   */
  migrate(executionId: string, target: WorkflowDefinition = this.workflow, options: { actor?: string } = {}): Promise<Execution> {
    return migrate(this.#core, executionId, target, options);
  }

  /** The result of an execution as it is stored. */
  async result(executionId: string): Promise<ExecutionResult> {
    return resultOf(await this.#core.loadOwn(executionId));
  }
}
