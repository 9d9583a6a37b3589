// Schedules on qstash-dev: the SDK's client.schedules API, and cron ticks driven by the emulator's clock
// (a frozen `now` plus advanceTime), each published as a signed message with Upstash-Schedule-Id.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { Client, Receiver } from "@upstash/qstash";
import {
  DEV_CURRENT_SIGNING_KEY,
  DEV_NEXT_SIGNING_KEY,
  DEV_QSTASH_TOKEN,
  parseCron,
  type QStashDevServer,
  startQStashDev,
} from "durable-workflow-edge-dev/qstash";
import { type Received, signature, startDestination } from "../../support/qstash-destination.ts";

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;

let qstash: QStashDevServer;
let app: ReturnType<typeof startDestination>;
let client: Client;
const receiver = new Receiver({ currentSigningKey: DEV_CURRENT_SIGNING_KEY, nextSigningKey: DEV_NEXT_SIGNING_KEY });

beforeEach(() => {
  // Frozen at the real time of the test, so that signatures stay within their five minutes.
  const frozen = Date.now();
  qstash = startQStashDev({ port: 0, retryDelayMs: 1, now: () => frozen });
  app = startDestination();
  client = new Client({ baseUrl: qstash.url, token: DEV_QSTASH_TOKEN, retry: false, enableTelemetry: false });
});

afterEach(async () => {
  await qstash.stop();
  await app.stop();
});

describe("the cron evaluator (UTC)", () => {
  const at = (iso: string) => Date.parse(iso);
  const next = (cron: string, after: string) => new Date(parseCron(cron).next(at(after))).toISOString();

  test("steps, ranges and lists pick the next matching minute strictly after the given time", () => {
    expect(next("*/15 * * * *", "2026-01-01T10:07:30Z")).toBe("2026-01-01T10:15:00.000Z");
    expect(next("*/15 * * * *", "2026-01-01T10:15:00Z")).toBe("2026-01-01T10:30:00.000Z");
    expect(next("0 9-17/4 * * *", "2026-01-01T13:00:00Z")).toBe("2026-01-01T17:00:00.000Z");
    expect(next("5,35 * * * *", "2026-01-01T10:06:00Z")).toBe("2026-01-01T10:35:00.000Z");
  });

  test("month and weekday names, 7 as Sunday, and @daily", () => {
    expect(next("0 0 1 JAN *", "2026-03-01T00:00:00Z")).toBe("2027-01-01T00:00:00.000Z");
    expect(next("30 6 * * SAT", "2026-01-01T00:00:00Z")).toBe("2026-01-03T06:30:00.000Z"); // 2026-01-01 is a Thursday
    expect(next("0 12 * * 7", "2026-01-01T00:00:00Z")).toBe("2026-01-04T12:00:00.000Z");
    expect(next("@daily", "2026-01-01T00:00:00Z")).toBe("2026-01-02T00:00:00.000Z");
  });

  test("when day of month and day of week are both restricted, either one matches", () => {
    expect(next("0 0 13 * FRI", "2026-01-01T00:00:00Z")).toBe("2026-01-02T00:00:00.000Z"); // Friday the 2nd
    expect(next("0 0 13 * FRI", "2026-01-10T00:00:00Z")).toBe("2026-01-13T00:00:00.000Z"); // the 13th, a Tuesday
  });

  test("a date that never comes has no next time", () => {
    expect(parseCron("0 0 30 2 *").next(at("2026-01-01T00:00:00Z"))).toBe(Infinity);
  });

  test("time zones, wrong field counts and out-of-range values are refused, saying why", () => {
    expect(() => parseCron("CRON_TZ=Europe/Paris 0 9 * * *")).toThrow("time zones (CRON_TZ=...) are not supported");
    expect(() => parseCron("* * * *")).toThrow("expected 5 fields");
    expect(() => parseCron("60 * * * *")).toThrow('minute "60": 60 is outside 0-59');
    expect(() => parseCron("*/0 * * * *")).toThrow('step "0" is not a positive number');
  });
});

describe("the schedules API", () => {
  test("create, get, list and delete round-trip through the SDK", async () => {
    const { scheduleId } = await client.schedules.create({ destination: `${app.url}/tick`, cron: "*/5 * * * *", body: '{"sweep":true}' });

    const schedule = await client.schedules.get(scheduleId);
    expect(schedule).toMatchObject({
      scheduleId,
      cron: "*/5 * * * *",
      destination: `${app.url}/tick`,
      method: "POST",
      isPaused: false,
      retries: 3,
    });
    expect(schedule.body).toBe('{"sweep":true}');
    expect(schedule.nextScheduleTime! % (5 * MINUTE_MS)).toBe(0);
    expect((await client.schedules.list()).map((s) => s.scheduleId)).toEqual([scheduleId]);

    await client.schedules.delete(scheduleId);
    expect(await client.schedules.list()).toEqual([]);
    await expect(client.schedules.get(scheduleId)).rejects.toMatchObject({ status: 404 });
  });

  test("a schedule id given at creation is used, and creating it again replaces the schedule", async () => {
    await client.schedules.create({ destination: `${app.url}/tick`, cron: "0 * * * *", scheduleId: "sweeper" });
    await client.schedules.create({ destination: `${app.url}/tick`, cron: "*/10 * * * *", scheduleId: "sweeper" });

    expect((await client.schedules.list()).map((s) => [s.scheduleId, s.cron])).toEqual([["sweeper", "*/10 * * * *"]]);
  });

  test("a cron with a time zone is refused with 400 naming the problem", async () => {
    const error = await client.schedules.create({ destination: `${app.url}/tick`, cron: "CRON_TZ=UTC 0 * * * *" }).catch((e: unknown) => e);

    expect(error).toMatchObject({ status: 400 });
    expect((error as Error).message).toContain("CRON_TZ");
  });
});

describe("ticks", () => {
  test("advanceTime of one hour fires a quarter-hourly schedule four times, signed, with Upstash-Schedule-Id", async () => {
    const { scheduleId } = await client.schedules.create({
      destination: `${app.url}/tick`,
      cron: "*/15 * * * *",
      body: '{"sweep":true}',
      headers: { "X-Job": "sweeper" },
    });
    await qstash.waitIdle();
    expect(app.at("/tick")).toHaveLength(0);

    qstash.advanceTime(HOUR_MS);
    await qstash.waitIdle();

    const ticks = app.at("/tick");
    expect(ticks).toHaveLength(4);
    for (const tick of ticks) {
      expect(tick.headers.get("upstash-schedule-id")).toBe(scheduleId);
      expect(tick.headers.get("x-job")).toBe("sweeper");
      expect(tick.body).toBe('{"sweep":true}');
      expect(await receiver.verify({ signature: signature(tick), body: tick.body, url: tick.url })).toBe(true);
    }
    const dueTimes = qstash.messages().map((m) => m.notBefore);
    expect(dueTimes.every((t) => t % (15 * MINUTE_MS) === 0)).toBe(true);
    expect(new Set(dueTimes).size).toBe(4);
  });

  test("one advanceTime of three days fires every hourly tick in it", async () => {
    await client.schedules.create({ destination: `${app.url}/tick`, cron: "0 * * * *" });

    qstash.advanceTime(72 * HOUR_MS);
    await qstash.waitIdle();

    expect(app.at("/tick")).toHaveLength(72);
    expect((await client.schedules.list())[0]?.lastScheduleTime).toBe(Math.max(...qstash.messages().map((m) => m.notBefore)));
  });

  test("a tick the destination refuses is retried like any message", async () => {
    app.handle("/tick", (_req: Received, nth) => new Response(nth === 1 ? "busy" : "ok", { status: nth === 1 ? 503 : 200 }));
    // No backoff: the frozen clock would never reach one.
    await client.schedules.create({ destination: `${app.url}/tick`, cron: "0 * * * *", retryDelay: "0" });

    qstash.advanceTime(HOUR_MS);
    await qstash.waitIdle();

    expect(app.at("/tick").map((r) => r.headers.get("upstash-retried"))).toEqual(["0", "1"]);
    expect(qstash.messages().map((m) => m.state)).toEqual(["DELIVERED"]);
  });

  test("a paused schedule skips its ticks and, resumed, fires again from the next one", async () => {
    const { scheduleId } = await client.schedules.create({ destination: `${app.url}/tick`, cron: "0 * * * *" });
    await client.schedules.pause({ schedule: scheduleId });
    expect(await client.schedules.get(scheduleId)).toMatchObject({ isPaused: true });

    qstash.advanceTime(3 * HOUR_MS);
    await qstash.waitIdle();
    expect(app.at("/tick")).toHaveLength(0);

    await client.schedules.resume({ schedule: scheduleId });
    qstash.advanceTime(2 * HOUR_MS);
    await qstash.waitIdle();
    expect(app.at("/tick")).toHaveLength(2);
  });

  test("a deleted schedule fires no more", async () => {
    const { scheduleId } = await client.schedules.create({ destination: `${app.url}/tick`, cron: "0 * * * *" });
    qstash.advanceTime(HOUR_MS);
    await qstash.waitIdle();
    await client.schedules.delete(scheduleId);

    qstash.advanceTime(5 * HOUR_MS);
    await qstash.waitIdle();
    expect(app.at("/tick")).toHaveLength(1);
  });
});
