/**
 * One zod schema per shape that is stored or sent: the execution record, its history entry, the halt, the
 * result of a run, the stored event, the queue's job. The store's checks (`src/store/format.ts`), the HTTP
 * schemas and so `/openapi.json` (`routes/schemas.ts`) and the dashboard's JSDoc types derive from these; the
 * TypeScript types in `src/types.ts` are written out (the JSR package refuses inferred types in its public API)
 * and proven the same as these at compile time (the end of this file), so neither can drift. Descriptions are
 * zod metadata (`.describe`), which the OpenAPI generator reads; the HTTP layer adds only component names.
 */
import { z } from "zod";
import { ValidationError } from "./errors.ts";
import { executionIdSchema, workflowIdSchema } from "./ids.ts";
import {
  type Compensating,
  type Compensation,
  type Entry,
  ENTRY_ACTIONS,
  EVENT_TYPES,
  type Execution,
  EXECUTION_BODY_FIELDS,
  EXECUTION_STATUSES,
  type ExecutionHead,
  type ExecutionResult,
  type FlowMark,
  type HaltInfo,
  type Job,
  JOB_ACTIONS,
  type JobFlowControl,
  type Json,
  type JsonObject,
  type LoopCursor,
  type PendingAnswer,
  type RetryWait,
  type StoredEvent,
} from "./types.ts";

/**
 * Any JSON value. The schema types it and does not walk it: JSON-ness is checked where a value enters (input
 * rules, resume answers, service results) and when it is stored (serialized), and `z.json()` has no OpenAPI form.
 */
export const JsonSchema = z.unknown().describe("Any JSON value") as z.ZodType<Json>;
export const JsonObjectSchema: z.ZodType<JsonObject> = z.record(z.string(), JsonSchema);

const timestamp = z.string().describe("ISO-8601");

export const ExecutionStatusSchema = z.enum(EXECUTION_STATUSES);

/** Cursor of a top-level loop that checkpoints per iteration, so a continuation resumes at the next iteration. */
export const LoopCursorSchema = z.object({
  stepId: z.string(),
  index: z.number().int().describe("Index of the next iteration to run (foreach) or iterations done (while)"),
  outputs: z.array(JsonSchema),
  before: JsonObjectSchema.describe(
    "ctx as it was before the loop started: restored by on_error, and the source of shadowed loop variables",
  ),
});

/** A call whose next attempt was scheduled instead of slept for (the time is the execution's `wakeAt`). */
export const RetryWaitSchema = z.object({
  stepId: z.string(),
  attempt: z.number().int().describe("The attempt to run when the execution continues"),
});

/** A resume answer kept on a halted execution until it is applied. */
export const PendingAnswerSchema = z.object({
  response: JsonSchema.optional(),
  approved: z.boolean().optional(),
  actor: z.string().optional().describe("Who answered (an API token's name), recorded on the resume's event and entry when it is applied"),
});

/** A step's compensation as stored when the step completed (`compensate:`). */
export const CompensationSchema = z.object({
  stepId: z.string().describe("The step (`<loop>:<body step>` inside a loop body or a parallel branch)"),
  stepType: z.string(),
  key: z.string().describe("Its idempotency key: the step's key + `:compensate`"),
  compensate: JsonObjectSchema.describe("The `compensate:` of the step as defined"),
  resolved: JsonSchema.describe(
    "What was resolved from it when the step completed (a call's input, an http request with secret placeholders)",
  ),
  error: z.string().nullable().describe("Why it could not be resolved: the compensation then fails with this"),
});

/** A failed or cancelled run undoing its completed steps. */
export const CompensatingSchema = z.object({
  status: z.enum(["failed", "cancelled"]).describe("The status the run ends with once compensations ran"),
  error: z.string().describe("The error it ends with"),
  reason: z.string().nullable().describe("A cancel's reason"),
  ok: z.boolean().describe("False once a compensation failed after its retries (the others still run)"),
  cancelRevision: z.number().int().nullable().describe(
    "A cancel that left the compensations to the worker holding a live lease: the revision its commit wrote",
  ),
});

/** What flow control keeps on an execution (workflows with `concurrency`, `rate`, `priority` or `debounce`). */
export const FlowMarkSchema = z.object({
  priority: z.number().optional().describe("The start's priority (the runner's `priority` option, else the definition's), higher first"),
  waiting: z.string().optional().describe(
    "Why it waits: `waiting for a concurrency slot of key C-7 (5/5), position 2`, `rate limited until …`",
  ),
  admitted: z.boolean().optional().describe("It was admitted once (its start counted against `rate`)"),
  latest: z.string().optional().describe("Debounce: it starts no later than this"),
});

/** What the store keeps for one run of a workflow. */
export const ExecutionSchema = z.object({
  id: executionIdSchema,
  workflowId: workflowIdSchema,
  workflowVersion: z.string(),
  workflowHash: z.string(),
  status: ExecutionStatusSchema,
  input: JsonObjectSchema,
  ctx: JsonObjectSchema,
  currentStep: z.string().nullable().describe("The step being executed, or the last one executed (the halting or failing step)"),
  result: JsonSchema,
  recoverTo: z.string().nullable().describe("Where a resume or a continuation goes on"),
  haltData: JsonObjectSchema.nullable(),
  error: z.string().nullable(),
  createdAt: timestamp,
  updatedAt: timestamp,
  revision: z.number().int().min(0).describe("Increases by one with every save"),
  deadline: z.string().nullable().describe("When the workflow timeout fails the run (fixed at start), or null"),
  stepsExecuted: z.number().int().describe("Steps executed so far, counted against the run limit"),
  eventSeq: z.number().int().describe("Sequence number of the last event emitted for this execution"),
  loop: LoopCursorSchema.nullable().describe("Set while a top-level loop is between iterations"),
  retry: RetryWaitSchema.nullable().describe(
    "Set while a call step waits to retry outside the process (a long retry delay under an async adapter)",
  ),
  leaseUntil: z.string().nullable().describe(
    "While running: the claim's lease. Renewed by every checkpoint; once past, any worker may take over",
  ),
  wakeAt: z.string().nullable().describe(
    "While pending: not before this time (a wait, a scheduled retry); while halted: when the halt ends by itself (an approval's timeout)",
  ),
  answer: PendingAnswerSchema.nullable().describe(
    "While halted: an answer accepted for a queued resume and not applied yet (stored before the resume is enqueued, so a lost job loses no answer)",
  ),
  visits: z.record(z.string(), z.number().int()).describe(
    "Ended visits of top-level steps with side effects on a cycle of the definition: the idempotency keys count on from them",
  ),
  epoch: z.number().int().describe("Operator retries so far: each starts a new epoch of idempotency keys"),
  labels: z.record(z.string(), z.string()).describe(
    "Set at start (the start's `labels` over the definition's `labels:`), never changed: what `find` filters on",
  ),
  pinned: JsonObjectSchema.nullable().describe(
    "What the running top-level step stored before a side effect (an http step's resolved request), by idempotency key",
  ),
  compensations: z.array(CompensationSchema).describe(
    "The compensations of completed steps with `compensate:`, in the order the steps completed (undone in reverse)",
  ),
  compensating: CompensatingSchema.nullable().describe(
    "Set while a failed or cancelled run runs its compensations: the status stays `running` (or `pending`) until they end",
  ),
  compensated: z.boolean().nullable().describe(
    "Once compensations ran: true when every one succeeded, false when one failed after its retries; else null",
  ),
  flow: FlowMarkSchema.nullable().optional().describe("Flow control: the start's priority and, while it waits, why"),
  trace: z.object({ traceparent: z.string().max(100) }).nullable().optional().describe(
    "The execution's OpenTelemetry trace: the W3C traceparent of its start (every run segment's span is its child)",
  ),
});

const bodyMask = Object.fromEntries(EXECUTION_BODY_FIELDS.map((field) => [field, true] as const)) as {
  [F in (typeof EXECUTION_BODY_FIELDS)[number]]: true;
};

/** The fields of an execution that stay small whatever the run does: stored whole with every checkpoint. */
export const ExecutionHeadSchema = ExecutionSchema.omit(bodyMask);

/** History: one per executed step (loop body steps as `<loopId>:<bodyId>`), in order. */
export const EntrySchema = z.object({
  id: z.string(),
  executionId: executionIdSchema,
  stepId: z.string().describe("Loop body steps as `<loopId>:<bodyId>`"),
  stepType: z.string(),
  action: z.enum(ENTRY_ACTIONS),
  attempt: z.number().int(),
  durationMs: z.number(),
  output: JsonSchema,
  error: z.string().nullable(),
  timestamp,
  actor: z.string().optional().describe(
    "Who resumed the run (an API token's name): on the first entry written after the resume",
  ),
});

/**
 * A halt as run/resume report it. `wakeAt` is set by the step that halted when the halt ends by itself (an
 * approval's timeout): the engine keeps it as the execution's `wakeAt` and queues wake the run then, without
 * reading the halt's data.
 */
export const HaltSchema = z.object({
  data: JsonObjectSchema,
  prompt: z.string().optional().describe("The halt's reason or the approval's prompt"),
  resumeStep: z.string().optional(),
  wakeAt: timestamp.optional().describe("When the halt ends by itself (an approval's timeout): the run is woken then"),
});

/** What run/resume return. */
export const ExecutionResultSchema = z.object({
  status: ExecutionStatusSchema,
  executionId: z.string(),
  output: JsonSchema.optional().describe("The run's result, when completed"),
  halt: HaltSchema.optional(),
  error: z.string().optional().describe("`<ErrorName>: <message>`, when failed or cancelled"),
  yielded: z.boolean().optional().describe(
    "The run used up its time budget and was checkpointed as `pending`: a continuation must be enqueued",
  ),
  notBefore: timestamp.optional().describe("When pending: the run goes on at this time (a continuation is queued)"),
  compensating: z.enum(["failed", "cancelled"]).optional().describe(
    "While the compensations of a failed or cancelled run run (status `running`): how it will end",
  ),
  compensated: z.boolean().optional().describe("Failed or cancelled after compensations ran: true when every one succeeded"),
  flowStart: z.array(z.string()).optional().describe(
    "Flow control: executions waiting for the slot this call released, to be continued (the async runner enqueues them)",
  ),
});

/** An event as stored in the execution's event log (plain JSON). */
export const StoredEventSchema = z.object({
  type: z.enum(EVENT_TYPES),
  data: JsonObjectSchema,
  timestamp,
  seq: z.number().int().describe("1, 2, ... per execution; the SSE id is `<executionId>:<seq>`"),
});

/**
 * What a queue carries: small, never the execution's state. `wake` is a timer: it resumes a halt whose own wake
 * time has passed (an approval then takes `on_timeout`), applies an answer whose resume job was lost, or
 * continues an execution whose wait is over.
 */
export const JobSchema = z.object({
  workflowId: workflowIdSchema,
  workflowVersion: z.string().max(100).optional(),
  executionId: executionIdSchema,
  action: z.enum(JOB_ACTIONS),
  response: JsonSchema.optional(),
  approved: z.boolean().optional(),
  /** For `wake`: the wake time of the halt the timer was set for; a timer for another halt does nothing. */
  wakeAt: z.string().max(100).optional(),
  /** For `wake`, in jobs queued by older versions: the approval's `requested_at` (such a timer acts if its halt is due). */
  haltedAt: z.string().max(100).optional(),
  /**
   * For `resume` and `wake`: the revision of the halted execution the job is for. A job whose halt was already
   * answered (the execution moved on to another revision) does nothing.
   */
  revision: z.number().int().min(1).optional(),
  /** For `start`: the execution's `createdAt`, which tells apart two executions that reused one id. */
  createdAt: z.string().max(100).optional(),
  queue: z.string().min(1).max(200).optional(),
  priority: z.number().optional(),
  flowControl: z.object({
    key: z.string().min(1).max(200),
    parallelism: z.number().int().min(1).optional(),
    rate: z.number().int().min(1).optional(),
    period: z.number().positive().optional(),
  }).optional(),
  /** W3C `traceparent` of what enqueued the job (the run segment, or the start): the segment performing it links to it. */
  traceparent: z.string().max(100).optional(),
}).refine((job) => job.action !== "wake" || job.wakeAt !== undefined || job.haltedAt !== undefined || job.revision !== undefined, {
  path: ["wakeAt"],
  message: "a wake job names the halt it is for: `wakeAt` (a halt's timer) or `revision` (a sweep)",
});

/** `value` as `schema` says, or a ValidationError `<what> is not a valid <name>` listing every problem with its path. */
export function checkShape<S extends z.ZodType>(schema: S, value: unknown, what: string, name: string): z.output<S> {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  throw new ValidationError(
    `${what} is not a valid ${name}`,
    result.error.issues.map((issue) => ({ path: issue.path.join("."), message: issue.message })),
  );
}

// ---- proof that each schema and its type in types.ts are the same shape (a compile error otherwise) ----

/** True when A and B are the same type; `same<A, B>(true)` fails to compile otherwise. */
export type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends (<T>() => T extends B ? 1 : 2) ? true : false;
export const same = <A, B>(proof: Same<A, B>): Same<A, B> => proof;
same<z.output<typeof ExecutionSchema>, Execution>(true);
same<z.output<typeof ExecutionHeadSchema>, ExecutionHead>(true);
same<z.output<typeof LoopCursorSchema>, LoopCursor>(true);
same<z.output<typeof RetryWaitSchema>, RetryWait>(true);
same<z.output<typeof PendingAnswerSchema>, PendingAnswer>(true);
same<z.output<typeof EntrySchema>, Entry>(true);
same<z.output<typeof HaltSchema>, HaltInfo>(true);
// ExecutionResult is a tagged union on `status`; on the wire it is this one object: every variant fits it, it has no
// key that no variant has, and every status has its variant.
type KeysOf<T> = T extends unknown ? keyof T : never;
same<ExecutionResult extends z.output<typeof ExecutionResultSchema> ? true : false, true>(true);
same<KeysOf<ExecutionResult>, keyof z.output<typeof ExecutionResultSchema>>(true);
same<ExecutionResult["status"], z.output<typeof ExecutionResultSchema>["status"]>(true);
same<z.output<typeof StoredEventSchema>, StoredEvent>(true);
same<z.output<typeof JobSchema>, Job>(true);
same<z.output<typeof CompensationSchema>, Compensation>(true);
same<z.output<typeof CompensatingSchema>, Compensating>(true);
same<z.output<typeof FlowMarkSchema>, FlowMark>(true);
same<NonNullable<z.output<typeof JobSchema>["flowControl"]>, JobFlowControl>(true);
