/** The in-memory QStash: a Web-standard `fetch(req)` handler plus the scheduler that delivers. Runtime-agnostic. */
import { type ConnectionInfo, createQStashApp } from "./app.ts";
import { DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY, DEV_QSTASH_TOKEN } from "./defaults.ts";
import { Publisher } from "./publish.ts";
import { Scheduler } from "./scheduler.ts";
import { Schedules, type ScheduleView } from "./schedules.ts";
import { type QStashDevStats, StatsCounter } from "./stats.ts";
import type { DevMessage, QStashDevOptions } from "./types.ts";
import { snapshot } from "./views.ts";
import { type WorkflowRunInfo, WorkflowRuns } from "./workflow.ts";

export class QStashDev {
  readonly token: string;
  readonly currentSigningKey: string;
  readonly nextSigningKey: string;
  private readonly scheduler: Scheduler;
  private readonly runs: WorkflowRuns;
  private readonly scheduleList: Schedules;
  private readonly counter = new StatsCounter();
  private readonly app: ReturnType<typeof createQStashApp>;
  /** Waits `latencyMs` (undefined when there is none). */
  readonly #delay: (() => Promise<void>) | undefined;

  constructor(options: QStashDevOptions = {}) {
    this.token = options.token ?? DEV_QSTASH_TOKEN;
    this.currentSigningKey = options.currentSigningKey ?? DEV_CURRENT_SIGNING_KEY;
    this.nextSigningKey = options.nextSigningKey ?? DEV_NEXT_SIGNING_KEY;
    const log = options.log ?? (() => {});
    const send = options.fetch ?? ((url, init) => fetch(url, init));
    const latencyMs = options.latencyMs ?? 0;
    const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
    const delay = this.#delay = latencyMs > 0 ? () => sleep(latencyMs) : undefined;
    this.scheduler = new Scheduler({
      send: delay
        ? async (url, init) => {
          await delay();
          return await send(url, init);
        }
        : send,
      now: options.now ?? Date.now,
      retryDelayMs: options.retryDelayMs ?? 1000,
      signingKey: this.currentSigningKey,
      log,
      stats: this.counter,
    });
    this.runs = new WorkflowRuns(this.scheduler);
    const publisher = new Publisher(this.scheduler, this.runs, {
      deduplicationWindowMs: options.deduplicationWindowMs ?? 90 * 86_400_000,
      log,
    });
    this.scheduleList = new Schedules(this.scheduler, publisher);
    this.app = createQStashApp({
      token: this.token,
      currentSigningKey: this.currentSigningKey,
      nextSigningKey: this.nextSigningKey,
      scheduler: this.scheduler,
      publisher,
      schedules: this.scheduleList,
      runs: this.runs,
      stats: this.counter,
    });
    this.fetch = this.fetch.bind(this);
  }

  /** The HTTP API. `info.remoteAddress`, when given, limits the `/_dev` routes to loopback callers. */
  async fetch(req: Request, info?: ConnectionInfo): Promise<Response> {
    if (this.#delay && new URL(req.url).pathname.startsWith("/v2/")) await this.#delay();
    return await this.app.fetch(req, info);
  }

  /** The scheduling clock: `now()` plus everything `advanceTime` skipped. */
  clock(): number {
    return this.scheduler.clock();
  }

  /** Moves the scheduling clock forward and delivers what became due: delays, not-before, backoffs and schedule ticks. */
  advanceTime(ms: number): void {
    this.scheduler.advanceTime(ms);
  }

  /** A snapshot of every message and callback seen, oldest first. */
  messages(): DevMessage[] {
    return [...this.scheduler.entries.values()].map((e) => snapshot(e.info));
  }

  message(id: string): DevMessage | undefined {
    const entry = this.scheduler.entries.get(id);
    return entry && snapshot(entry.info);
  }

  schedules(): ScheduleView[] {
    return this.scheduleList.list();
  }

  /** A workflow run's step log and state, or undefined for a run id never seen. */
  workflowRun(runId: string): WorkflowRunInfo | undefined {
    return this.runs.info(runId);
  }

  /** Resolves once the run has ended (the SDK deleted it) and every one of its deliveries was answered. */
  waitForRun(runId: string, timeoutMs = 10_000): Promise<WorkflowRunInfo> {
    return this.runs.waitEnded(runId, timeoutMs);
  }

  /**
   * Resolves once nothing is in flight and nothing is due: every message is delivered, failed, cancelled,
   * or waiting for a delay / not-before that lies ahead (or for a paused queue). A message waiting for
   * its retry backoff counts as busy. Rejects after `timeoutMs` naming the busy messages.
   */
  waitIdle(timeoutMs = 10_000): Promise<void> {
    return this.scheduler.waitIdle(timeoutMs);
  }

  stats(): QStashDevStats {
    return this.counter.snapshot();
  }

  resetStats(): void {
    this.counter.reset();
  }

  /** Stops scheduling, aborts deliveries in flight and clears the timer. */
  close(): void {
    this.scheduler.close();
  }
}
