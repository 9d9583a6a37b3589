// deno-lint-ignore-file no-explicit-any -- answers are untyped JSON
/**
 * Time fires by itself: one `tick` (the in-process queue's due jobs, then the sweeper) run by the app's ticker, by
 * `app.scheduled` (Workers' Cron Trigger) and by a QStash sweep schedule the app makes sure of under a fixed id.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { Client } from "@upstash/qstash";
import { appOptionsFromEnv } from "../../../config-from-env.ts";
import { type AppOptions, createApp } from "../../../routes/app.ts";
import { buildContext } from "../../../routes/context.ts";
import { tickApp, wantsTicker } from "../../../routes/time.ts";
import { loadWorkflow } from "../../../src/definition/load.ts";
import { ManualClock } from "../../../src/engine/clock.ts";
import { ConfigError } from "../../../src/errors.ts";
import { ensureSweepSchedule, QStashAdapter, sweepScheduleIdOf } from "../../../src/runners/adapters/qstash.ts";
import { startTicker } from "../../../src/runners/ticker.ts";
import { MemoryStore } from "../../../src/store/memory.ts";
import { DEV_QSTASH_TOKEN, type QStashDevServer, startQStashDev } from "durable-workflow-edge-dev/qstash";

const pause = loadWorkflow({
  id: "pause",
  name: "Pause",
  steps: [
    { id: "nap", type: "wait", seconds: 3, next: "done" },
    { id: "done", type: "end", result: { woke: true } },
  ],
});

const confirm = loadWorkflow({
  id: "confirm",
  name: "Confirm",
  steps: [
    { id: "ask", type: "approval", prompt: "Still wanted?", timeout: 3, on_timeout: "expired", next: "done" },
    { id: "expired", type: "end", result: { status: "expired" } },
    { id: "done", type: "end", result: { status: "confirmed" } },
  ],
});

const payment = loadWorkflow({
  id: "payment",
  name: "Payment",
  steps: [
    { id: "paid", type: "wait_for_event", event: "payment.received", timeout: 3, on_timeout: "expired", next: "done" },
    { id: "expired", type: "end", result: { status: "expired" } },
    { id: "done", type: "end", result: { status: "paid" } },
  ],
});

const minutely = loadWorkflow({
  id: "minutely",
  name: "Minutely",
  triggers: [{ cron: "* * * * *" }],
  steps: [{ id: "done", type: "end", result: { ran: true } }],
});

function appWith(options: Partial<AppOptions> = {}) {
  const clock = new ManualClock();
  const store = new MemoryStore();
  const app = createApp({ store, workflows: [pause, confirm], clock: () => clock.now(), ...options });
  const start = async (workflowId: string, executionId: string, mode = "async") => {
    const response = await app.request(`/workflows/${workflowId}/executions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ executionId, input: {}, mode }),
    });
    return await response.json() as any;
  };
  return { app, clock, store, start };
}

describe("app.tick()", () => {
  test("a 3 s wait ends at the first tick after its time", async () => {
    const { app, clock, store, start } = appWith();
    expect(await start("pause", "p-1")).toMatchObject({ status: "pending" });
    await app.tick();
    expect((await store.load("p-1"))!.status).toBe("pending");
    clock.advance(3_000);
    expect((await app.tick()).timers).toBe(1);
    expect(await store.load("p-1")).toMatchObject({ status: "completed", result: { woke: true } });
  });

  test("an approval with a 3 s timeout takes on_timeout at the first tick after its expiry", async () => {
    const { app, clock, store, start } = appWith();
    await start("confirm", "c-1");
    expect((await store.load("c-1"))!.status).toBe("halted");
    clock.advance(3_000);
    await app.tick();
    expect(await store.load("c-1")).toMatchObject({ status: "completed", result: { status: "expired" } });
  });

  test("a wait_for_event with a 3 s timeout takes on_timeout at the first tick after its expiry", async () => {
    const { app, clock, store, start } = appWith({ workflows: [payment] });
    await start("payment", "e-1");
    const halted = (await store.load("e-1"))!;
    expect(halted.wakeAt).toBe(halted.haltData!.expires_at as string);
    clock.advance(3_000);
    await app.tick();
    expect(await store.load("e-1")).toMatchObject({ status: "completed", result: { status: "expired" } });
  });

  test("a sync start that halts at an approval with a timeout leaves its wake job too", async () => {
    const { app, clock, store, start } = appWith();
    expect(await start("confirm", "c-2", "sync")).toMatchObject({ status: "halted" });
    clock.advance(3_000);
    expect((await app.tick()).timers).toBe(1);
    expect(await store.load("c-2")).toMatchObject({ status: "completed", result: { status: "expired" } });
  });

  test("a wait whose timer was lost (another process, a restart) is handed back by the sweep of the next tick", async () => {
    const { clock, store, start } = appWith();
    await start("pause", "p-2");
    // Another process's app on the same store: it never saw the wait's timer.
    const other = createApp({ store, workflows: [pause, confirm], clock: () => clock.now() });
    clock.advance(3_000 + 1_000);
    const report = await other.tick();
    expect(report.sweep!.enqueued.map((item) => item.id)).toEqual(["p-2"]);
    expect((await store.load("p-2"))!.status).toBe("completed");
  });

  test("a tick that sweeps starts the due occurrence of a cron trigger", async () => {
    const { app, store } = appWith({ workflows: [minutely] });
    expect((await app.tick()).triggers!.started.map((s) => s.executionId)).toEqual(["minutely:cron:202601010000"]);
    expect(await store.load("minutely:cron:202601010000")).toMatchObject({ status: "completed", result: { ran: true } });
  });

  test("an app fires its cron triggers in its first sweeping tick of a minute only", async () => {
    const { app, clock } = appWith({ workflows: [minutely] });
    await app.tick();
    clock.advance(59_000);
    expect((await app.tick()).triggers).toBeUndefined();
    clock.advance(1_000);
    expect((await app.tick()).triggers!.started.map((s) => s.executionId)).toEqual(["minutely:cron:202601010001"]);
  });

  test("a tick that does not sweep starts no cron trigger", async () => {
    const clock = new ManualClock();
    const store = new MemoryStore();
    const context = buildContext({ store, workflows: [minutely], clock: () => clock.now() });
    expect((await tickApp(context, { sweep: false })).triggers).toBeUndefined();
    expect(await store.load("minutely:cron:202601010000")).toBeNull();
  });

  test("app.scheduled, the Workers Cron Trigger handler, ticks (and hands its work to waitUntil)", async () => {
    const { app, clock, store, start } = appWith();
    await start("pause", "p-3");
    clock.advance(3_000);
    const kept: Promise<unknown>[] = [];
    await app.scheduled({ cron: "* * * * *" }, {}, { waitUntil: (promise) => kept.push(promise) });
    expect(kept).toHaveLength(1);
    expect((await store.load("p-3"))!.status).toBe("completed");
  });
});

describe("the ticker", () => {
  const base = { store: new MemoryStore(), workflows: [pause] };

  test("starts by default on a long-lived runtime with the in-process queue", () => {
    expect(wantsTicker(buildContext(base))).toBe(true);
  });

  test("does not start with ticker: false, nor unless asked with an injected clock or with QStash as the queue", () => {
    const qstash = new QStashAdapter({ client: new Client({ token: "t" }), callbackUrl: "https://app.example/qstash" });
    expect(wantsTicker(buildContext({ ...base, ticker: false }))).toBe(false);
    expect(wantsTicker(buildContext({ ...base, clock: () => new Date() }))).toBe(false);
    expect(wantsTicker(buildContext({ ...base, adapter: qstash }))).toBe(false);
    expect(wantsTicker(buildContext({ ...base, clock: () => new Date(), ticker: true }))).toBe(true);
    expect(wantsTicker(buildContext({ ...base, adapter: qstash, ticker: { sweepEveryMs: 5_000 } }))).toBe(true);
  });

  test("refuses a period that is not a positive number of milliseconds", () => {
    expect(() => createApp({ ...base, ticker: { intervalMs: 0 } })).toThrow(
      "ticker.intervalMs must be a number of milliseconds ≥ 1, got 0",
    );
    expect(() => createApp({ ...base, ticker: { sweepEveryMs: -1 } })).toThrow("ticker.sweepEveryMs must be a number of milliseconds ≥ 0");
  });

  test("runs a real wait to its end with no call after the start", async () => {
    const workflow = loadWorkflow({
      id: "short",
      name: "Short",
      steps: [{ id: "nap", type: "wait", seconds: 0.2, next: "done" }, { id: "done", type: "end", result: { woke: true } }],
    });
    const store = new MemoryStore();
    const app = createApp({ store, workflows: [workflow], ticker: { intervalMs: 20 } });
    await app.request("/workflows/short/executions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ executionId: "s-1", input: {} }),
    });
    // A failure bound, not a timing assertion: the run ends at the first tick after 0.2 s.
    for (let i = 0; i < 500 && (await store.load("s-1"))!.status !== "completed"; i++) await Bun.sleep(10);
    expect(await store.load("s-1")).toMatchObject({ status: "completed", result: { woke: true } });
  });

  test("logs a failing tick once, and once when ticks work again", async () => {
    const lines: string[] = [];
    let calls = 0;
    const ticker = startTicker(async () => {
      calls++;
      if (calls <= 3) throw new Error("store down");
    }, { intervalMs: 5, log: (level, line) => lines.push(`${level} ${line}`) });
    for (let i = 0; i < 500 && calls < 5; i++) await Bun.sleep(5);
    ticker.stop();
    expect(lines).toEqual([
      "warn durable-workflow: tick failed (retried every 5 ms; logged once until it works): Error: store down",
      "info durable-workflow: ticks work again",
    ]);
  });
});

describe("DW_TICK_SECONDS and DW_SWEEP_SECONDS", () => {
  const options = (env: Record<string, string>) => appOptionsFromEnv(env, { workflows: [pause], log: () => {} });

  test("0 turns the ticker off; numbers set its periods", () => {
    expect(options({ DW_TICK_SECONDS: "0" }).ticker).toBe(false);
    expect(options({ DW_TICK_SECONDS: "2", DW_SWEEP_SECONDS: "30" }).ticker).toEqual({ intervalMs: 2_000, sweepEveryMs: 30_000 });
    expect(options({}).ticker).toBeUndefined();
  });

  test("a value that is not a number of seconds is a ConfigError naming the variable", () => {
    expect(() => options({ DW_TICK_SECONDS: "soon" })).toThrow(ConfigError);
    expect(() => options({ DW_SWEEP_SECONDS: "-1" })).toThrow("DW_SWEEP_SECONDS must be a number of seconds ≥ 0, got -1");
  });
});

describe("the QStash sweep schedule", () => {
  let qstash: QStashDevServer | undefined;
  afterEach(async () => {
    await qstash?.stop();
    qstash = undefined;
  });

  const adapterFor = (callbackUrl: string) => {
    qstash ??= startQStashDev({ port: 0 });
    const client = new Client({ baseUrl: qstash.url, token: DEV_QSTASH_TOKEN, retry: false, enableTelemetry: false });
    return { client, adapter: new QStashAdapter({ client, callbackUrl }) };
  };

  test("is created once under a fixed id: a second start finds it in place", async () => {
    const { client, adapter } = adapterFor("https://orders.example/qstash");
    const id = sweepScheduleIdOf("https://orders.example/qstash");
    expect(id).toMatch(/^dw-sweep-[0-9a-f]{16}$/);
    expect(await ensureSweepSchedule(adapter)).toEqual({ scheduleId: id, created: true });
    expect(await ensureSweepSchedule(adapter)).toEqual({ scheduleId: id, created: false });
    const schedules = await client.schedules.list();
    expect(schedules.map((s) => [s.scheduleId, s.destination, s.cron, s.body])).toEqual([
      [id, "https://orders.example/qstash", "* * * * *", '{"action":"sweep"}'],
    ]);
  });

  test("two deployments on one QStash account get two schedules", async () => {
    const first = adapterFor("https://orders.example/qstash");
    const second = adapterFor("https://staging.orders.example/qstash");
    await ensureSweepSchedule(first.adapter);
    await ensureSweepSchedule(second.adapter);
    expect((await first.client.schedules.list()).map((s) => s.destination).sort()).toEqual([
      "https://orders.example/qstash",
      "https://staging.orders.example/qstash",
    ]);
  });

  test("an app with a QStashAdapter makes sure of it at its first request", async () => {
    const { client, adapter } = adapterFor("https://orders.example/qstash");
    const app = createApp({
      store: new MemoryStore(),
      workflows: [pause],
      adapter,
      qstash: { currentSigningKey: "sig_current", nextSigningKey: "sig_next" },
    });
    await app.request("/health");
    await app.start();
    expect((await client.schedules.list()).map((s) => s.scheduleId)).toEqual([sweepScheduleIdOf("https://orders.example/qstash")]);
  });

  test("a client without schedules is a ConfigError saying what to pass", async () => {
    const adapter = new QStashAdapter({
      client: { publishJSON: async () => ({}) as any, queue: () => ({}) as any },
      callbackUrl: "https://orders.example/qstash",
    });
    await expect(ensureSweepSchedule(adapter)).rejects.toThrow("The QStash client has no `schedules`");
  });
});
