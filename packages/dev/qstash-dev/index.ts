/**
 * qstash-dev — a local QStash for development and tests. It speaks the part of the QStash v2 REST API
 * that `@upstash/qstash` 2.12's `Client` and `@upstash/workflow` 1.3 use, and delivers like QStash does:
 * signed, retried, with callbacks, schedules and workflow step logs. Everything is in memory.
 * See docs/qstash-dev.md.
 */
export { DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY, DEV_QSTASH_PORT, DEV_QSTASH_TOKEN } from "./defaults.ts";
export { QStashDev } from "./dev.ts";
export { QStashDevError } from "./errors.ts";
export { type QStashDevServer, startQStashDev } from "./cli.ts";
export { parseDuration } from "./headers.ts";
export { compileRetryDelay } from "./retry-delay.ts";
export { type Cron, CronError, parseCron } from "./cron.ts";
export type { ScheduleView } from "./schedules.ts";
export type { QStashDevStats } from "./stats.ts";
export type { RawStep, WorkflowRunInfo } from "./workflow.ts";
export type { DeliveryAttempt, DevFlowControl, DevMessage, MessageState, QStashDevOptions } from "./types.ts";
