/** Plain JSON: everything stored or sent is made of this. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export type ExecutionStatus = "pending" | "running" | "halted" | "completed" | "failed" | "cancelled";
export const EXECUTION_STATUSES: readonly ExecutionStatus[] = ["pending", "running", "halted", "completed", "failed", "cancelled"];

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
   * While `pending`: not before this time (a `wait` step, a scheduled call retry). While `halted` at an approval
   * with a timeout: when it expires. Otherwise null.
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
export type ExecutionBodyField = "input" | "ctx" | "result" | "haltData" | "loop";
export const EXECUTION_BODY_FIELDS: readonly ExecutionBodyField[] = ["input", "ctx", "result", "haltData", "loop"];

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

export type EntryAction = "completed" | "halted" | "failed";

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

export interface HaltInfo {
  data: JsonObject;
  prompt?: string;
  resumeStep?: string;
}

/** What run/resume return. */
export interface ExecutionResult {
  status: ExecutionStatus;
  executionId: string;
  output?: Json;
  halt?: HaltInfo;
  error?: string;
  /** The run used up its time budget and was checkpointed as `pending`: a continuation must be enqueued. */
  yielded?: boolean;
  /** With `yielded`: the continuation must not run before this ISO time (a scheduled call retry). */
  notBefore?: string;
}

export type EventType =
  | "workflow.started"
  | "workflow.resumed"
  | "workflow.completed"
  | "workflow.halted"
  | "workflow.failed"
  | "workflow.cancelled"
  | "step.started"
  | "step.completed"
  | "step.halted"
  | "step.failed"
  | "step.retrying";

export const EVENT_TYPES: readonly EventType[] = [
  "workflow.started",
  "workflow.resumed",
  "workflow.completed",
  "workflow.halted",
  "workflow.failed",
  "workflow.cancelled",
  "step.started",
  "step.completed",
  "step.halted",
  "step.failed",
  "step.retrying",
];

/** An event as stored in the execution's event log (plain JSON). */
export interface StoredEvent {
  seq: number;
  type: EventType;
  data: JsonObject;
  timestamp: string;
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
