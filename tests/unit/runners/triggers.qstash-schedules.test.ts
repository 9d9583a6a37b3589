// QStash schedules for cron triggers, against qstash-dev through the real @upstash/qstash Client.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Client } from "@upstash/qstash";
import { DEV_QSTASH_TOKEN, type QStashDevServer, startQStashDev } from "durable-workflow-edge-dev/qstash";
import { loadWorkflow } from "../../../src/definition/load.ts";
import { syncTriggerSchedules } from "../../../src/runners/adapters/qstash-schedules.ts";

let qstash: QStashDevServer;
let client: Client;

beforeEach(() => {
  qstash = startQStashDev({ port: 0 });
  client = new Client({ baseUrl: qstash.url, token: DEV_QSTASH_TOKEN, retry: false, enableTelemetry: false });
});

afterEach(async () => {
  await qstash.stop();
});

const reports = (crons: string[]) =>
  loadWorkflow({
    id: "reports",
    name: "Reports",
    triggers: crons.map((cron) => ({ cron })),
    steps: [{ id: "start", type: "start", next: "done" }, { id: "done", type: "end" }],
  });

describe("syncTriggerSchedules", () => {
  test("creates one schedule per cron trigger, with a fixed id, posting a sweep to the callback", async () => {
    const synced = await syncTriggerSchedules(client, {
      callbackUrl: "http://app.test/qstash",
      workflows: [reports(["0 9 * * 1", "*/5 * * * *"])],
    });
    expect(synced).toEqual({ created: ["dw-cron-reports-0", "dw-cron-reports-1"], removed: [] });
    const schedule = await client.schedules.get("dw-cron-reports-1");
    expect([schedule.cron, schedule.destination, schedule.body]).toEqual(["*/5 * * * *", "http://app.test/qstash", '{"action":"sweep"}']);
  });

  test("a second sync with one trigger fewer removes that trigger's schedule and leaves other schedules alone", async () => {
    const { scheduleId: other } = await client.schedules.create({ destination: "http://elsewhere.test/", cron: "0 0 * * *" });
    await syncTriggerSchedules(client, { callbackUrl: "http://app.test/qstash", workflows: [reports(["0 9 * * 1", "*/5 * * * *"])] });
    const synced = await syncTriggerSchedules(client, { callbackUrl: "http://app.test/qstash", workflows: [reports(["0 9 * * 1"])] });
    expect(synced).toEqual({ created: ["dw-cron-reports-0"], removed: ["dw-cron-reports-1"] });
    expect((await client.schedules.list()).map((s) => s.scheduleId).sort()).toEqual(["dw-cron-reports-0", other].sort());
  });
});
