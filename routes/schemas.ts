/**
 * The zod schemas of the HTTP API: the routes validate requests with them and `/openapi.json` is generated
 * from them, so the document cannot drift from what the routes accept and answer. `.openapi("Name")` makes a
 * schema a named component of the document.
 */
import { z } from "@hono/zod-openapi";
import { INPUT_TYPES } from "../src/definition/workflow.ts";
import { EVENT_ID_PATTERN, EVENT_ID_RULE } from "../src/expressions/events.ts";
import { executionIdSchema as executionId, workflowIdSchema as workflowId } from "../src/ids.ts";
import {
  EntrySchema,
  ExecutionResultSchema,
  ExecutionSchema,
  ExecutionStatusSchema as status,
  HaltSchema,
  StoredEventSchema,
} from "../src/schemas.ts";
const mode = z.enum(["async", "sync"]).default("async")
  .describe("`async` (default): enqueue and answer 202 at once; `sync`: run to completion or the next halt and answer 200 with the result");
const json = z.unknown().describe("Any JSON value");
const timestamp = z.string().describe("ISO-8601");

// ---- requests ----

export const WorkflowParams = z.object({ id: workflowId.describe("Workflow id") });
export const ExecutionParams = z.object({ id: executionId.describe("Execution id") });
/** The W3C trace context a start or a resume request may carry (docs/observability.md); a malformed one is ignored. */
export const TraceHeaders = z.object({
  traceparent: z.string().optional().describe(
    "W3C trace context: the parent of the execution's trace (start), or linked from the segment applying the answer (resume)",
  ),
});

const RunFields = z.strictObject({
  input: z.record(z.string(), z.unknown()).optional().describe("The run input, checked against the workflow's input rules"),
  executionId: executionId.optional()
    .describe("Id of the new execution (default: a UUID). Starting an id that exists is idempotent: its current state is returned"),
  labels: z.record(z.string(), z.string()).optional().describe(
    "Labels of the new execution (over the definition's `labels:`): at most 16, names a letter or _ then up to 63 of A-Z a-z 0-9 _ - ., values 1 to 200 characters; `GET /executions?label.<name>=<value>` finds it",
  ),
  mode,
  priority: z.number().finite().optional().describe("Among runs waiting for a flow-control slot, the higher priority starts first"),
});

export const RunBody = RunFields.describe("Starts an execution").openapi("RunBody");

/** Body of the streaming start (no `mode`: it always runs here, streaming). */
export const StreamBody = RunFields.omit({ mode: true }).describe("Starts an execution and streams its events").openapi("StreamBody");

export const EventsQuery = z.object({
  after: z.string().min(1).max(250).optional()
    .describe("Replay the events after this one: `<executionId>:<seq>` or a bare `<seq>`. The `Last-Event-ID` header, when sent, wins"),
});

export const ResumeBody = z.strictObject({
  response: json.optional().describe("Any JSON; available to the workflow as `$response`"),
  approved: z.boolean().optional().describe("The decision of an approval step; available as `$approved`"),
  mode,
}).describe("Resumes a halted execution").openapi("ResumeBody");

export const CancelBody = z.strictObject({
  reason: z.string().max(500).optional().describe("Why (at most 500 characters); kept in the execution's `error` as `Cancelled: <reason>`"),
}).describe("Cancels an execution").openapi("CancelBody");

export const SendEventBody = z.strictObject({
  payload: z.unknown().optional().describe("Any JSON (default null): `event` in a wait's match, the waiting run's `<output>.payload`"),
  id: z.string().regex(EVENT_ID_PATTERN, EVENT_ID_RULE).optional().describe("Deduplication id: an id sent twice is delivered once"),
}).describe("An event for the runs waiting for it").openapi("SendEventBody");

export const EventSent = z.object({
  id: z.string().describe("The event's id (the one given, or a new UUID)"),
  delivered: z.number().int().describe("Waiting executions it woke (0 for an id sent before)"),
  duplicate: z.boolean().describe("The id was sent before: nothing was delivered again"),
  started: z.array(z.string()).describe("Executions started by `event` triggers"),
}).openapi("EventSent");

export const RetryBody = z.strictObject({ mode }).describe("Retries a failed execution").openapi("RetryBody");

const timeBound: z.ZodOptional<z.ZodString> = z.string().max(40).refine(
  (value) => Number.isFinite(Date.parse(value)),
  "must be an ISO 8601 time",
).optional();

export const ListQuery = z.object({
  workflowId: workflowId.optional().describe("Only executions of this workflow"),
  status: status.optional().describe("Only executions in this status"),
  limit: z.coerce.number().int().min(1).max(1000).optional().describe("Page size (default 50, at most 1000)"),
  cursor: z.string().min(1).max(1000).optional().describe("The `cursor` of the previous page"),
  createdFrom: timeBound.describe("Only executions created at or after this ISO time"),
  createdTo: timeBound.describe("Only executions created before this ISO time"),
  updatedFrom: timeBound.describe("Only executions last changed at or after this ISO time"),
  updatedTo: timeBound.describe("Only executions last changed before this ISO time"),
}).describe("Also `label.<name>=<value>` (repeatable): only executions carrying every such label");

// ---- responses ----

export const Health = z.object({ ok: z.literal(true), version: z.string() }).openapi("Health");

export const InputSpec = z.object({
  type: z.enum(INPUT_TYPES).optional(),
  required: z.boolean(),
  default: json.optional(),
  description: z.string().optional(),
}).openapi("InputSpec");

const inputs = z.record(z.string(), InputSpec).nullable()
  .describe("Declared inputs by name, or null when the workflow declares none");

export const WorkflowSummary = z.object({
  id: z.string(),
  name: z.string(),
  version: z.string(),
  description: z.string().optional(),
  hash: z.string().describe("SHA-256 of the definition's canonical JSON"),
  inputs,
  steps: z.number().int().describe("Number of top-level steps"),
}).openapi("WorkflowSummary");

export const WorkflowList = z.object({ workflows: z.array(WorkflowSummary) }).openapi("WorkflowList");

export const Step = z.looseObject({ id: z.string(), type: z.string() }).describe("A step, keys as in the definition format").openapi(
  "Step",
);

export const WorkflowDetail = z.object({
  id: z.string(),
  name: z.string(),
  version: z.string(),
  description: z.string().optional(),
  timeout: z.number().optional(),
  hash: z.string(),
  inputs,
  steps: z.array(Step),
  diagram: z.string().describe("The graph as Mermaid `flowchart TD` text"),
  triggers: z.array(z.record(z.string(), z.unknown())).optional().describe("Cron schedules and events that start runs"),
  nextStarts: z.array(z.object({ cron: z.string(), timezone: z.string(), next: z.string().nullable() })).describe(
    "When each cron trigger fires next (ISO), in the order of the triggers",
  ),
  concurrency: z.object({ limit: z.number(), key: z.string().optional() }).optional().describe("Flow control, as declared"),
  rate: z.object({ limit: z.number(), period: z.number(), key: z.string().optional() }).optional(),
  priority: z.union([z.number(), z.string()]).optional(),
  debounce: z.object({ period: z.number(), key: z.string().optional(), max: z.number().optional() }).optional(),
}).openapi("WorkflowDetail");

export const StoredWorkflow = z.object({
  id: z.string(),
  version: z.string(),
  hash: z.string().describe("SHA-256 of the definition's canonical JSON"),
}).openapi("StoredWorkflow");

export const WorkflowVersion = z.object({
  version: z.string(),
  hash: z.string(),
  storedAt: timestamp,
  storedBy: z.string().optional().describe("Who stored it with PUT /workflows/:id (the API token's name)"),
  current: z.boolean().describe("New runs use this version"),
  halted: z.number().int().describe("Executions halted on this version now"),
  pending: z.number().int().describe("Executions pending on this version now"),
}).openapi("WorkflowVersion");

export const WorkflowVersionList = z.object({ versions: z.array(WorkflowVersion).describe("Oldest first") }).openapi("WorkflowVersionList");

/**
 * A shared shape (src/schemas.ts) as a named component. zod binds `.openapi` onto a schema when it is built, so one
 * built before @hono/zod-openapi was loaded lacks it: `.extend({})` makes a copy that has it.
 */
function component<S extends z.ZodObject>(schema: S, name: string): S {
  return schema.extend({}).openapi(name) as unknown as S;
}

export const HaltInfo = component(HaltSchema, "HaltInfo");

/** What run/resume return, without the engine's own `yielded` flag and flow-control follow-ups. */
export const ExecutionResult = ExecutionResultSchema.omit({ yielded: true, flowStart: true }).extend({ halt: HaltInfo.optional() }).openapi(
  "ExecutionResult",
);

export const Accepted = z.object({
  executionId: z.string(),
  status: status.describe(
    "The status when the answer was sent: `pending` for a new run handed to QStash; an inline queue may already have finished the run, and an existing id is answered with its status",
  ),
}).openapi("Accepted");

/** The record as GET /executions/:id shows it: without the engine's bookkeeping (event sequence, loop cursor, retry, answer, visits). */
const ExecutionFields = ExecutionSchema.omit({
  eventSeq: true,
  loop: true,
  retry: true,
  answer: true,
  visits: true,
  epoch: true,
  pinned: true,
});

export const Execution = ExecutionFields.openapi("Execution");

export const FlowKeyState = z.object({
  kind: z.enum(["concurrency", "rate"]),
  key: z.string().describe("The key's value (`*`: the whole workflow; `step:<id>:<value>`: a step's rate)"),
  limit: z.number().int(),
  period: z.number().optional().describe("Rate keys: the window in seconds"),
  holders: z.array(z.string()).describe("Concurrency: the executions holding a slot; rate: the starts counted in the window"),
  waiting: z.number().int().describe("Concurrency: executions waiting for a slot"),
}).openapi("FlowKeyState");

export const WorkflowFlow = z.object({
  workflowId: z.string(),
  concurrency: z.record(z.string(), z.unknown()).nullable().describe("The definition's limits as declared"),
  rate: z.record(z.string(), z.unknown()).nullable(),
  priority: z.union([z.number(), z.string()]).nullable(),
  debounce: z.record(z.string(), z.unknown()).nullable(),
  keys: z.array(FlowKeyState).describe("Every key in use, with holders and queue lengths"),
}).openapi("WorkflowFlow");

/** What the list shows of an execution: the record without its data (input, ctx, result, halt data). */
export const ExecutionSummary = ExecutionFields.pick({
  id: true,
  workflowId: true,
  workflowVersion: true,
  workflowHash: true,
  status: true,
  currentStep: true,
  recoverTo: true,
  error: true,
  createdAt: true,
  updatedAt: true,
  revision: true,
  leaseUntil: true,
  wakeAt: true,
  labels: true,
  compensating: true,
  compensated: true,
  flow: true,
}).openapi("ExecutionSummary");

export const ExecutionPage = z.object({
  executions: z.array(ExecutionSummary).describe("Newest first"),
  cursor: z.string().optional().describe("Present when there may be more: pass it as `cursor` for the next page"),
}).openapi("ExecutionPage");

export const Entry = component(EntrySchema, "Entry");

export const EntryList = z.object({ entries: z.array(Entry).describe("In execution order") }).openapi("EntryList");

export const WorkflowEvent = StoredEventSchema.extend({
  data: z.looseObject({ executionId: z.string() })
    .describe(
      "`workflow.started`: workflowId, input; `workflow.completed`: output; `workflow.halted`: halt; `workflow.failed`: error (and compensated); `workflow.compensating`: status, error; step events: stepId, stepType, and output (completed, halted, compensated) or error (failed, compensation_failed)",
    ),
}).describe("The JSON of each SSE `data:` line").openapi("WorkflowEvent");

export const Problem = z.object({
  type: z.string().describe("`https://durable-workflow.dev/problems/<slug>`"),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  errors: z.array(z.object({
    path: z.string(),
    message: z.string(),
    line: z.number().int().optional().describe("In a workflow definition's source: where the problem is"),
    column: z.number().int().optional(),
  })).optional(),
}).describe("RFC 9457 problem details (application/problem+json)").openapi("Problem");

/** Keeps only the keys a response schema declares (internal bookkeeping fields stay inside). */
export function pick<S extends z.ZodObject>(schema: S, value: object): z.output<S> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(schema.shape)) {
    if (Object.hasOwn(value, key) && (value as Record<string, unknown>)[key] !== undefined) {
      out[key] = (value as Record<string, unknown>)[key];
    }
  }
  return out as z.output<S>;
}
