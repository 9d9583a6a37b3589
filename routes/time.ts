import { errorText } from "../src/errors.ts";
import { lineWriter } from "../src/log.ts";
import { ensureSweepSchedule, QStashAdapter } from "../src/runners/adapters/qstash.ts";
import { startTicker, tick, type TickReport } from "../src/runners/ticker.ts";
import { type AppContext, appNow } from "./context.ts";

/** Retry a failed sweep-schedule check at the next use after this long, not at every request. */
const RETRY_SCHEDULE_MS = 60_000;

/** The UTC minute (epoch ms / 60 000) in which an app last fired its cron triggers. */
const triggersFired = new WeakMap<AppContext, number>();

/**
 * One tick of an app: its in-process queue's due jobs and (unless `sweep: false`) the sweeper, with its options,
 * and the due cron triggers of the workflows it serves. Cron times are whole minutes, so an app lists its workflows
 * and fires them in its first sweeping tick of each minute only (not every sweep: the listing costs store requests).
 */
export async function tickApp(app: AppContext, options: { sweep?: boolean } = {}): Promise<TickReport> {
  const minute = Math.floor(appNow(app).getTime() / 60_000);
  const firing = options.sweep !== false && triggersFired.get(app) !== minute;
  const report = await tick({
    store: app.store,
    adapter: app.adapter,
    ...(app.options.clock ? { clock: app.options.clock } : {}),
    ...(app.options.sweep ? { sweep: app.options.sweep } : {}),
    ...(firing ? { triggers: () => app.listWorkflows() } : {}),
  }, options);
  if (firing) triggersFired.set(app, minute);
  return report;
}

/** One tick of an app (`tickApp`), with its line in the app's log when it did something. */
export async function tickAndLog(app: AppContext, options: { sweep?: boolean } = {}): Promise<TickReport> {
  const report = await tickApp(app, options);
  const line = tickLine(report);
  if (line) app.log.info(line);
  return report;
}

/** The line an operator reads when a tick did something; undefined when it did nothing. */
function tickLine(report: TickReport): string | undefined {
  const handedBack = report.sweep?.enqueued.length ?? 0;
  const failed = report.sweep?.failed.length ?? 0;
  const started = report.triggers?.started.length ?? 0;
  const notStarted = report.triggers?.failed ?? [];
  if (!report.timers && !handedBack && !failed && !started && !notStarted.length) return undefined;
  return `tick: ${report.timers} due job(s) run, ${handedBack} execution(s) handed back by the sweeper` +
    (failed ? `, ${failed} could not be enqueued (retried after the claim time)` : "") +
    (started ? `, ${started} cron trigger run(s) started` : "") +
    notStarted.map((f) => `; cron trigger of ${f.workflowId} at ${f.occurrence} not started: ${f.error}`).join("");
}

function onWorkers(): boolean {
  return (globalThis as { navigator?: { userAgent?: string } }).navigator?.userAgent === "Cloudflare-Workers";
}

/** Whether an app runs its own ticker (AppOptions.ticker). */
export function wantsTicker(app: AppContext): boolean {
  const option = app.options.ticker;
  // Timers do not outlive a request on Workers: the Cron Trigger (app.scheduled) ticks there.
  if (option === false || onWorkers()) return false;
  if (option === true || typeof option === "object") return true;
  return !(app.adapter instanceof QStashAdapter) && !app.options.clock;
}

/** Whether an app makes sure of its QStash sweep schedule (AppOptions.qstash.sweepSchedule). */
function wantsSweepSchedule(app: AppContext): app is AppContext & { adapter: QStashAdapter } {
  const option = app.options.qstash?.sweepSchedule;
  if (!(app.adapter instanceof QStashAdapter) || !app.options.qstash || option === false) return false;
  return option === true || !app.options.clock;
}

/**
 * What makes an app's time fire, started once per AppContext at its first use: the sweep schedule with a
 * QStashAdapter, else the ticker where the runtime lives on (see AppOptions.ticker). `start` resolves when it is in
 * place; it never rejects (a failure is one logged line, and the next use after a minute tries again).
 */
export function appTime(): { start(app: AppContext): Promise<void> } {
  const started = new WeakMap<AppContext, { done: Promise<void>; failedAt?: number }>();
  const start = (app: AppContext): Promise<void> => {
    const previous = started.get(app);
    if (previous && (previous.failedAt === undefined || Date.now() - previous.failedAt < RETRY_SCHEDULE_MS)) return previous.done;
    const entry: { done: Promise<void>; failedAt?: number } = { done: Promise.resolve() };
    started.set(app, entry);
    if (wantsSweepSchedule(app)) {
      const adapter = app.adapter;
      entry.done = ensureSweepSchedule(adapter).then(
        ({ scheduleId, created }) =>
          app.log.info(
            `QStash sweep schedule ${scheduleId} ${
              created ? "created" : "in place"
            }: {"action":"sweep"} to ${adapter.callbackUrl} every minute`,
          ),
        (error) => {
          entry.failedAt = Date.now();
          app.log.warn("the QStash sweep schedule could not be checked or created (retried later)", { error: errorText(error) });
        },
      );
    } else if (wantsTicker(app)) {
      const option = typeof app.options.ticker === "object" ? app.options.ticker : {};
      startTicker((options) => tickAndLog(app, options), { ...option, log: lineWriter(app.log) });
    }
    return entry.done;
  };
  return { start };
}
