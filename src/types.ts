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
  /** Flow control (workflows with `concurrency`, `rate`, `priority` or `debounce`): see FlowMark. */
  flow?: FlowMark | null;
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
  /** Flow control: executions waiting for the slot this call released, to be continued (the async runner enqueues them). */
  flowStart?: string[];
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
  | "step.retrying"
  | "flow.queued"
  | "flow.started";

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
  "flow.queued",
  "flow.started",
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
