import { z } from "zod";
import { lookupWorkflow, type WorkflowLookup } from "../config.ts";
import { checkResumeAnswer } from "../definition/answer.ts";
import { formatPath } from "../definition/issues.ts";
import { pinnedDefinition } from "../engine/definitions.ts";
import { DEFAULT_LEASE_MS, Engine, type EngineOptions, leaseExpiry, resultOf } from "../engine/engine.ts";
import { instruments, timed } from "../engine/tracing.ts";
import { ConflictError, DurableWorkflowError, NotFoundError, ValidationError } from "../errors.ts";
import { executionIdSchema, workflowIdSchema } from "../ids.ts";
import { type Execution, type ExecutionResult, isTerminal, type Json } from "../types.ts";
import { requireStore } from "./runner.ts";

export type JobAction = "start" | "resume" | "continue" | "wake";

/**
 * What a queue carries: small, never the execution's state. `wake` is a timer: it resumes an approval that
 * is still waiting once its timeout has passed (the approval then takes `on_timeout`), or continues an
 * execution whose wait is over.
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
   * For `resume` and `wake`: the revision of the halted execution the job is for. A job whose halt was already
   * answered (the execution moved on to another revision) does nothing.
   */
  revision?: number;
  /** For `start`: the execution's `createdAt`, which tells apart two executions that reused one id. */
  createdAt?: string;
  queue?: string;
  priority?: number;
  /** W3C `traceparent` of what enqueued the job (the run segment, or the start): the segment performing it links to it. */
  traceparent?: string;
}

const JobSchema = z.object({
  workflowId: workflowIdSchema,
  workflowVersion: z.string().max(100).optional(),
  executionId: executionIdSchema,
  action: z.enum(["start", "resume", "continue", "wake"]),
  response: z.json().optional(),
  approved: z.boolean().optional(),
  haltedAt: z.string().max(100).optional(),
  revision: z.number().int().min(1).optional(),
  createdAt: z.string().max(100).optional(),
  queue: z.string().min(1).max(200).optional(),
  priority: z.number().optional(),
  traceparent: z.string().max(100).optional(),
});

/** A job as published: its own fields only, nothing else (never the execution's state; `priority` has no QStash meaning). */
export function jobBody(job: Job): Job {
  const { priority: _local, ...fields } = JobSchema.parse(job);
  return Object.fromEntries(Object.entries(fields).filter(([, value]) => value !== undefined)) as typeof fields as Job;
}

/** Reads a job from a queue's message body; a ValidationError naming every problem otherwise. */
export function parseJob(value: unknown): Job {
  const result = JobSchema.safeParse(value);
  if (!result.success) {
    throw new ValidationError("Not a job", result.error.issues.map((i) => ({ path: formatPath(i.path), message: i.message })));
  }
  return result.data as Job;
}

export interface EnqueueOptions {
  /** Deliver no earlier than this many seconds from now. */
  delaySeconds?: number;
  /**
   * What tells this job apart from the other jobs of its execution and action. Adapters that deduplicate
   * make their deduplication id of it (QStash: `<executionId>.<action>.<...>.<key>`): two enqueues with the
   * same key are one job.
   */
  key?: string;
}

/** A queue: it delivers jobs to `performJob` later (or now, for the inline adapter). Adapters never write status. */
export interface QueueAdapter {
  enqueue(job: Job, options?: EnqueueOptions): Promise<void>;
}

export interface PerformOptions extends Omit<EngineOptions, "workflows"> {
  workflows?: WorkflowLookup;
}

/** A job that can never succeed (unknown workflow, a job for another workflow, a bad answer): do not retry it. */
export class PermanentJobError extends DurableWorkflowError {
  override name = "PermanentJobError";
}

/** What performing a job came to. */
export interface JobOutcome {
  result: ExecutionResult;
  /** The job had already been done (a redelivery, a lost race, an answered halt, an ended execution): nothing changed. */
  duplicate: boolean;
  /** The call ended with the execution pending: enqueue a `continue` job (after `result.notBefore`, if set). */
  continueLater: boolean;
  /** Running under another worker's live lease, which ends at `busyUntil`: nothing was done; look again then. */
  busyUntil?: string;
  /** A running execution whose lease had expired was taken over and run on by this job. */
  takenOver?: boolean;
  /** W3C `traceparent` of the run segment that performed the job, when traced: follow-up jobs carry it. */
  traceparent?: string;
}

/** A job to enqueue, with its options. */
export interface FollowUp {
  job: Job;
  options: EnqueueOptions;
}

/**
 * The jobs a performed job asks for, each keyed so that asking twice is one message: a look at a busy lease's
 * expiry (`lease-<ms>`), a continuation (at `notBefore`: `at-<ms>`; else after this delivery: `after-<id>`), and
 * an approval's timeout timer — also for a duplicate, since the delivery that halted may have died before it set
 * the timer. Only the plain continuation has no `delaySeconds`: it is due now. `now` is the engine clock's time in
 * ms; `deliveryId` the queue's id of the delivery, when it has one.
 */
export function followUpsOf(job: Job, outcome: JobOutcome, now: number, deliveryId?: string): FollowUp[] {
  const base = {
    workflowId: job.workflowId,
    executionId: job.executionId,
    ...(job.workflowVersion ? { workflowVersion: job.workflowVersion } : {}),
  };
  if (outcome.traceparent) Object.assign(base, { traceparent: outcome.traceparent });
  const delaySeconds = (iso: string) => Math.max(0, (Date.parse(iso) - now) / 1000);
  const after = deliveryId ? `after-${deliveryId}` : undefined;
  const jobs: FollowUp[] = [];
  if (outcome.busyUntil) {
    jobs.push({
      job: { ...base, action: "continue" },
      options: { delaySeconds: delaySeconds(outcome.busyUntil), key: `lease-${Date.parse(outcome.busyUntil)}` },
    });
  }
  if (outcome.continueLater) {
    const notBefore = outcome.result.notBefore;
    jobs.push({
      job: { ...base, action: "continue", ...(job.queue ? { queue: job.queue } : {}) },
      options: notBefore ? { delaySeconds: delaySeconds(notBefore), key: `at-${Date.parse(notBefore)}` } : { key: after },
    });
  }
  const timer = approvalTimer(outcome.result);
  if (timer) {
    // A wake that came early asks for itself again: that message must not be deduplicated against its own id.
    const early = job.action === "wake" && job.haltedAt === timer.haltedAt && after;
    const key = early ? `${Date.parse(timer.at)}.${after}` : String(Date.parse(timer.at));
    jobs.push({ job: { ...base, action: "wake", haltedAt: timer.haltedAt }, options: { delaySeconds: delaySeconds(timer.at), key } });
  }
  return jobs;
}

/** The `wake` timer an approval halt asks for: `{ haltedAt: requested_at, at: expires_at }`, or undefined. */
function approvalTimer(result: ExecutionResult): { haltedAt: string; at: string } | undefined {
  const data = result.status === "halted" ? result.halt?.data : undefined;
  if (!data || data.type !== "approval" || typeof data.expires_at !== "string") return undefined;
  return { haltedAt: String(data.requested_at), at: data.expires_at };
}

/**
 * Performs one job. It runs on the definition the execution started with (from the store when this deployment
 * no longer serves it). A job already done is a duplicate and does nothing; a store failure propagates (the
 * queue retries, the execution stays as it was); a job that can never succeed is a PermanentJobError and changes
 * nothing. A `running` execution is taken over once its lease has expired, else reported busy.
 */
export async function performJob(job: Job, options: PerformOptions): Promise<JobOutcome> {
  const store = requireStore(options.store);
  const id = job.executionId;
  const meter = instruments();
  const exec = await timed(meter, "load", () => store.load(id));
  if (!exec) throw new NotFoundError(`Execution "${id}" not found`);
  if (exec.workflowId !== job.workflowId) {
    throw new PermanentJobError(`Execution "${id}" belongs to workflow "${exec.workflowId}", not "${job.workflowId}" as the job says`);
  }
  const served = lookupWorkflow(options.workflows, exec.workflowId);
  const workflow = await pinnedDefinition(store, exec.workflowHash, served, options.registry);
  if (!workflow) {
    throw new PermanentJobError(
      `Workflow "${exec.workflowId}" is not served here and its definition ${exec.workflowHash.slice(0, 12)} is not stored`,
    );
  }
  const engine = new Engine(workflow, { ...options, store, ...(job.traceparent ? { traceparent: job.traceparent } : {}) });
  if (meter && exec.status !== "running" && !isTerminal(exec.status)) {
    // When the job was due: the time its execution waits for, else its last checkpoint (the yield, the answer, the start).
    const due = Date.parse(exec.wakeAt ?? exec.updatedAt);
    meter.queueLag.record(Math.max(0, engine.clock.now().getTime() - due), { "job.action": job.action });
  }
  const outcome = (result: ExecutionResult, duplicate = false): JobOutcome => {
    const traced = engine.lastTraceparent;
    return {
      result,
      duplicate,
      continueLater: result.status === "pending" && result.yielded === true,
      ...(traced ? { traceparent: traced } : {}),
    };
  };
  try {
    if (exec.status === "running") {
      const expiry = leaseExpiry(exec, options.leaseMs ?? DEFAULT_LEASE_MS);
      if (expiry > engine.clock.now().getTime()) return { ...outcome(resultOf(exec)), busyUntil: new Date(expiry).toISOString() };
      return { ...outcome(await engine.continue(id, { loaded: exec })), takenOver: true };
    }
    if (isTerminal(exec.status)) return outcome(resultOf(exec), true);
    switch (job.action) {
      case "start":
      case "continue":
        if (exec.status !== "pending") return outcome(resultOf(exec), true);
        return outcome(await engine.continue(id, { loaded: exec }));
      case "resume": {
        let answer;
        try {
          answer = checkResumeAnswer(job);
        } catch (error) {
          throw new PermanentJobError(`The answer of this resume job is refused: ${(error as Error).message}`);
        }
        if (exec.status !== "halted" || (job.revision !== undefined && exec.revision !== job.revision)) {
          return outcome(resultOf(exec), true);
        }
        return outcome(await engine.resume(id, { ...answer, expectedRevision: job.revision, loaded: exec }));
      }
      case "wake":
        return outcome(...await wake(engine, exec, job));
    }
  } catch (error) {
    if (error instanceof ConflictError) return outcome(await engine.result(id), true);
    throw error;
  }
}

/**
 * A timer: continues a pending execution whose wait is over, applies an answer that waits on a halted execution
 * (its resume job was lost), or resumes an approval whose timeout has passed.
 */
async function wake(engine: Engine, exec: Execution, job: Job): Promise<[ExecutionResult, boolean?]> {
  if (exec.status === "pending") return [await engine.continue(exec.id, { loaded: exec })];
  const data = exec.haltData;
  const forThisHalt = job.haltedAt !== undefined ? data?.requested_at === job.haltedAt : job.revision === exec.revision;
  if (exec.status !== "halted" || !data || !forThisHalt) return [resultOf(exec), true];
  if (exec.answer) return [await engine.resume(exec.id, { ...exec.answer, expectedRevision: exec.revision, loaded: exec })];
  // Early (the queue's clock is ahead of the engine's): leave the halt untouched and ask for the timer again.
  if (typeof data.expires_at !== "string" || Date.parse(data.expires_at) > engine.clock.now().getTime()) return [resultOf(exec)];
  return [await engine.resume(exec.id, { loaded: exec })];
}
