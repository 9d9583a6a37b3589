/**
 * "durable-workflow-edge/queue": what a queue adapter of your own needs. Enqueue a job's `jobBody`, read a
 * delivery back with `parseJob`, hand it to `performJob`, then enqueue what `followUpsOf` asks for. A
 * `PermanentJobError` means the job can never succeed: drop it instead of retrying. The built-in adapters
 * (InlineAdapter, QStashAdapter and its handler) are made of these.
 */
export { followUpsOf, jobBody, parseJob, performJob, PermanentJobError } from "./runners/jobs.ts";
export type { EnqueueOptions, FollowUp, Job, JobAction, JobOutcome, PerformOptions, QueueAdapter } from "./runners/jobs.ts";
