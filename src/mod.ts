/**
 * durable-workflow for the edge: the core public API, the package's main entry ("durable-workflow-edge").
 * Web-standard only; the HTTP layer is in ../hono.ts ("durable-workflow-edge/hono"). Names exported here are
 * part of the contract.
 */

// definitions
export { buildWorkflowJsonSchema, loadWorkflow, validateWorkflow, workflowJsonSchema } from "./definition/load.ts";
export type { LoadOptions, WorkflowSource } from "./definition/load.ts";
export { applyInputRules } from "./definition/inputs.ts";
export { leaseWarnings } from "./definition/warnings.ts";
export { checkResumeAnswer } from "./definition/answer.ts";
export type { ResumeAnswer } from "./definition/answer.ts";
export type { InputSpec, InputType, WorkflowDefinition } from "./definition/workflow.ts";
export { workflowDiagram } from "./diagram/mermaid.ts";
export { renderWorkflowSvg } from "./diagram/svg.ts";

// steps (`z` is the zod the step schemas are made with: use it for your own step types)
export { z } from "zod";
export { BUILT_IN_STEP_TYPES, defaultStepRegistry, registerStepType, StepRegistry } from "./steps/registry.ts";
export type { CustomStepSpec } from "./steps/registry.ts";
export { FINISHED, halt, proceed, runAgain, waitUntil } from "./steps/step.ts";
export type { HttpOptions, StepDefinition, StepExecutor, StepOutcome, StepState, StepTools, StepType } from "./steps/step.ts";
export { checkHttpOptions, DEFAULT_HTTP_MAX_BODY_BYTES } from "./steps/http.ts";

// global defaults
export { configure, getWorkflow, register, resetConfig } from "./config.ts";
export type { GlobalConfig, WorkflowLookup } from "./config.ts";

// engine, time and runners
export { DEFAULT_LEASE_MS, Engine } from "./engine/engine.ts";
export type { EngineLimits, EngineOptions } from "./engine/engine.ts";
export { ManualClock, systemClock } from "./engine/clock.ts";
export type { Clock } from "./engine/clock.ts";
export { WorkflowEvent } from "./engine/events.ts";
export type { EventHandler } from "./engine/events.ts";
export { formatTraceparent, parseTraceparent } from "./engine/tracing.ts";
export { Catalog } from "./engine/definitions.ts";
export { SyncRunner } from "./runners/sync.ts";
export type { HaltAnswer, OnHalt, RunnerOptions } from "./runners/sync.ts";
export { AsyncRunner } from "./runners/async.ts";
export type { AsyncRunnerOptions } from "./runners/async.ts";
export { StreamRunner } from "./runners/stream.ts";
export type { StreamRunnerOptions } from "./runners/stream.ts";
export { InlineAdapter } from "./runners/adapters/inline.ts";
export { checkEvent, DEFAULT_EVENT_LOOKBACK_SECONDS, sendEvent } from "./runners/send-event.ts";
export type { SendEventOptions, SendEventOutcome } from "./runners/send-event.ts";
export { EVENT_NAME_PATTERN, type SentEvent } from "./expressions/events.ts";
export { cronExecutionId, fireDueTriggers, nextStarts } from "./runners/triggers.ts";
export type { FireOptions, FireReport } from "./runners/triggers.ts";
export type { InlineAdapterOptions } from "./runners/adapters/inline.ts";
// a queue of your own: the job and the adapter's shape here, what performs a delivery in "durable-workflow-edge/queue"
export type { EnqueueOptions, Job, JobAction, QueueAdapter } from "./runners/jobs.ts";
export { recover, sweep } from "./runners/recovery.ts";
export type { SweepOptions, SweepReport } from "./runners/recovery.ts";
export { startTicker, tick } from "./runners/ticker.ts";
export type { Ticker, TickerOptions, TickOptions, TickReport } from "./runners/ticker.ts";
export { QStashAdapter } from "./runners/adapters/qstash.ts";
export type { QStashAdapterOptions, QStashClient } from "./runners/adapters/qstash.ts";

// stores
export { MemoryStore } from "./store/memory.ts";
export { UpstashRedisStore } from "./store/upstash-redis.ts";
export type { UpstashRedisStoreOptions } from "./store/upstash-redis.ts";
export type {
  Commit,
  DefinitionVersion,
  FindQuery,
  FindResult,
  Recoverable,
  RecoverableQuery,
  Store,
  StoredDefinition,
} from "./store/store.ts";

// errors
export {
  ConfigError,
  ConflictError,
  DurableWorkflowError,
  ExecutionError,
  LeaseLostError,
  NonRetryableError,
  NotFoundError,
  RetryAfterError,
  StoreError,
  TimeoutError,
  ValidationError,
} from "./errors.ts";
export type { ValidationIssue } from "./errors.ts";

// logs
export { Log, LOG_LEVELS, parseLogLevel } from "./log.ts";
export type { LogFields, Logger, LogLevel, LogOptions } from "./log.ts";

// data
export { EXECUTION_STATUSES, isTerminal } from "./types.ts";
export type {
  Compensating,
  Compensation,
  Entry,
  EventType,
  Execution,
  ExecutionDelta,
  ExecutionHead,
  ExecutionResult,
  ExecutionStatus,
  FlowMark,
  HaltInfo,
  Json,
  JsonObject,
  ServiceContext,
  ServiceMethod,
  Services,
  StoredEvent,
} from "./types.ts";
export type { FlowAcquire, FlowAdmission, FlowKeyState, FlowRelease, FlowStore } from "./store/flow.ts";
export { PRIORITY_AGING_MS } from "./engine/flow.ts";
