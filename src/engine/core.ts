/**
 * What the engine's programs share (start.ts starts runs, operator.ts changes executions, drive.ts runs steps,
 * tools.ts gives steps their tools, admission.ts admits runs): the options, and how a call loads an execution, makes
 * its Run and traces its segment. Plus what an execution as stored answers (resultOf) and how a claim expires.
 */
import { currentConfig, type WorkflowLookup } from "../config.ts";
import type { WorkflowDefinition } from "../definition/workflow.ts";
import { ConfigError, ConflictError, NotFoundError, WorkflowTimeoutError } from "../errors.ts";
import { isPlainObject } from "../json.ts";
import type { Log, Logger } from "../log.ts";
import { defaultStepRegistry, type StepRegistry } from "../steps/registry.ts";
import type { HttpOptions, StepDefinition } from "../steps/step.ts";
import { assertExecutionId } from "../ids.ts";
import type { Commit, EventWait, Store } from "../store/store.ts";
import type { Condition } from "../expressions/conditions.ts";
import { matchKey, type SentEvent } from "../expressions/events.ts";
import type { Execution, ExecutionResult, JsonObject, Services } from "../types.ts";
import { type Clock, toClock } from "./clock.ts";
import { definitionToPin, markStored, pinnedDefinition } from "./definitions.ts";
import type { ChildEngine } from "./child.ts";
import type { EventHandler } from "./events.ts";
import { isGated } from "./flow.ts";
import { Run } from "./run.ts";
import { instruments, type Outcome, type SegmentTrace, startSegment, timed } from "./tracing.ts";

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

/** An engine for the child workflow of a `workflow` step (made by the Engine class: this module knows no Engine). */
export type ChildEngines = (workflow: WorkflowDefinition, options: EngineOptions) => ChildEngine;

/** One engine's settings and the helpers every program of the engine uses. */
export class EngineCore {
  readonly workflow: WorkflowDefinition;
  readonly store: Store;
  readonly services: Services;
  readonly registry: StepRegistry;
  readonly clock: Clock;
  readonly options: EngineOptions;
  readonly ids: () => string;
  readonly leaseMs: number;
  readonly maxInlineWaitMs: number;
  readonly #maxSteps: number;
  readonly #maxCtxBytes: number;
  /** W3C traceparent of the last run segment this engine traced (follow-up jobs carry it); undefined untraced. */
  lastTraceparent: string | undefined;

  constructor(workflow: WorkflowDefinition, options: EngineOptions, readonly childEngine: ChildEngines) {
    const config = currentConfig();
    const store = options.store ?? config.store;
    if (!store) throw new ConfigError("No store configured: pass { store } or call configure({ store })");
    this.workflow = workflow;
    this.store = store;
    this.services = options.services ?? config.services ?? {};
    this.registry = options.registry ?? defaultStepRegistry;
    this.clock = toClock(options.clock ?? config.clock, options.sleep);
    this.options = options;
    this.ids = options.ids ?? (() => crypto.randomUUID());
    this.#maxSteps = options.limits?.maxSteps ?? DEFAULT_MAX_STEPS;
    this.#maxCtxBytes = options.limits?.maxCtxBytes ?? DEFAULT_MAX_CTX_BYTES;
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.maxInlineWaitMs = options.maxInlineWaitMs ?? DEFAULT_MAX_INLINE_WAIT_MS;
  }

  /**
   * The execution from the store, or `loaded` (the caller's fresh copy, saving a round trip): either way its
   * revision guards the checkpoints that follow.
   */
  async loadOwn(executionId: string, loaded?: Execution): Promise<Execution> {
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
  async pinned(exec: Execution): Promise<WorkflowDefinition> {
    return (await pinnedDefinition(this.store, exec.workflowHash, this.workflow, this.registry)) ?? this.workflow;
  }

  /** `checkCurrent`: a new execution's first commit is refused unless `workflow` is the current version (Commit.currentHash). */
  newRun(exec: Execution, workflow: WorkflowDefinition, claimed: boolean, checkCurrent = false): Run {
    return new Run(exec, workflow, stepsOf(workflow), claimed, {
      store: this.store,
      clock: this.clock,
      ids: this.options.ids,
      onEvent: this.options.onEvent,
      leaseMs: this.leaseMs,
      maxSteps: this.#maxSteps,
      maxCtxBytes: this.#maxCtxBytes,
      definition: claimed ? undefined : definitionToPin(this.store, workflow, this.clock.now()),
      ...(checkCurrent && !claimed ? { currentHash: workflow.hash } : {}),
    });
  }

  /**
   * Creates a new `pending` execution of this engine's workflow (expected revision 0), its definition stored with it
   * when this isolate has not stored it yet; `extra`: more of the commit (events, currentHash). The execution as stored.
   */
  async createPending(exec: Execution, extra: Pick<Commit, "events" | "currentHash"> = {}): Promise<Execution> {
    const definition = definitionToPin(this.store, this.workflow, this.clock.now());
    const { revision } = await this.store.commit({ execution: exec, expectedRevision: 0, ...extra, ...(definition ? { definition } : {}) });
    markStored(this.store, this.workflow.hash);
    return { ...exec, revision };
  }

  deadlineFrom(now: Date, workflow: WorkflowDefinition): string | null {
    return workflow.timeout ? new Date(now.getTime() + workflow.timeout * 1000).toISOString() : null;
  }

  /** Flow control applies to this workflow: it declares `concurrency` or `rate`, and this engine admits runs. */
  gated(workflow: WorkflowDefinition): boolean {
    return this.options.flowControl !== false && isGated(workflow);
  }

  /** The call's time budget (`budgetMs`) is used up. */
  budgetUsed(run: Run): boolean {
    const budget = this.options.budgetMs;
    return budget !== undefined && run.nowMs() - run.startedAt >= budget;
  }

  /** The span of one run segment (`kind`: run, continue, resume, or an operator's cancel, retry, migrate), when an SDK records. */
  startSegment(exec: Execution, kind: string): SegmentTrace | undefined {
    const segment = startSegment(exec, kind, this.options.traceparent);
    if (segment) this.lastTraceparent = segment.traceparent;
    return segment;
  }

  /** Does `work` within `segment`, which ends with its outcome. */
  async within<T extends Outcome>(segment: SegmentTrace | undefined, work: () => Promise<T>): Promise<T> {
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
}

/** Each definition's steps by id, made once per definition (definitions are frozen), whichever engine asks: runners make an engine per call. */
const stepMaps = new WeakMap<WorkflowDefinition, Map<string, StepDefinition>>();

function stepsOf(workflow: WorkflowDefinition): ReadonlyMap<string, StepDefinition> {
  let steps = stepMaps.get(workflow);
  if (!steps) stepMaps.set(workflow, steps = new Map(workflow.steps.map((step) => [step.id, step])));
  return steps;
}

export function timeoutError(run: Run): WorkflowTimeoutError {
  return new WorkflowTimeoutError(
    run.workflow.timeout ? `Workflow timeout after ${run.workflow.timeout}s` : `Workflow deadline ${run.exec.deadline} passed`,
  );
}

/** When a running execution's claim expires: its lease, or (stored before leases) its last checkpoint + `leaseMs`. */
export function leaseExpiry(exec: Execution, leaseMs: number): number {
  return exec.leaseUntil ? Date.parse(exec.leaseUntil) : Date.parse(exec.updatedAt) + leaseMs;
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

/** The answer of a call that ended at a checkpoint with the execution pending (a continuation is due, at `notBefore`). */
export function yielded(run: Run, notBefore?: string): ExecutionResult {
  return { status: "pending", executionId: run.exec.id, yielded: true, ...(notBefore ? { notBefore } : {}) };
}

/** What run/resume return for an execution as it is stored: the fields of its status. */
export function resultOf(exec: Execution): ExecutionResult {
  const executionId = exec.id;
  switch (exec.status) {
    case "completed":
      return { status: "completed", executionId, output: exec.result };
    case "halted": {
      const data = exec.haltData ?? {};
      const prompt = typeof data.prompt === "string" ? data.prompt : typeof data.reason === "string" ? data.reason : undefined;
      const halt = {
        data,
        ...(prompt === undefined ? {} : { prompt }),
        ...(exec.recoverTo ? { resumeStep: exec.recoverTo } : {}),
        ...(exec.wakeAt ? { wakeAt: exec.wakeAt } : {}),
      };
      return { status: "halted", executionId, halt };
    }
    case "failed":
    case "cancelled":
      return {
        status: exec.status,
        executionId,
        ...(exec.error ? { error: exec.error } : {}),
        ...(exec.compensated !== null ? { compensated: exec.compensated } : {}),
      };
    case "pending":
      return { status: "pending", executionId, ...(exec.wakeAt ? { notBefore: exec.wakeAt } : {}) };
    case "running":
      return {
        status: "running",
        executionId,
        ...(exec.compensating ? { compensating: exec.compensating.status, error: exec.compensating.error } : {}),
      };
  }
}
