/**
 * Cron triggers: a tick (a timer, Deno's cron, the Workers Cron Trigger, a QStash schedule) calls `fireDueTriggers`,
 * which starts each trigger's latest occurrence once, whatever the instances ticking: the trigger's cursor in the
 * store moves atomically, and the run's id `<workflow id>:cron:<yyyymmddhhmm>` (UTC, `:<n>` for the n-th of several
 * cron triggers) makes the start idempotent. After downtime only the most recent missed occurrence starts, late.
 */
import type { WorkflowLookup } from "../config.ts";
import type { Trigger, WorkflowDefinition } from "../definition/workflow.ts";
import { type Clock, toClock } from "../engine/clock.ts";
import { errorText } from "../errors.ts";
import { nextOccurrence, parseCron, previousOccurrence, utcMinuteStamp } from "../expressions/cron.ts";
import type { Store } from "../store/store.ts";
import type { JsonObject, Services } from "../types.ts";
import { InlineAdapter } from "./adapters/inline.ts";
import { AsyncRunner } from "./async.ts";
import type { QueueAdapter } from "./jobs.ts";
import { requireStore } from "./runner.ts";
import { workflowsOf } from "./send-event.ts";

type CronTrigger = Extract<Trigger, { cron: string }>;

/** A workflow's cron triggers with the execution id suffix and cursor name of each. */
export function cronTriggersOf(workflow: WorkflowDefinition): { trigger: CronTrigger; index: number; suffix: string }[] {
  const crons = (workflow.triggers ?? []).filter((t): t is CronTrigger => "cron" in t);
  return crons.map((trigger, index) => ({ trigger, index, suffix: crons.length > 1 ? `:${index}` : "" }));
}

/** The execution id of a cron start: `<workflow id>:cron:<yyyymmddhhmm>` of the occurrence in UTC (+ `:<n>`). */
export function cronExecutionId(workflowId: string, occurrence: number, suffix = ""): string {
  return `${workflowId}:cron:${utcMinuteStamp(occurrence)}${suffix}`;
}

/** When a workflow's cron triggers fire next (ISO), soonest first: for the dashboard and GET /workflows/:id. */
export function nextStarts(workflow: WorkflowDefinition, now: Date): { cron: string; timezone: string; next: string | null }[] {
  return cronTriggersOf(workflow).map(({ trigger }) => {
    const timezone = trigger.timezone ?? "UTC";
    const next = nextOccurrence(parseCron(trigger.cron), timezone, now.getTime());
    return { cron: trigger.cron, timezone, next: next === null ? null : new Date(next).toISOString() };
  });
}

export interface FireOptions {
  store?: Store;
  /** The workflows served (a lookup function cannot list its triggers: pass a list, map or record). */
  workflows: WorkflowLookup;
  /** Where started runs are queued (default: an InlineAdapter, which runs them now). */
  adapter?: QueueAdapter;
  services?: Services;
  clock?: Clock | (() => Date);
  /** Default: the clock's time. */
  now?: Date;
}

export interface FireReport {
  started: { executionId: string; workflowId: string; occurrence: string }[];
  failed: { workflowId: string; occurrence: string; error: string }[];
}

/** A first tick only starts an occurrence this recent: a new deployment does not start yesterday's run. */
const FIRST_TICK_WINDOW_MS = 60_000;

/** Starts every cron trigger's latest occurrence that has not been started (one store request per trigger, plus the start). */
export async function fireDueTriggers(options: FireOptions): Promise<FireReport> {
  const store = requireStore(options.store);
  const clock = toClock(options.clock);
  const now = (options.now ?? clock.now()).getTime();
  const report: FireReport = { started: [], failed: [] };
  const adapter = options.adapter ?? new InlineAdapter({ store, workflows: options.workflows, services: options.services, clock });
  for (const workflow of workflowsOf(options.workflows)) {
    for (const { trigger, index, suffix } of cronTriggersOf(workflow)) {
      const occurrence = previousOccurrence(parseCron(trigger.cron), trigger.timezone ?? "UTC", now);
      if (occurrence === null) continue;
      const { moved, previous } = await store.advanceCursor(`${workflow.id}:cron:${index}`, occurrence);
      if (!moved || (previous === null && now - occurrence >= FIRST_TICK_WINDOW_MS)) continue;
      const executionId = cronExecutionId(workflow.id, occurrence, suffix);
      const at = new Date(occurrence).toISOString();
      try {
        await new AsyncRunner(workflow, { store, adapter, clock }).run((trigger.input ?? {}) as JsonObject, {
          executionId,
          trigger: { cron: trigger.cron, timezone: trigger.timezone ?? "UTC", occurrence: at },
        });
        report.started.push({ executionId, workflowId: workflow.id, occurrence: at });
      } catch (error) {
        report.failed.push({ workflowId: workflow.id, occurrence: at, error: errorText(error) });
      }
    }
  }
  return report;
}
