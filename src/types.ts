/** Plain JSON: everything stored or sent is made of this. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

// The shapes below are also zod schemas (src/schemas.ts), which the store's checks and the HTTP schemas use;
// the compiler proves each schema and its type here the same. The types stay written out: the JSR package
// refuses types inferred from values in its public API.

export const EXECUTION_STATUSES = ["pending", "running", "halted", "completed", "failed", "cancelled"] as const;
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number];

/** Completed, failed or cancelled: nothing runs any more, and the store's retention applies. */
export function isTerminal(status: ExecutionStatus): boolean {
  return status === "completed" || status === "failed" || status === "cancelled";
}

/** Cursor of a top-level loop that checkpoints per iteration, so a continuation resumes at the next iteration. */
export interface LoopCursor {
  stepId: string;
  /** Index of the next iteration to run (foreach) or iterations done (while). */
  index: number;
  outputs: Json[];
  /** ctx as it was before the loop started: restored by on_error, and the source of shadowed loop variables. */
  before: JsonObject;
}

/** What the store keeps for one run of a workflow. */
export interface Execution {
  id: string;
  workflowId: string;
  workflowVersion: string;
  workflowHash: string;
  status: ExecutionStatus;
  input: JsonObject;
  ctx: JsonObject;
  /** The step being executed, or the last one executed (the halting or failing step). */
  currentStep: string | null;
  result: Json;
  /** Where a resume or a continuation goes on. */
  recoverTo: string | null;
  haltData: JsonObject | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
  revision: number;
  /** ISO time after which the run fails with a workflow timeout (fixed at start), or null. */
  deadline: string | null;
  /** Steps executed so far, counted against the run limit. */
  stepsExecuted: number;
  /** Sequence number of the last event emitted for this execution. */
  eventSeq: number;
  /** Set while a top-level loop is between iterations. */
  loop: LoopCursor | null;
  /** Set while a call step waits to retry outside the process (a long retry delay under an async adapter). */
  retry: RetryWait | null;
  /** While `running`: the claim's lease (ISO). Renewed by every checkpoint; once past, any worker may take over. */
  leaseUntil: string | null;
  /**
   * While `pending`: not before this time (a `wait` step, a scheduled call retry). While `halted`: when the halt
   * ends by itself (an approval's timeout), set by the step that halted. Otherwise null.
   */
  wakeAt: string | null;
  /**
   * While `halted`: an answer accepted for a queued resume and not applied yet. It is stored before the resume is
   * enqueued, so a lost job loses no answer: the sweeper hands the execution back and the answer is applied.
   */
  answer: PendingAnswer | null;
  /**
   * Visits that have ended (completed, failed or halted) of top-level steps with side effects that lie on a cycle of
   * the definition (only those can be reached twice): the idempotency keys count on from them.
   */
  visits: Record<string, number>;
  /** Operator retries so far: each starts a new epoch of idempotency keys. */
  epoch: number;
  /** Set at start (the start's own and the definition's `labels:`), never changed: what `find` filters on. */
  labels: Record<string, string>;
  /**
   * What the running top-level step stored before a side effect (an `http` step's resolved request), by idempotency
   * key, so that an attempt after a wait, a re-delivery or a takeover repeats it exactly. Cleared when the step ends.
   */
  pinned: JsonObject | null;
  /** The compensations of completed steps with `compensate:`, in the order the steps completed (undone in reverse). */
  compensations: Compensation[];
  /**
   * Set while a failed or cancelled run runs its compensations: the status stays `running` (or `pending`) until
   * they end, so the run is not terminal yet, keeps its lease and is taken over after a crash.
   */
  compensating: Compensating | null;
  /** Once compensations ran: true when every one succeeded, false when one failed after its retries; else null. */
  compensated: boolean | null;
  /** Flow control (workflows with `concurrency`, `rate`, `priority` or `debounce`): see FlowMark. */
  flow?: FlowMark | null;
  /**
   * The execution's trace: the W3C `traceparent` of its start (see src/engine/tracing.ts); every run segment's span
   * is its child, so one execution is one trace across deliveries. Absent when it started with no trace.
   */
  trace?: { traceparent: string } | null;
}

/** A step's compensation as stored when the step completed: its definition and what was resolved from it. */
export interface Compensation {
  /** The step (`<loop>:<body step>` inside a loop body or a parallel branch). */
  stepId: string;
  stepType: string;
  /** Its idempotency key: the step's key + `:compensate`. */
  key: string;
  /** The `compensate:` of the step as defined. */
  compensate: JsonObject;
  /** What the step type resolved (a call's input, an http request with secret placeholders); null with `error`. */
  resolved: Json;
  /** Why it could not be resolved: the compensation then fails with this. */
  error: string | null;
}

/** A failed or cancelled run undoing its completed steps. */
export interface Compensating {
  /** The status the run ends with once compensations ran. */
  status: "failed" | "cancelled";
  /** The error it ends with. */
  error: string;
  /** A cancel's reason. */
  reason: string | null;
  /**
   * A cancel that left the compensations to a worker holding a live lease: the revision its commit wrote. While the
   * execution is still at it, that worker may join (drive.ts joinCancel); null otherwise.
   */
  cancelRevision: number | null;
  /** False once a compensation failed after its retries (the others still run). */
  ok: boolean;
}

/** What flow control keeps on an execution. */
export interface FlowMark {
  /** The start's priority (the runner's `priority` option, else the definition's), higher first. */
  priority?: number;
  /** Why it waits, for people: `waiting for a concurrency slot of key C-7 (5/5)`, `rate limited until …`. */
  waiting?: string;
  /** It was admitted once (its start counted against `rate`): later admissions only take a slot. */
  admitted?: boolean;
  /** Debounce: the run starts no later than this (ISO), however often it is pushed back. */
  latest?: string;
}

/** A resume answer kept on a halted execution until it is applied. */
export interface PendingAnswer {
  response?: Json;
  approved?: boolean;
  /** Who answered (an API token's name), recorded on the resume's event and entry when it is applied. */
  actor?: string;
}

/** The fields of an execution that stay small whatever the run does: stored whole with every checkpoint. */
export type ExecutionHead = Omit<Execution, ExecutionBodyField>;
/** The fields that grow with the run: stored as a snapshot plus a log of deltas. */
export const EXECUTION_BODY_FIELDS = ["input", "ctx", "result", "haltData", "loop"] as const;
export type ExecutionBodyField = (typeof EXECUTION_BODY_FIELDS)[number];

/** The fields a new execution is given; every other field starts empty (`newExecution`). */
export type NewExecutionFields =
  & Pick<Execution, "id" | "workflowId" | "workflowVersion" | "workflowHash" | "status" | "input" | "recoverTo" | "createdAt" | "deadline">
  & Partial<Pick<Execution, "labels">>;

/** A new execution record (revision 0, not stored yet): the given fields, the others null, 0 or empty. */
export function newExecution(fields: NewExecutionFields): Execution {
  return {
    labels: {},
    ...fields,
    ctx: {},
    currentStep: null,
    result: null,
    haltData: null,
    error: null,
    updatedAt: fields.createdAt,
    revision: 0,
    stepsExecuted: 0,
    eventSeq: 0,
    loop: null,
    retry: null,
    leaseUntil: null,
    wakeAt: null,
    answer: null,
    visits: {},
    epoch: 0,
    pinned: null,
    compensations: [],
    compensating: null,
    compensated: null,
  };
}

/**
 * "When does a waiting run go on", answered once for the engine, the queue's wake jobs, recovery and the stores'
 * recovery index. A pending execution goes on at its `wakeAt`, or at once (since its last checkpoint) without
 * one; a halted one at once when an answer waits for it (since it was accepted), else at its halt's own wake
 * time (an approval's timeout), else only when answered. Running and ended executions are not waiting.
 */
type Waiting = Pick<Execution, "status" | "wakeAt" | "updatedAt" | "answer">;

/** The time a waiting execution is due (see above), or null when no time moves it. */
export function dueAt(exec: Waiting): string | null {
  if (exec.status === "pending") return exec.wakeAt ?? exec.updatedAt;
  if (exec.status === "halted") return exec.answer ? exec.updatedAt : exec.wakeAt;
  return null;
}

/** True when a waiting execution may go on at `now` (ms): its own time has passed, or it waits for none. */
export function isDue(exec: Waiting, now: number): boolean {
  if (exec.status === "pending") return !exec.wakeAt || now >= Date.parse(exec.wakeAt);
  if (exec.status === "halted") return !!exec.answer || (!!exec.wakeAt && now >= Date.parse(exec.wakeAt));
  return false;
}

/**
 * What one checkpoint changed in the body of an execution. A store appends it to the execution's log; a load
 * folds snapshot + deltas (applyDelta). Values are plain JSON and are never mutated after the commit.
 */
export interface ExecutionDelta {
  /** ctx keys set to these values. */
  set?: JsonObject;
  /** ctx keys removed. */
  unset?: string[];
  input?: JsonObject;
  result?: Json;
  haltData?: JsonObject | null;
  /** null: the cursor is cleared; a whole cursor: a loop starts; `{ index, append }`: the cursor moves on. */
  loop?: LoopCursor | { index: number; append: Json[] } | null;
}

/** A call whose next attempt was scheduled instead of slept for (the time is the execution's `wakeAt`). */
export interface RetryWait {
  stepId: string;
  /** The attempt to run when the execution continues. */
  attempt: number;
}

export const ENTRY_ACTIONS = ["completed", "halted", "failed", "compensated", "compensation_failed"] as const;
export type EntryAction = (typeof ENTRY_ACTIONS)[number];

/** History: one per executed step (loop body steps as `<loopId>:<bodyId>`), in order. */
export interface Entry {
  id: string;
  executionId: string;
  stepId: string;
  stepType: string;
  action: EntryAction;
  attempt: number;
  durationMs: number;
  output: Json;
  error: string | null;
  timestamp: string;
  /** Who resumed the run (an API token's name): on the first entry written after the resume (an approval's own, or the step after a halt). */
  actor?: string;
}

/** A halt as run/resume report it. */
export interface HaltInfo {
  data: JsonObject;
  /** The halt's reason or the approval's prompt. */
  prompt?: string;
  resumeStep?: string;
  /** When the halt ends by itself (an approval's timeout), set by the step: the run is woken then. */
  wakeAt?: string;
}

/** The fields every result may have; each status of ExecutionResult sets its own and leaves the others undefined. */
interface ResultFields {
  executionId: string;
  output?: undefined;
  halt?: undefined;
  error?: undefined;
  yielded?: undefined;
  notBefore?: undefined;
  compensating?: undefined;
  compensated?: undefined;
  /** Flow control: executions waiting for the slot this call released, to be continued (the async runner enqueues them). */
  flowStart?: string[];
}

/** What run/resume return: a tagged union on `status`. */
export type ExecutionResult =
  | Omit<ResultFields, "output"> & { status: "completed"; output: Json }
  | Omit<ResultFields, "halt"> & { status: "halted"; halt: HaltInfo }
  | Omit<ResultFields, "error" | "compensated"> & {
    status: "failed" | "cancelled";
    error?: string;
    /** After compensations ran: true when every one succeeded. */
    compensated?: boolean;
  }
  | Omit<ResultFields, "yielded" | "notBefore"> & {
    status: "pending";
    /** Checkpointed as `pending` (budget, a wait, a scheduled retry): a continuation must be enqueued. */
    yielded?: boolean;
    /** The continuation must not run before this ISO time. */
    notBefore?: string;
  }
  | Omit<ResultFields, "compensating" | "error"> & {
    status: "running";
    /** While compensations run: the status the run will end with. */
    compensating?: "failed" | "cancelled";
    error?: string;
  };

export const EVENT_TYPES = [
  "workflow.started",
  "workflow.resumed",
  "workflow.completed",
  "workflow.halted",
  "workflow.failed",
  "workflow.cancelled",
  "workflow.compensating",
  "step.started",
  "step.completed",
  "step.halted",
  "step.failed",
  "step.retrying",
  "event.received",
  "workflow.triggered",
  "step.compensated",
  "step.compensation_failed",
  "flow.queued",
  "flow.started",
  "workflow.migrated",
  "workflow.recovered",
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** An event as stored in the execution's event log (plain JSON). */
export interface StoredEvent {
  seq: number;
  type: EventType;
  data: JsonObject;
  timestamp: string;
}

export const JOB_ACTIONS = ["start", "resume", "continue", "wake"] as const;
export type JobAction = (typeof JOB_ACTIONS)[number];

/**
 * What a queue carries: small, never the execution's state. `wake` is a timer: it resumes a halt whose own wake
 * time has passed (an approval then takes `on_timeout`), applies an answer whose resume job was lost, or
 * continues an execution whose wait is over.
 */
export interface Job {
  workflowId: string;
  workflowVersion?: string;
  executionId: string;
  action: JobAction;
  response?: Json;
  approved?: boolean;
  /** For `wake`: the wake time of the halt the timer was set for; a timer for another halt does nothing. */
  wakeAt?: string;
  /** For `wake`, in jobs queued by older versions: the approval's `requested_at` (such a timer acts if its halt is due). */
  haltedAt?: string;
  /**
   * For `resume` and `wake`: the revision of the halted execution the job is for. A job whose halt was already
   * answered (the execution moved on to another revision) does nothing.
   */
  revision?: number;
  /** For `start`: the execution's `createdAt`, which tells apart two executions that reused one id. */
  createdAt?: string;
  queue?: string;
  priority?: number;
  /**
   * For `start`: the queue's own flow control for the workflow's limits (QStash `flowControl`), so deliveries are
   * spread rather than refused; the store's admission stays the source of truth. Never on continuations.
   */
  flowControl?: JobFlowControl;
  /** W3C `traceparent` of what enqueued the job (the run segment, or the start): the segment performing it links to it. */
  traceparent?: string;
}

/** A start job's flow control for the queue: one key, the concurrency as `parallelism`, the rate per `period` seconds. */
export interface JobFlowControl {
  key: string;
  parallelism?: number;
  rate?: number;
  period?: number;
}

/** Context handed to a service method as its second argument. */
export interface ServiceContext {
  executionId: string;
  stepId: string;
  attempt: number;
  signal: AbortSignal;
  idempotencyKey: string;
}

/** A service method: receives the resolved `input` of the call step (plain JSON) and must return plain JSON. */
// deno-lint-ignore no-explicit-any
export type ServiceMethod = (input: any, context: ServiceContext) => unknown;
/** `services: { OrderService: { validate_order: fn } }` or `{ notify: fn }` for method-less calls. */
export type Services = Record<string, ServiceMethod | Record<string, ServiceMethod>>;
