// Cron: the parser with time zones and DST, and fireDueTriggers across app instances sharing one store, with a fake clock.
import { describe, expect, test } from "bun:test";
import { nextOccurrence, parseCron, previousOccurrence } from "../../../src/expressions/cron.ts";
import { cronExecutionId, fireDueTriggers, nextStarts } from "../../../src/runners/triggers.ts";
import { InlineAdapter, loadWorkflow, MemoryStore, validateWorkflow } from "../../../mod.ts";
import { manualClock } from "../../support/engine.ts";

const MINUTE = 60_000;
const at = (iso: string) => Date.parse(iso);
const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

describe("cron expressions", () => {
  test("the latest occurrence at or before a time, in UTC", () => {
    expect(iso(previousOccurrence(parseCron("0 9 * * mon"), "UTC", at("2026-01-07T12:00:00Z")))).toBe("2026-01-05T09:00:00.000Z");
  });

  test("occurrences are computed in the trigger's time zone", () => {
    expect(iso(nextOccurrence(parseCron("0 9 * * *"), "Europe/Paris", at("2026-01-07T12:00:00Z")))).toBe("2026-01-08T08:00:00.000Z");
  });

  test("a local time skipped by DST is skipped", () => {
    // 2026-03-08: New York jumps from 02:00 to 03:00, so 02:30 does not exist that day.
    const next = nextOccurrence(parseCron("30 2 * * *"), "America/New_York", at("2026-03-07T08:00:00Z"));
    expect(iso(next)).toBe("2026-03-09T06:30:00.000Z");
  });

  test("a local time repeated by DST fires once", () => {
    // 2026-11-01: New York goes from 02:00 back to 01:00, so 01:30 happens twice; only the first fires.
    const cron = parseCron("30 1 * * *");
    const first = nextOccurrence(cron, "America/New_York", at("2026-11-01T04:00:00Z"));
    expect(iso(first)).toBe("2026-11-01T05:30:00.000Z");
    expect(iso(nextOccurrence(cron, "America/New_York", first!))).toBe("2026-11-02T06:30:00.000Z");
  });

  test("lists, ranges, steps and names", () => {
    const cron = parseCron("*/15 9-17 1,15 jan-mar 1-5");
    expect([...cron.minute]).toEqual([0, 15, 30, 45]);
    expect([...cron.month]).toEqual([1, 2, 3]);
  });

  test("a bad expression is an error naming the field", () => {
    expect(() => parseCron("61 * * * *")).toThrow('minute "61" is not in 0-59');
    expect(() => parseCron("* * *")).toThrow("must have 5 fields");
  });
});

describe("triggers in a definition", () => {
  test("a bad cron or time zone is a validation issue with its path", () => {
    const { issues } = validateWorkflow(
      "id: t\nname: T\ntriggers:\n  - cron: '0 25 * * *'\n    timezone: Mars/Olympus\nsteps:\n  - id: start\n    type: start\n",
    );
    expect(issues.map((i) => [i.path, i.line])).toEqual([["triggers[0].cron", 4], ["triggers[0].timezone", 5]]);
  });
});

const report = loadWorkflow({
  id: "report",
  name: "Monday report",
  triggers: [{ cron: "* * * * *", input: { kind: "minutely" } }],
  steps: [{ id: "start", type: "start", next: "done" }, { id: "done", type: "end", result: { kind: "$input.kind" } }],
});

const hourly = loadWorkflow({
  id: "hourly",
  name: "Hourly",
  triggers: [{ cron: "0 * * * *" }, { cron: "30 9 * * *", timezone: "Europe/Paris" }],
  steps: [{ id: "start", type: "start", next: "done" }, { id: "done", type: "end" }],
});

describe("fireDueTriggers", () => {
  function instances(workflows = [report]) {
    const store = new MemoryStore();
    const clock = manualClock("2026-01-05T09:00:10.000Z");
    const tick = () => fireDueTriggers({ store, clock, workflows, adapter: new InlineAdapter({ store, clock, workflows }) });
    return { store, clock, a: tick, b: tick };
  }

  test("a cron trigger across two app instances starts each minute once", async () => {
    const { store, clock, a, b } = instances();
    const started: string[] = [];
    for (let minute = 0; minute < 5; minute++) {
      for (const tick of [a, b, a]) started.push(...(await tick()).started.map((s) => s.executionId));
      clock.advance(MINUTE);
    }
    expect(started).toEqual(
      ["202601050900", "202601050901", "202601050902", "202601050903", "202601050904"].map((t) => `report:cron:${t}`),
    );
    expect((await store.load("report:cron:202601050900"))!.result).toEqual({ kind: "minutely" });
  });

  test("a cron start's first events are workflow.triggered (naming the trigger and occurrence), then workflow.started", async () => {
    const { store, a } = instances();
    await a();
    const events = await store.events("report:cron:202601050900");
    expect(events.slice(0, 2).map((e) => e.type)).toEqual(["workflow.triggered", "workflow.started"]);
    expect(events[0]!.data.trigger).toEqual({ cron: "* * * * *", timezone: "UTC", occurrence: "2026-01-05T09:00:00.000Z" });
  });

  test("after a missed hour only the latest occurrence is started, once", async () => {
    const { clock, a, b } = instances();
    await a();
    clock.advance(61 * MINUTE);
    const [first, second] = [await a(), await b()];
    expect(first.started.map((s) => s.executionId)).toEqual(["report:cron:202601051001"]);
    expect(second.started).toEqual([]);
  });

  test("a first tick does not start an occurrence older than a minute", async () => {
    const { clock, a } = instances([hourly]);
    clock.advance(20 * MINUTE);
    expect((await a()).started).toEqual([]);
  });

  test("with several cron triggers the n-th appends :<n>", async () => {
    const { a } = instances([hourly]);
    expect((await a()).started.map((s) => s.executionId)).toEqual(["hourly:cron:202601050900:0"]);
    expect(cronExecutionId("hourly", at("2026-01-05T08:30:00Z"), ":1")).toBe("hourly:cron:202601050830:1");
  });

  test("nextStarts tells when each trigger fires next", () => {
    expect(nextStarts(hourly, new Date("2026-01-05T09:00:10Z"))).toEqual([
      { cron: "0 * * * *", timezone: "UTC", next: "2026-01-05T10:00:00.000Z" },
      { cron: "30 9 * * *", timezone: "Europe/Paris", next: "2026-01-06T08:30:00.000Z" },
    ]);
  });
});
