/**
 * The Upstash Workflow run protocol as @upstash/workflow 1.3 uses it: messages that carry
 * `Upstash-Workflow-RunId` belong to a run; every message's body is appended to the run's step log, and
 * delivering message k sends the log up to and including k. The SDK ends a run with DELETE.
 */
import { encodeText, toBase64 } from "./bytes.ts";
import { QStashDevError } from "./errors.ts";
import type { PublishResult } from "./publish.ts";
import { type Entry, isSettled, type Scheduler } from "./scheduler.ts";

/** One element of the array a workflow endpoint receives (and `GET /v2/workflows/runs/:id` answers). */
export interface RawStep {
  messageId: string;
  /** base64 of the message's body: the initial payload for element 0, a step's JSON after it. */
  body: string;
  callType: "step";
}

export interface WorkflowRunInfo {
  runId: string;
  url: string;
  createdAt: number;
  steps: RawStep[];
  /** Set once the SDK deleted the run: its result body and whether it was a cancel. */
  ended?: { cancelled: boolean; result: string };
  /** Messages of the run still to be delivered or in flight. */
  pending: number;
}

interface Run {
  runId: string;
  url: string;
  createdAt: number;
  trigger: PublishResult;
  /** The trigger's forwarded headers: user headers reach every step. */
  forward: Record<string, string>;
  steps: RawStep[];
  entries: Entry[];
  ended?: { cancelled: boolean; result: string };
  waiters: Set<() => void>;
}

export class WorkflowRuns {
  private readonly runs = new Map<string, Run>();

  constructor(private readonly scheduler: Scheduler) {
    scheduler.onSettled((entry) => {
      const run = entry.info.workflowRunId ? this.runs.get(entry.info.workflowRunId) : undefined;
      if (run) this.notifyIfDone(run);
    });
  }

  /** A second trigger with a run id already seen: the first trigger's result. */
  repeatedTrigger(w: { runId: string; init: boolean }): PublishResult | undefined {
    return w.init ? this.runs.get(w.runId)?.trigger : undefined;
  }

  /** Refuses a step for a run that ended (the SDK reads 400 as "cancelled") or that never started. */
  checkPublishable(w: { runId: string; init: boolean } | undefined): void {
    if (!w || w.init) return;
    const run = this.runs.get(w.runId);
    if (!run) {
      throw new QStashDevError(400, `workflow run ${JSON.stringify(w.runId)} not found: publish with Upstash-Workflow-Init: true first`);
    }
    if (run.ended) throw new QStashDevError(400, `workflow run ${JSON.stringify(w.runId)} has ended; it takes no more steps`);
  }

  /** Appends a just-enqueued message to its run's log (a trigger starts the run) and makes it deliver the log. */
  attach(w: { runId: string; init: boolean }, entry: Entry): void {
    let run = this.runs.get(w.runId);
    if (!run) {
      run = {
        runId: w.runId,
        url: entry.info.url,
        createdAt: entry.info.createdAt,
        trigger: { messageId: entry.info.messageId, url: entry.info.url },
        forward: { ...entry.info.header },
        steps: [],
        entries: [],
        waiters: new Set(),
      };
      this.runs.set(w.runId, run);
    }
    entry.info.header = { ...run.forward, ...entry.info.header };
    entry.systemHeaders["upstash-workflow-runid"] = run.runId;
    entry.systemHeaders["upstash-workflow-createdat"] = String(run.createdAt);
    run.steps.push({ messageId: entry.info.messageId, body: toBase64(entry.bytes), callType: "step" });
    run.entries.push(entry);
    const upTo = run.steps.length;
    const steps = run.steps;
    entry.deliveryBody = () => encodeText(JSON.stringify(steps.slice(0, upTo)));
  }

  /** `GET /v2/workflows/runs/:id`: the step log, or 404 once the run ended (as the SDK expects). */
  steps(runId: string): RawStep[] {
    const run = this.runs.get(runId);
    if (!run || run.ended) throw new QStashDevError(404, `workflow run ${JSON.stringify(runId)} not found or ended`);
    return run.steps;
  }

  /** `DELETE /v2/workflows/runs/:id?cancel=`: ends the run; a cancel also drops its undelivered messages. */
  end(runId: string, cancelled: boolean, result: string): void {
    const run = this.runs.get(runId);
    if (!run || run.ended) throw new QStashDevError(404, `workflow run ${JSON.stringify(runId)} not found or already ended`);
    run.ended = { cancelled, result };
    if (cancelled) {
      const waiting = run.entries.filter((e) => e.info.state === "CREATED" || e.info.state === "RETRY");
      this.scheduler.cancel(waiting.map((e) => e.info.messageId));
    }
    this.notifyIfDone(run);
  }

  info(runId: string): WorkflowRunInfo | undefined {
    const run = this.runs.get(runId);
    if (!run) return undefined;
    const pending = run.entries.filter((e) => !isSettled(e.info.state)).length;
    return { runId, url: run.url, createdAt: run.createdAt, steps: [...run.steps], ended: run.ended, pending };
  }

  /** Resolves once the run has ended and every one of its deliveries was answered. */
  waitEnded(runId: string, timeoutMs: number): Promise<WorkflowRunInfo> {
    const run = this.runs.get(runId);
    if (!run) return Promise.reject(new QStashDevError(404, `workflow run ${JSON.stringify(runId)} not found`));
    if (this.isDone(run)) return Promise.resolve(this.info(runId)!);
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timeout);
        run.waiters.delete(done);
        resolve(this.info(runId)!);
      };
      const timeout = setTimeout(() => {
        run.waiters.delete(done);
        reject(new QStashDevError(408, `workflow run ${JSON.stringify(runId)} has not ended after ${timeoutMs} ms`));
      }, timeoutMs);
      run.waiters.add(done);
    });
  }

  private isDone(run: Run): boolean {
    return run.ended !== undefined && run.entries.every((e) => isSettled(e.info.state));
  }

  private notifyIfDone(run: Run): void {
    if (run.waiters.size === 0 || !this.isDone(run)) return;
    for (const resolve of [...run.waiters]) resolve();
  }
}
