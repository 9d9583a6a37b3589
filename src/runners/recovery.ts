/**
 * Recovery that depends on no queue's retry timing: the sweeper hands every execution that nobody is working on
 * (an expired lease, a pending execution whose job was lost, an approval whose timer was lost) back to the
 * queue, and `recover` does the same for one execution on an operator's request.
 */
import { type Clock, toClock } from "../engine/clock.ts";
import { DEFAULT_LEASE_MS, leaseExpiry } from "../engine/engine.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import type { Recoverable, Store } from "../store/store.ts";
import { type Execution, isDue, type StoredEvent } from "../types.ts";
import type { Job, QueueAdapter } from "./jobs.ts";

export interface SweepOptions {
  store: Store;
  adapter: QueueAdapter;
  clock?: Clock | (() => Date);
  /** How long a pending execution (or an expired approval) may wait for its job before it counts as lost (default 60 s). */
  graceMs?: number;
  /** An execution handed back is not handed back again for this long (default 60 s). */
  claimMs?: number;
  /** Executions per store request (default 100). */
  pageSize?: number;
  /** Pages per sweep (default 10). */
  maxPages?: number;
}

export interface SweepReport {
  /** The executions handed back to the queue. */
  enqueued: Recoverable[];
  /** Those whose job could not be enqueued (they are due again after `claimMs`). */
  failed: { item: Recoverable; error: string }[];
}

const DEFAULT_SWEEP_GRACE_MS = 60_000;
const DEFAULT_SWEEP_CLAIM_MS = 60_000;

/** The job that hands a recoverable execution back: continue it (running, pending) or wake it (a due approval). */
function recoveryJob(item: Pick<Recoverable, "id" | "workflowId" | "status" | "revision">): Job {
  const base = { workflowId: item.workflowId, executionId: item.id };
  return item.status === "halted" ? { ...base, action: "wake", revision: item.revision } : { ...base, action: "continue" };
}

/** One sweep: a store request per page, a job per execution found. */
export async function sweep(options: SweepOptions): Promise<SweepReport> {
  const clock = toClock(options.clock);
  const report: SweepReport = { enqueued: [], failed: [] };
  const maxPages = options.maxPages ?? 10;
  for (let page = 0; page < maxPages; page++) {
    const now = clock.now();
    const items = await options.store.recoverable({
      now,
      graceMs: options.graceMs ?? DEFAULT_SWEEP_GRACE_MS,
      claimMs: options.claimMs ?? DEFAULT_SWEEP_CLAIM_MS,
      limit: options.pageSize ?? 100,
    });
    for (const item of items) {
      try {
        await options.adapter.enqueue(recoveryJob(item), { key: `sweep-${now.getTime()}` });
        report.enqueued.push(item);
      } catch (error) {
        report.failed.push({ item, error: error instanceof Error ? error.message : String(error) });
      }
    }
    if (items.length < (options.pageSize ?? 100)) break;
  }
  return report;
}

/**
 * An operator's recovery of one execution: a running one whose lease has expired, or a pending one, is handed
 * back to the queue. ConflictError while the lease is live (naming its expiry) or when the execution is not
 * stuck (halted waiting for an answer, pending until a time still ahead, or ended).
 */
export async function recover(
  store: Store,
  adapter: QueueAdapter,
  executionId: string,
  options: { clock?: Clock | (() => Date); leaseMs?: number; actor?: string } = {},
): Promise<Execution> {
  const exec = await store.load(executionId);
  if (!exec) throw new NotFoundError(`Execution "${executionId}" not found`);
  const now = toClock(options.clock).now().getTime();
  if (exec.status === "running") {
    const expiry = leaseExpiry(exec, options.leaseMs ?? DEFAULT_LEASE_MS);
    if (expiry > now) {
      throw new ConflictError(
        `Execution "${executionId}" is running under a live lease until ${new Date(expiry).toISOString()}: it can be recovered after that`,
      );
    }
  } else if (exec.status === "halted" && isDue(exec, now)) {
    // An answer whose resume job was lost (it is applied), or an approval whose timer was lost (it takes on_timeout).
  } else if (exec.status === "pending" && exec.wakeAt && Date.parse(exec.wakeAt) > now) {
    throw new ConflictError(
      `Execution "${executionId}" is not stuck: it waits until ${exec.wakeAt}, when its timer (or the sweeper) continues it`,
    );
  } else if (exec.status !== "pending") {
    throw new ConflictError(
      `Execution "${executionId}" is ${exec.status}: only a running execution whose lease has expired, or a pending one, can be recovered`,
    );
  }
  // The operator's recovery is on the record (a `workflow.recovered` event), stored before the job is enqueued.
  const event: StoredEvent = {
    seq: exec.eventSeq + 1,
    type: "workflow.recovered",
    data: { executionId: exec.id, status: exec.status, ...(options.actor ? { actor: options.actor } : {}) },
    timestamp: new Date(now).toISOString(),
  };
  const recorded = { ...exec, eventSeq: event.seq };
  const { revision } = await store.commit({ execution: recorded, expectedRevision: exec.revision, events: [event] });
  await adapter.enqueue(
    recoveryJob({ id: exec.id, workflowId: exec.workflowId, status: exec.status as Recoverable["status"], revision }),
    { key: `recover-${now}` },
  );
  return { ...recorded, revision };
}
