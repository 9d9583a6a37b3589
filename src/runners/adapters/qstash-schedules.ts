/**
 * QStash schedules for cron triggers: one schedule per trigger, with a fixed id `dw-cron-<workflow id>-<n>`, posting
 * `{ "action": "sweep" }` to the callback route at the trigger's times (the sweep delivery fires due triggers, so a
 * late or duplicated schedule delivery starts nothing twice). Schedules of triggers that are gone are removed.
 */
import type { Client } from "@upstash/qstash";
import type { WorkflowDefinition } from "../../definition/workflow.ts";
import { cronTriggersOf } from "../triggers.ts";
import { createSweepSchedule } from "./qstash.ts";

export type QStashSchedulesClient = { schedules: Pick<Client["schedules"], "create" | "list" | "delete"> };

const TRIGGER_SCHEDULE_PREFIX = "dw-cron-";

/** The fixed schedule id of a workflow's n-th cron trigger. */
function triggerScheduleId(workflowId: string, index: number): string {
  return `${TRIGGER_SCHEDULE_PREFIX}${workflowId}-${index}`;
}

/** Creates (or updates) a schedule per cron trigger and deletes the `dw-cron-` schedules no trigger has any more. */
export async function syncTriggerSchedules(
  client: QStashSchedulesClient,
  options: { callbackUrl: string; workflows: readonly WorkflowDefinition[] },
): Promise<{ created: string[]; removed: string[] }> {
  const wanted = new Map<string, string>();
  for (const workflow of options.workflows) {
    for (const { trigger, index } of cronTriggersOf(workflow)) {
      const zone = trigger.timezone && trigger.timezone !== "UTC" ? `CRON_TZ=${trigger.timezone} ` : "";
      wanted.set(triggerScheduleId(workflow.id, index), `${zone}${trigger.cron}`);
    }
  }
  const created: string[] = [];
  for (const [scheduleId, cron] of wanted) {
    await createSweepSchedule(client.schedules, { scheduleId, destination: options.callbackUrl, cron });
    created.push(scheduleId);
  }
  const removed: string[] = [];
  for (const schedule of await client.schedules.list()) {
    if (schedule.scheduleId.startsWith(TRIGGER_SCHEDULE_PREFIX) && !wanted.has(schedule.scheduleId)) {
      await client.schedules.delete(schedule.scheduleId);
      removed.push(schedule.scheduleId);
    }
  }
  return { created, removed };
}
