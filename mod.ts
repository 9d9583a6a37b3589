/**
 * durable-workflow for the edge: the public API (SPEC §9). Names exported here are part of the contract.
 */

// definitions
export { loadWorkflow, validateWorkflow, workflowJsonSchema, buildWorkflowJsonSchema } from "./src/definition/load.ts";
export { applyInputRules } from "./src/definition/inputs.ts";
export type { InputSpec, InputType, WorkflowDefinition } from "./src/definition/workflow.ts";
export { workflowDiagram } from "./src/diagram/mermaid.ts";
export { renderWorkflowSvg } from "./src/diagram/svg.ts";

// steps
export { registerStepType, StepRegistry, defaultStepRegistry, BUILT_IN_STEP_TYPES } from "./src/steps/registry.ts";
export type { CustomStepSpec } from "./src/steps/registry.ts";
export { FINISHED, proceed, halt } from "./src/steps/step.ts";
export type { StepDefinition, StepExecutor, StepOutcome, StepState, StepTools, StepType } from "./src/steps/step.ts";

// global defaults
export { configure, register, getWorkflow, resetConfig } from "./src/config.ts";
export type { GlobalConfig, WorkflowLookup } from "./src/config.ts";

// engine and runners
export { Engine, resultOf } from "./src/engine/engine.ts";
export { ManualClock, systemClock } from "./src/engine/clock.ts";
export type { Clock } from "./src/engine/clock.ts";
export { checkResumeAnswer } from "./src/definition/answer.ts";
export type { ResumeAnswer } from "./src/definition/answer.ts";
export type { EngineLimits, EngineOptions } from "./src/engine/engine.ts";
export { WorkflowEvent } from "./src/engine/events.ts";
export type { EventHandler } from "./src/engine/events.ts";
export { SyncRunner } from "./src/runners/sync.ts";
export type { HaltAnswer, OnHalt, RunnerOptions } from "./src/runners/sync.ts";
export { AsyncRunner } from "./src/runners/async.ts";
export type { AsyncRunnerOptions } from "./src/runners/async.ts";
export { StreamRunner } from "./src/runners/stream.ts";
export type { StreamRunnerOptions } from "./src/runners/stream.ts";
export { InlineAdapter } from "./src/runners/adapters/inline.ts";
export type { InlineAdapterOptions } from "./src/runners/adapters/inline.ts";
export { performJob, parseJob, jobBody, JobSchema, PermanentJobError } from "./src/runners/jobs.ts";
export type { EnqueueOptions, Job, JobAction, JobOutcome, PerformOptions, QueueAdapter } from "./src/runners/jobs.ts";
export { sweep, recover, recoveryJob } from "./src/runners/recovery.ts";
export type { SweepOptions, SweepReport } from "./src/runners/recovery.ts";
export { QStashAdapter } from "./src/runners/adapters/qstash.ts";
export type { QStashAdapterOptions, QStashClient } from "./src/runners/adapters/qstash.ts";
export { createQStashHandler } from "./routes/qstash/handler.ts";
export type { QStashHandler, QStashHandlerOptions } from "./routes/qstash/handler.ts";

// stores
export { MemoryStore } from "./src/store/memory.ts";
export { UpstashRedisStore } from "./src/store/upstash-redis.ts";
export type { UpstashRedisStoreOptions } from "./src/store/upstash-redis.ts";
export type { Commit, DefinitionVersion, FindQuery, FindResult, Recoverable, RecoverableQuery, Store, StoredDefinition } from "./src/store/store.ts";

// errors
export {
  ConfigError,
  ConflictError,
  DurableWorkflowError,
  ExecutionError,
  NotFoundError,
  StoreError,
  TimeoutError,
  ValidationError,
} from "./src/errors.ts";
export type { ValidationIssue } from "./src/errors.ts";

// data
export type {
  Entry,
  EventType,
  Execution,
  ExecutionDelta,
  ExecutionHead,
  ExecutionResult,
  ExecutionStatus,
  HaltInfo,
  Json,
  JsonObject,
  ServiceContext,
  ServiceMethod,
  Services,
  StoredEvent,
} from "./src/types.ts";
export { EXECUTION_STATUSES, isTerminal } from "./src/types.ts";

// HTTP
export { createApp } from "./routes/app.ts"; export type { AppOptions } from "./routes/app.ts";
