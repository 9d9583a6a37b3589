/**
 * Time firing by itself. One `tick` does what is due: the in-process queue's delayed jobs (waits, approval timeouts,
 * retries, busy leases), the sweeper and, with the sweep, the due occurrences of cron triggers. Every way a deployment keeps time calls it: the app's own ticker on a
 * long-lived runtime (`startTicker`), the Workers Cron Trigger, and a QStash schedule's `{ "action": "sweep" }`.
 */
import { errorText } from "../errors.ts";
import type { WorkflowDefinition } from "../definition/workflow.ts";
import type { Clock } from "../engine/clock.ts";
import { InlineAdapter } from "./adapters/inline.ts";
import type { QueueAdapter } from "./jobs.ts";
import { sweep, type SweepOptions, type SweepReport } from "./recovery.ts";
import type { Store } from "../store/store.ts";
import { fireDueTriggers, type FireReport } from "./triggers.ts";

export interface TickOptions {
  store: Store;
  adapter: QueueAdapter;
  clock?: Clock | (() => Date);
  /** The sweeper's options. */
  sweep?: Pick<SweepOptions, "graceMs" | "claimMs" | "pageSize" | "maxPages">;
  /** The served workflows, listed when the tick sweeps: their cron triggers' due occurrences start then. */
  triggers?: () => readonly WorkflowDefinition[] | Promise<readonly WorkflowDefinition[]>;
}

export interface TickReport {
  /** Delayed jobs of the in-process queue that came due and were run. */
  timers: number;
  /** The sweep's report, when this tick swept. */
  sweep?: SweepReport;
  /** The cron trigger runs started (and the starts that failed), when this tick swept with `triggers`. */
  triggers?: FireReport;
}

/**
 * With the in-process queue nothing else delivers a due job: once this process's own due timers have run (first, in
 * the same tick), a pending execution past its wake time is one whose timer lived elsewhere (another isolate, a process
 * that restarted), so the sweeper hands it back after a short grace instead of QStash's 60 s.
 */
const IN_PROCESS_SWEEP_GRACE_MS = 1_000;

/** One tick: the in-process queue's due timers, then (unless `sweep: false`) the sweeper and the due cron triggers. */
export async function tick(options: TickOptions, { sweep: sweeping = true }: { sweep?: boolean } = {}): Promise<TickReport> {
  const inProcess = options.adapter instanceof InlineAdapter;
  const timers = inProcess ? await (options.adapter as InlineAdapter).runDueTimers() : 0;
  if (!sweeping) return { timers };
  const clock = options.clock ? { clock: options.clock } : {};
  const report = await sweep({
    ...(inProcess ? { graceMs: IN_PROCESS_SWEEP_GRACE_MS } : {}),
    ...options.sweep,
    store: options.store,
    adapter: options.adapter,
    ...clock,
  });
  if (!options.triggers) return { timers, sweep: report };
  const triggers = await fireDueTriggers({ store: options.store, adapter: options.adapter, workflows: await options.triggers(), ...clock });
  return { timers, sweep: report, triggers };
}

export interface TickerOptions {
  /** Time between two ticks, in ms (default 1 000). */
  intervalMs?: number;
  /** Time between two sweeps, in ms (default 15 000; 0: the ticker never sweeps). */
  sweepEveryMs?: number;
  /** Told once when ticks start failing and once when they work again (default: console). */
  log?: (level: "info" | "warn", line: string) => void;
}

const DEFAULT_TICK_MS = 1_000;
const DEFAULT_SWEEP_EVERY_MS = 15_000;

export interface Ticker {
  stop(): void;
}

const defaultLog = (level: "info" | "warn", line: string) => (level === "warn" ? console.warn(line) : console.log(line));

/**
 * Calls `run` every `intervalMs` (asking it to sweep every `sweepEveryMs`) on a timer that does not keep the process
 * alive where the runtime can tell (`unref` on Node and Bun; a Deno server is held by its listener anyway). A tick
 * still running when the next is due is not doubled. A failure is logged once, and its end once.
 */
export function startTicker(run: (options: { sweep: boolean }) => Promise<unknown>, options: TickerOptions = {}): Ticker {
  const intervalMs = options.intervalMs ?? DEFAULT_TICK_MS;
  const sweepEveryMs = options.sweepEveryMs ?? DEFAULT_SWEEP_EVERY_MS;
  const log = options.log ?? defaultLog;
  let running = false;
  let failing = false;
  let lastSweep = -Infinity;
  const beat = async () => {
    if (running) return;
    running = true;
    const now = Date.now();
    const sweeping = sweepEveryMs > 0 && now - lastSweep >= sweepEveryMs;
    try {
      await run({ sweep: sweeping });
      if (sweeping) lastSweep = now;
      if (failing) log("info", "durable-workflow: ticks work again");
      failing = false;
    } catch (error) {
      if (!failing) {
        log("warn", `durable-workflow: tick failed (retried every ${intervalMs} ms; logged once until it works): ${errorText(error)}`);
      }
      failing = true;
    } finally {
      running = false;
    }
  };
  const handle = setInterval(beat, intervalMs);
  (handle as unknown as { unref?: () => void }).unref?.();
  return { stop: () => clearInterval(handle) };
}
