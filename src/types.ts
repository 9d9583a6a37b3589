import type { z } from "zod";
import type {
  EntrySchema,
  ExecutionHeadSchema,
  ExecutionResultSchema,
  ExecutionSchema,
  ExecutionStatusSchema,
  HaltSchema,
  LoopCursorSchema,
  PendingAnswerSchema,
  RetryWaitSchema,
  StoredEventSchema,
} from "./schemas.ts";
import { EVENT_TYPES as EVENT_TYPE_LIST, EXECUTION_BODY_FIELDS as BODY_FIELDS, EXECUTION_STATUSES as STATUSES } from "./schemas.ts";

// The shapes are defined once, as zod schemas in schemas.ts; these are their types.
export type { Json, JsonObject } from "./schemas.ts";
import type { Json, JsonObject } from "./schemas.ts";

export type ExecutionStatus = z.infer<typeof ExecutionStatusSchema>;
export const EXECUTION_STATUSES: readonly ExecutionStatus[] = STATUSES;

/** Completed, failed or cancelled: nothing runs any more, and the store's retention applies. */
export function isTerminal(status: ExecutionStatus): boolean {
  return status === "completed" || status === "failed" || status === "cancelled";
}

/** Cursor of a top-level loop that checkpoints per iteration, so a continuation resumes at the next iteration. */
export type LoopCursor = z.infer<typeof LoopCursorSchema>;
/** What the store keeps for one run of a workflow. */
export type Execution = z.infer<typeof ExecutionSchema>;
/** A resume answer kept on a halted execution until it is applied. */
export type PendingAnswer = z.infer<typeof PendingAnswerSchema>;

/** The fields of an execution that stay small whatever the run does: stored whole with every checkpoint. */
export type ExecutionHead = z.infer<typeof ExecutionHeadSchema>;
/** The fields that grow with the run: stored as a snapshot plus a log of deltas. */
export type ExecutionBodyField = (typeof BODY_FIELDS)[number];
export const EXECUTION_BODY_FIELDS: readonly ExecutionBodyField[] = BODY_FIELDS;

/** The fields a new execution is given; every other field starts empty (`newExecution`). */
export type NewExecutionFields = Pick<
  Execution,
  "id" | "workflowId" | "workflowVersion" | "workflowHash" | "status" | "input" | "recoverTo" | "createdAt" | "deadline"
>;

/** A new execution record (revision 0, not stored yet): the given fields, the others null, 0 or empty. */
export function newExecution(fields: NewExecutionFields): Execution {
  return {
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
export type RetryWait = z.infer<typeof RetryWaitSchema>;

export type EntryAction = Entry["action"];

/** History: one per executed step (loop body steps as `<loopId>:<bodyId>`), in order. */
export type Entry = z.infer<typeof EntrySchema>;

/** A halt as run/resume report it (`wakeAt`: when it ends by itself). */
export type HaltInfo = z.infer<typeof HaltSchema>;

/** What run/resume return. */
export type ExecutionResult = z.infer<typeof ExecutionResultSchema>;

export type EventType = (typeof EVENT_TYPE_LIST)[number];
export const EVENT_TYPES: readonly EventType[] = EVENT_TYPE_LIST;

/** An event as stored in the execution's event log (plain JSON). */
export type StoredEvent = z.infer<typeof StoredEventSchema>;

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
