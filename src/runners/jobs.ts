import { lookupWorkflow, type WorkflowLookup } from "../config.ts";
import { checkResumeAnswer } from "../definition/answer.ts";
import { formatPath } from "../definition/issues.ts";
import { pinnedDefinition } from "../engine/definitions.ts";
import { DEFAULT_LEASE_MS, Engine, type EngineOptions, eventWaitOf, leaseExpiry, resultOf } from "../engine/engine.ts";
import { type Instruments, instruments, timed } from "../engine/tracing.ts";
import { ConflictError, DurableWorkflowError, NotFoundError, ValidationError } from "../errors.ts";
import { deepEqual } from "../json.ts";
import { JobSchema } from "../schemas.ts";
import { type Execution, type ExecutionResult, isDue, isTerminal, type Job, JOB_ACTIONS } from "../types.ts";
import { Engines } from "./engines.ts";
import type { WorkflowDefinition } from "../definition/workflow.ts";
import { isGated } from "../engine/flow.ts";
import { monotonicMs } from "../engine/run.ts";
import type { StoreClaim } from "../engine/start.ts";
import type { ClaimRequest } from "../store/store.ts";
import { requireStore } from "./runner.ts";

export type { Job, JobAction } from "../types.ts";

/**
 * A job from a newer version of this app: an action this version does not know. It is answered as retryable, so
 * that during a rolling deploy an older instance never drops a newer instance's job.
 */
export function isUnknownAction(value: unknown): value is { action: string } {
  const action = typeof value === "object" && value !== null ? (value as { action?: unknown }).action : undefined;
  return typeof action === "string" && !(JOB_ACTIONS as readonly string[]).includes(action);
}

/** A job as published: its own fields only, nothing else (never the execution's state; `priority` has no QStash meaning). */
export function jobBody(job: Job): Job {
  const { priority: _local, flowControl: _queue, ...fields } = JobSchema.parse(job);
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

/**
 * What performing a job came to, tagged by what follows: `done` (nothing to enqueue but a halt's timer or the waiters
 * a released slot lets start), `continue-later` (the call ended pending: a `continue` job, after `result.notBefore` if
 * set), `duplicate` (the job had already been done — a redelivery, a lost race, an answered halt, an ended execution:
 * nothing changed), `busy` (running under another worker's live lease until `busyUntil`: nothing done, look again then).
 * `takenOver`: a running execution whose lease had expired was taken over and run on by this job.
 */
export type JobOutcome =
  | { kind: "done" | "continue-later"; result: ExecutionResult; takenOver?: boolean; traceparent?: string }
  | { kind: "duplicate"; result: ExecutionResult; traceparent?: string }
  | { kind: "busy"; result: ExecutionResult; busyUntil: string; traceparent?: string };

/** A job to enqueue, with its options. */
export interface FollowUp {
  job: Job;
  options: EnqueueOptions;
}

/**
 * The jobs a performed job asks for, each keyed so that asking twice is one message: a look at a busy lease's
 * expiry (`lease-<ms>`), a continuation (at `notBefore`: `at-<ms>`; else after this delivery: `after-<id>`), and
 * an approval's timeout timer — also for a duplicate, since the delivery that halted may have died before it set
 * the timer (a halt with its own wake time). Only the plain continuation has no `delaySeconds`: it is due now. `now` is the engine clock's time in
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
  switch (outcome.kind) {
    case "busy":
      jobs.push({
        job: { ...base, action: "continue" },
        options: { delaySeconds: delaySeconds(outcome.busyUntil), key: `lease-${Date.parse(outcome.busyUntil)}` },
      });
      break;
    case "continue-later": {
      const notBefore = outcome.result.notBefore;
      jobs.push({
        job: { ...base, action: "continue", ...(job.queue ? { queue: job.queue } : {}) },
        options: notBefore ? { delaySeconds: delaySeconds(notBefore), key: `at-${Date.parse(notBefore)}` } : { key: after },
      });
      break;
    }
  }
  // Flow control: the waiters a released slot lets start (keyed by the releasing execution and time: each release is new).
  for (const id of outcome.result.flowStart ?? []) {
    jobs.push({ job: { ...base, executionId: id, action: "continue" }, options: { key: `flow-${job.executionId}-${now}` } });
  }
  const wakeAt = outcome.result.status === "halted" ? outcome.result.halt?.wakeAt : undefined;
  if (wakeAt) {
    // A wake that came early asks for itself again: that message must not be deduplicated against its own id.
    const early = job.action === "wake" && job.wakeAt === wakeAt && after;
    const key = early ? `${Date.parse(wakeAt)}.${after}` : String(Date.parse(wakeAt));
    jobs.push({ job: { ...base, action: "wake", wakeAt }, options: { delaySeconds: delaySeconds(wakeAt), key } });
  }
  return jobs;
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
  const served = lookupWorkflow(options.workflows, job.workflowId);
  // An untraced job runs on an engine kept for these options and this definition; a traced one links its own trace.
  const engines = job.traceparent ? undefined : enginesOf(options);
  const engineOf = (workflow: WorkflowDefinition) =>
    engines?.take(workflow) ?? new Engine(workflow, { ...options, store, traceparent: job.traceparent });
  // A job that may start a run of a served definition outside flow control claims it with its load: one request.
  let engine = store.claim && served && job.action !== "resume" && !(options.flowControl !== false && isGated(served))
    ? engineOf(served)
    : undefined;
  try {
    let exec: Execution | null;
    let claimed: StoreClaim | undefined;
    if (engine) {
      const request = claimRequest(engine, options.leaseMs ?? DEFAULT_LEASE_MS);
      const sentAt = monotonicMs(engine.clock);
      const read = await timed(meter, "load", () => store.claim!(id, request));
      exec = read?.execution ?? null;
      if (read?.revision !== undefined) claimed = { execution: read.execution, request, revision: read.revision, sentAt };
    } else {
      exec = await timed(meter, "load", () => store.load(id));
    }
    if (!exec) throw new NotFoundError(`Execution "${id}" not found`);
    if (exec.workflowId !== job.workflowId) {
      throw new PermanentJobError(`Execution "${id}" belongs to workflow "${exec.workflowId}", not "${job.workflowId}" as the job says`);
    }
    const workflow = await pinnedDefinition(store, exec.workflowHash, served, options.registry);
    if (!workflow) {
      throw new PermanentJobError(
        `Workflow "${exec.workflowId}" is not served here and its definition ${exec.workflowHash.slice(0, 12)} is not stored`,
      );
    }
    if (engine?.workflow !== workflow) {
      if (engine) engines?.release(engine.workflow, engine);
      engine = engineOf(workflow);
    }
    return await perform(engine, exec, job, options, meter, claimed);
  } finally {
    if (engine) engines?.release(engine.workflow, engine);
  }
}

/** What Store.claim is asked: the engine's time now and its lease from now. */
function claimRequest(engine: Engine, leaseMs: number): ClaimRequest {
  const now = engine.clock.now();
  return {
    workflowHash: engine.workflow.hash,
    at: now.toISOString(),
    leaseUntil: new Date(now.getTime() + leaseMs).toISOString(),
    leaseMs,
  };
}

const keptEngines = new WeakMap<PerformOptions, Engines>();

/** The engines kept for one PerformOptions object (a handler's or an adapter's, the same for each of its jobs). */
function enginesOf(options: PerformOptions): Engines {
  let engines = keptEngines.get(options);
  if (!engines) {
    keptEngines.set(options, engines = new Engines((workflow) => new Engine(workflow, { ...options, store: requireStore(options.store) })));
  }
  return engines;
}

/** performJob on the execution as loaded (and claimed with its load, when `claimed`), with an engine on its definition. */
async function perform(
  engine: Engine,
  exec: Execution,
  job: Job,
  options: PerformOptions,
  meter: Instruments | undefined,
  claimed: StoreClaim | undefined,
): Promise<JobOutcome> {
  const id = exec.id;
  if (meter && exec.status !== "running" && !isTerminal(exec.status)) {
    // When the job was due: the time its execution waits for, else its last checkpoint (the yield, the answer, the start).
    const due = Date.parse(exec.wakeAt ?? exec.updatedAt);
    meter.queueLag.record(Math.max(0, engine.clock.now().getTime() - due), { "job.action": job.action });
  }
  const outcome = (result: ExecutionResult, duplicate = false, takenOver = false): JobOutcome => {
    const traced = engine.lastTraceparent;
    const kind = duplicate ? "duplicate" : result.status === "pending" && result.yielded === true ? "continue-later" : "done";
    return { kind, result, ...(takenOver && kind !== "duplicate" ? { takenOver } : {}), ...(traced ? { traceparent: traced } : {}) };
  };
  try {
    if (exec.status === "running") {
      const expiry = leaseExpiry(exec, options.leaseMs ?? DEFAULT_LEASE_MS);
      if (expiry > engine.clock.now().getTime()) {
        return { ...outcome(resultOf(exec)), kind: "busy", busyUntil: new Date(expiry).toISOString() };
      }
      return outcome(await engine.continue(id, { loaded: exec }), false, true);
    }
    if (isTerminal(exec.status)) return outcome(resultOf(exec), true);
    switch (job.action) {
      case "start":
      case "continue":
        // A resume that waited for a flow-control slot keeps its answer on the halted execution.
        if (exec.status === "halted" && exec.answer && exec.flow?.waiting !== undefined) {
          return outcome(await engine.resume(id, { ...exec.answer, expectedRevision: exec.revision, loaded: exec }));
        }
        if (exec.status !== "pending") return outcome(resultOf(exec), true);
        return outcome(await engine.continue(id, { loaded: exec, claimed }));
      case "resume": {
        let answer;
        try {
          answer = checkResumeAnswer(job);
        } catch (error) {
          throw new PermanentJobError(`The answer of this resume job is refused: ${(error as Error).message}`);
        }
        if (exec.status !== "halted") return outcome(resultOf(exec), true);
        if (job.revision !== undefined && exec.revision !== job.revision) {
          // The halt was changed meanwhile without being answered (a migrate): its answer still waits, and is applied.
          if (!exec.answer || !deepEqual(exec.answer, answer)) return outcome(resultOf(exec), true);
          return outcome(await engine.resume(id, { ...answer, expectedRevision: exec.revision, loaded: exec }));
        }
        return outcome(await engine.resume(id, { ...answer, expectedRevision: job.revision, loaded: exec }));
      }
      case "wake":
        return outcome(...await wake(engine, exec, job, claimed));
    }
  } catch (error) {
    if (error instanceof ConflictError) return outcome(await engine.result(id), true);
    throw error;
  }
}

/**
 * A timer: continues a pending execution whose wait is over, applies an answer that waits on a halted execution
 * (its resume job was lost), stores an event wait's halt again (which applies an event handed to it whose resume job
 * was lost), or resumes a halt whose own wake time has passed (an approval takes `on_timeout`).
 * A timer names its halt by the halt's wake time (the sweeper's by the revision); one for another halt does nothing.
 */
async function wake(engine: Engine, exec: Execution, job: Job, claimed?: StoreClaim): Promise<[ExecutionResult, boolean?]> {
  if (exec.status === "pending") return [await engine.continue(exec.id, { loaded: exec, claimed })];
  const forThisHalt = job.revision !== undefined ? job.revision === exec.revision : job.wakeAt === undefined || job.wakeAt === exec.wakeAt;
  if (exec.status !== "halted" || !forThisHalt) return [resultOf(exec), true];
  // An event wait: its halt is stored again (the step times it), which applies an event handed to it whose resume job was lost.
  if (!exec.answer && exec.haltData && eventWaitOf(exec.haltData)) {
    return [await engine.resume(exec.id, { expectedRevision: exec.revision, loaded: exec })];
  }
  // Early (the queue's clock is ahead of the engine's): leave the halt untouched and ask for the timer again.
  if (!isDue(exec, engine.clock.now().getTime())) return [resultOf(exec)];
  return [await engine.resume(exec.id, { ...exec.answer, expectedRevision: exec.revision, loaded: exec })];
}
