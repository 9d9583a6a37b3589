import { lookupWorkflow, type WorkflowLookup } from "../config.ts";
import { Engine, resultOf, type EngineOptions } from "../engine/engine.ts";
import { ConfigError, ConflictError, NotFoundError } from "../errors.ts";
import type { ExecutionResult, Json } from "../types.ts";

export type JobAction = "start" | "resume" | "continue" | "wake";

/**
 * What a queue carries: small, never the execution's state. `wake` is a timer: it resumes an approval
 * that is still waiting at `haltedAt` once its timeout has passed (the approval then takes `on_timeout`).
 */
export interface Job {
  workflowId: string;
  workflowVersion?: string;
  executionId: string;
  action: JobAction;
  response?: Json;
  approved?: boolean;
  /** For `wake`: the `requested_at` of the halt the timer was set for. */
  haltedAt?: string;
  queue?: string;
  priority?: number;
}

export interface EnqueueOptions {
  /** Deliver no earlier than this many seconds from now. */
  delaySeconds?: number;
}

/** A queue: it delivers jobs to `performJob` later (or now, for the inline adapter). Adapters never write status. */
export interface QueueAdapter {
  enqueue(job: Job, options?: EnqueueOptions): Promise<void>;
}

export interface PerformOptions extends Omit<EngineOptions, "workflows"> {
  workflows?: WorkflowLookup;
}

/** What performing a job came to: the result, or `duplicate` when the job had already been done. */
export interface JobOutcome {
  result: ExecutionResult;
  duplicate: boolean;
  /** The run used up its time budget: the caller must enqueue a `continue` job. */
  continueLater: boolean;
  /** The run halted at an approval with a timeout: the caller should schedule a `wake` job at `at`. */
  timer?: { haltedAt: string; at: string };
}

/**
 * Performs one job with the engine. A job that was already done (a redelivery, a lost race) is a
 * duplicate and does nothing; a store failure propagates so the queue retries.
 */
export async function performJob(job: Job, options: PerformOptions): Promise<JobOutcome> {
  const workflow = lookupWorkflow(options.workflows, job.workflowId);
  if (!workflow) throw new ConfigError(`Workflow "${job.workflowId}" is not registered`);
  const engine = new Engine(workflow, options);
  const outcome = (result: ExecutionResult, duplicate = false): JobOutcome => {
    const timer = result.status === "halted" && result.halt?.data.type === "approval" && typeof result.halt.data.expires_at === "string"
      ? { haltedAt: String(result.halt.data.requested_at), at: result.halt.data.expires_at }
      : undefined;
    return { result, duplicate, continueLater: result.yielded === true, ...(timer && !duplicate ? { timer } : {}) };
  };
  const current = async () => outcome(await engine.result(job.executionId), true);
  try {
    switch (job.action) {
      case "start":
      case "continue": {
        const exec = await engine.store.load(job.executionId);
        if (!exec) throw new NotFoundError(`Execution "${job.executionId}" not found`);
        if (exec.status !== "pending") return outcome(resultOf(exec), true);
        return outcome(await engine.continue(job.executionId));
      }
      case "resume":
        return outcome(await engine.resume(job.executionId, { response: job.response, approved: job.approved }));
      case "wake": {
        const exec = await engine.store.load(job.executionId);
        if (!exec) throw new NotFoundError(`Execution "${job.executionId}" not found`);
        const data = exec.haltData;
        if (exec.status !== "halted" || !data || data.requested_at !== job.haltedAt) return outcome(resultOf(exec), true);
        return outcome(await engine.resume(job.executionId, {}));
      }
      default:
        throw new ConfigError(`Unknown job action "${String((job as { action: unknown }).action)}"`);
    }
  } catch (error) {
    if (error instanceof ConflictError) return await current();
    throw error;
  }
}
