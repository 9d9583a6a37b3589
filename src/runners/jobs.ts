import { currentConfig, lookupWorkflow, type WorkflowLookup } from "../config.ts";
import { Engine, resultOf, type EngineOptions } from "../engine/engine.ts";
import { ConfigError, ConflictError, ExecutionError, NotFoundError, errorText } from "../errors.ts";
import type { Execution, ExecutionResult, Json } from "../types.ts";
import { requireStore } from "./sync.ts";

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
  /**
   * For `resume`: the revision of the halted execution the answer is for. A resume whose halt was already
   * answered (the execution moved on to another revision) does nothing. Adapters that deduplicate use it.
   */
  revision?: number;
  /** For `start`: the execution's `createdAt`, which tells apart two executions that reused one id. */
  createdAt?: string;
  queue?: string;
  priority?: number;
}

export interface EnqueueOptions {
  /** Deliver no earlier than this many seconds from now. */
  delaySeconds?: number;
  /**
   * What tells this job apart from the other jobs of its execution and action. Adapters that deduplicate
   * make their deduplication id of it (QStash: `<executionId>.<action>.<...>.<key>`): two enqueues with the
   * same key are one job. Continuations use the id of the delivery that asked for them.
   */
  key?: string;
}

/** A queue: it delivers jobs to `performJob` later (or now, for the inline adapter). Adapters never write status. */
export interface QueueAdapter {
  enqueue(job: Job, options?: EnqueueOptions): Promise<void>;
}

export interface PerformOptions extends Omit<EngineOptions, "workflows"> {
  workflows?: WorkflowLookup;
  /**
   * A `running` execution whose last checkpoint (`updatedAt`, by the engine clock) is older than this is
   * presumed abandoned by a worker that crashed mid-run, and the job takes it over (compare-and-set on its
   * revision). A younger one is `busy`: retry later. Default: 2 × `budgetMs`; without a budget, never.
   */
  staleAfterMs?: number;
}

/** What performing a job came to: the result, or `duplicate` when the job had already been done. */
export interface JobOutcome {
  result: ExecutionResult;
  duplicate: boolean;
  /** The run used up its time budget: the caller must enqueue a `continue` job (after `result.notBefore`, if set). */
  continueLater: boolean;
  /** The run halted at an approval with a timeout: the caller should schedule a `wake` job at `at`. */
  timer?: { haltedAt: string; at: string };
  /** The execution is `running` under another worker that checkpointed recently: nothing was done, retry later. */
  busy?: boolean;
  /** A stale `running` execution was taken over and run on by this job. */
  takenOver?: boolean;
}

/** The `wake` timer an approval halt asks for: `{ haltedAt: requested_at, at: expires_at }`, or undefined. */
export function approvalTimer(result: ExecutionResult): { haltedAt: string; at: string } | undefined {
  const data = result.status === "halted" ? result.halt?.data : undefined;
  if (!data || data.type !== "approval" || typeof data.expires_at !== "string") return undefined;
  return { haltedAt: String(data.requested_at), at: data.expires_at };
}

function clockOf(options: PerformOptions): () => Date {
  return options.clock ?? currentConfig().clock ?? (() => new Date());
}

/** The stale-running rule (see `PerformOptions.staleAfterMs`). */
export function isStale(exec: Execution, options: PerformOptions): boolean {
  const staleAfter = options.staleAfterMs ?? (options.budgetMs !== undefined ? 2 * options.budgetMs : undefined);
  if (exec.status !== "running" || staleAfter === undefined) return false;
  return clockOf(options)().getTime() - Date.parse(exec.updatedAt) >= staleAfter;
}

/**
 * Performs one job with the engine. A job that was already done (a redelivery, a lost race, a resume
 * for a halt that was answered) is a duplicate and does nothing; a store failure propagates so the queue
 * retries. An execution found `running` is taken over when stale, else reported `busy`.
 */
export async function performJob(job: Job, options: PerformOptions): Promise<JobOutcome> {
  const workflow = lookupWorkflow(options.workflows, job.workflowId);
  if (!workflow) throw new ConfigError(`Workflow "${job.workflowId}" is not registered`);
  const engine = new Engine(workflow, options);
  const outcome = (result: ExecutionResult, duplicate = false): JobOutcome => {
    const timer = approvalTimer(result);
    return { result, duplicate, continueLater: result.yielded === true, ...(timer && !duplicate ? { timer } : {}) };
  };
  const id = job.executionId;
  try {
    const exec = await engine.store.load(id);
    if (!exec) throw new NotFoundError(`Execution "${id}" not found`);
    if (exec.workflowId !== workflow.id) {
      throw new ConfigError(`Execution "${id}" belongs to workflow "${exec.workflowId}", not "${workflow.id}" as the job says`);
    }
    if (exec.status === "running") {
      if (!isStale(exec, options)) return { ...outcome(resultOf(exec)), busy: true };
      const released = await engine.store.save({ ...exec, status: "pending" }, { expectedRevision: exec.revision });
      return { ...outcome(await engine.continue(id, { loaded: released })), takenOver: true };
    }
    switch (job.action) {
      case "start":
      case "continue":
        if (exec.status !== "pending") return outcome(resultOf(exec), true);
        return outcome(await engine.continue(id, { loaded: exec }));
      case "resume":
        if (exec.status !== "halted" || (job.revision !== undefined && exec.revision !== job.revision)) {
          return outcome(resultOf(exec), true);
        }
        return outcome(await engine.resume(id, { response: job.response, approved: job.approved, expectedRevision: job.revision, loaded: exec }));
      case "wake": {
        const data = exec.haltData;
        if (exec.status !== "halted" || !data || data.requested_at !== job.haltedAt) return outcome(resultOf(exec), true);
        // Early (the queue's clock is ahead of the engine's): leave the halt untouched and ask for the timer again.
        if (typeof data.expires_at === "string" && Date.parse(data.expires_at) > clockOf(options)().getTime()) {
          return outcome(resultOf(exec));
        }
        return outcome(await engine.resume(id, {}));
      }
      default:
        throw new ConfigError(`Unknown job action "${String((job as { action: unknown }).action)}"`);
    }
  } catch (error) {
    if (error instanceof ConflictError) return outcome(await engine.result(id), true);
    throw error;
  }
}

/**
 * Marks the execution of a job the queue gave up on as failed, with `reason` — when the job still mattered:
 * a start/continue of a `pending` execution, a resume of the halt it was for, a wake of the approval still
 * waiting, or any job of a stale `running` execution. Otherwise (done meanwhile, answered by another job,
 * running under a live worker) nothing changes. Terminal executions are never touched.
 */
export async function abandonJob(job: Job, reason: string, options: PerformOptions): Promise<{ result: ExecutionResult | null; abandoned: boolean }> {
  const store = requireStore(options.store);
  const exec = await store.load(job.executionId);
  if (!exec) return { result: null, abandoned: false };
  const matters = exec.status === "running"
    ? isStale(exec, options)
    : job.action === "start" || job.action === "continue"
    ? exec.status === "pending"
    : job.action === "resume"
    ? exec.status === "halted" && (job.revision === undefined || exec.revision === job.revision)
    : exec.status === "halted" && exec.haltData?.requested_at === job.haltedAt;
  if (!matters) return { result: resultOf(exec), abandoned: false };
  const workflow = lookupWorkflow(options.workflows, exec.workflowId);
  try {
    if (workflow) return { result: await new Engine(workflow, { ...options, store }).abandon(exec.id, reason), abandoned: true };
    // The workflow is gone from this deployment: no engine can run it, so write the failure directly.
    const saved = await store.save({
      ...exec,
      status: "failed",
      error: errorText(new ExecutionError(reason)),
      loop: null,
      retry: null,
      updatedAt: clockOf(options)().toISOString(),
    }, { expectedRevision: exec.revision });
    return { result: resultOf(saved), abandoned: true };
  } catch (error) {
    if (error instanceof ConflictError) {
      const current = await store.load(exec.id);
      return { result: current ? resultOf(current) : null, abandoned: false };
    }
    throw error;
  }
}
