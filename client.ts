/**
 * durable-workflow for the edge: the typed HTTP client ("durable-workflow-edge/client"), on Web `fetch` only.
 * The server is in hono.ts, the library in src/mod.ts.
 */
export { createClient, DurableWorkflowClient, ProblemError } from "./routes/client.ts";
export type {
  Accepted,
  CancelOptions,
  ClientOptions,
  Entry,
  EventSent,
  EventsOptions,
  Execution,
  ExecutionPage,
  ExecutionResult,
  ExecutionStatus,
  ExecutionSummary,
  HaltInfo,
  InputSpec,
  Json,
  JsonObject,
  ListFilters,
  Problem,
  ProblemItem,
  ResumeAnswer,
  SendEventOptions,
  StartOptions,
  Step,
  WorkflowDetail,
  WorkflowEvent,
  WorkflowSummary,
} from "./routes/client.ts";
