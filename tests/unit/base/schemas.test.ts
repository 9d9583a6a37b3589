// The shared shapes (src/schemas.ts): what the engine writes fits them, the store refuses what does not, the HTTP
// schemas are derived from them, and the due time of a waiting execution has one answer (dueAt / isDue).
import { describe, expect, test } from "bun:test";
import * as http from "../../../routes/schemas.ts";
import { Engine, loadWorkflow, MemoryStore, ValidationError } from "../../../mod.ts";
import { EntrySchema, ExecutionHeadSchema, ExecutionResultSchema, ExecutionSchema, HaltSchema, JobSchema } from "../../../src/schemas.ts";
import { checkCommit } from "../../../src/store/format.ts";
import { dueAt, type Execution, isDue } from "../../../src/types.ts";
import { manualClock } from "../../support/engine.ts";
import { makeEntry, makeExecution } from "../../support/store-contract.ts";

const approval = loadWorkflow({
  id: "ask",
  name: "Ask",
  steps: [
    { id: "start", type: "start", next: "ask" },
    { id: "ask", type: "approval", prompt: "OK?", timeout: 60, next: "done" },
    { id: "done", type: "end", result: "$approved" },
  ],
});

describe("what the engine writes fits the shared shapes", () => {
  test("a halted execution, its entries and its result parse with their schemas", async () => {
    const store = new MemoryStore();
    const result = await new Engine(approval, { store, clock: manualClock() }).run({}, { executionId: "a" });
    expect(ExecutionResultSchema.parse(result)).toEqual(result);
    expect(HaltSchema.parse(result.halt)).toEqual(result.halt!);
    const stored = (await store.load("a"))!;
    expect(ExecutionSchema.parse(stored)).toEqual(stored);
    for (const entry of await store.entries("a")) expect(EntrySchema.parse(entry)).toEqual(entry);
  });

  test("a job naming an invalid execution id is refused by the job schema", () => {
    expect(JobSchema.safeParse({ workflowId: "w", executionId: "a b", action: "start" }).success).toBe(false);
    expect(JobSchema.safeParse({ workflowId: "w", executionId: "a", action: "start" }).success).toBe(true);
  });
});

describe("the store checks a commit against the shapes", () => {
  test("a head that breaks the execution schema is refused naming the field, and nothing is written", async () => {
    const store = new MemoryStore();
    const bad = { ...makeExecution({ id: "bad-status" }), status: "paused" } as unknown as Execution;
    let error: unknown;
    await store.commit({ execution: bad, expectedRevision: 0 }).catch((e) => (error = e));
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues.map((issue) => issue.path)).toEqual(["status"]);
    expect(await store.load("bad-status")).toBeNull();
  });

  test("checkCommit accepts a head exactly when the head schema does (its fast check for plain heads changes no answer)", () => {
    const heads: Record<string, Partial<Execution> | Record<string, unknown>> = {
      plain: {},
      "with visits and labels": { visits: { s: 2 }, labels: { region: "eu" } },
      "waiting to retry": { status: "pending", retry: { stepId: "s", attempt: 2 }, wakeAt: "2026-01-01T00:00:00.000Z" },
      "compensated": { compensated: true },
      "bad workflow id": { workflowId: "a b" },
      "negative revision": { revision: -1 },
      "fractional visit count": { visits: { s: 1.5 } },
      "label that is not a string": { labels: { n: 1 } },
      "visits not an object": { visits: [] },
      "retry without a step": { retry: { attempt: 1 } },
      "no updatedAt": { updatedAt: undefined },
      "compensated not a boolean": { compensated: "yes" },
    };
    for (const [name, overrides] of Object.entries(heads)) {
      const execution = { ...makeExecution(), ...overrides } as Execution;
      const valid = ExecutionHeadSchema.safeParse(execution).success;
      let accepted = true;
      try {
        checkCommit({ execution });
      } catch (error) {
        expect(error).toBeInstanceOf(ValidationError);
        accepted = false;
      }
      expect({ name, accepted }).toEqual({ name, accepted: valid });
      expect(valid).toBe(name === "plain" || name === "with visits and labels" || name === "waiting to retry" || name === "compensated");
    }
  });

  test("an entry that breaks the entry schema is refused naming the field", async () => {
    const store = new MemoryStore();
    const exec = makeExecution({ id: "bad-entry" });
    const entry = { ...makeEntry(exec.id), action: "skipped" } as unknown as ReturnType<typeof makeEntry>;
    let error: unknown;
    await store.commit({ execution: exec, expectedRevision: 0, entries: [entry] }).catch((e) => (error = e));
    expect((error as ValidationError).issues.map((issue) => issue.path)).toEqual(["action"]);
    expect(await store.load("bad-entry")).toBeNull();
  });
});

describe("the HTTP schemas are derived from the shared ones", () => {
  test("the execution record over HTTP has every stored field but the engine's bookkeeping", () => {
    const internal = ["eventSeq", "loop", "retry", "answer", "visits", "epoch", "pinned"];
    expect(Object.keys(http.Execution.shape).sort()).toEqual(
      Object.keys(ExecutionSchema.shape).filter((k) => !internal.includes(k)).sort(),
    );
  });

  test("a halt over HTTP and an entry over HTTP have the shared fields", () => {
    expect(Object.keys(http.HaltInfo.shape)).toEqual(Object.keys(HaltSchema.shape));
    expect(Object.keys(http.Entry.shape)).toEqual(Object.keys(EntrySchema.shape));
  });
});

describe("when a waiting execution goes on", () => {
  const at = (overrides: Partial<Execution>) => makeExecution({ updatedAt: "2026-01-01T00:00:00.000Z", ...overrides });
  const noon = Date.parse("2026-01-01T12:00:00.000Z");

  test("a pending execution is due at its wake time, or since its last checkpoint without one", () => {
    expect(dueAt(at({ status: "pending", wakeAt: "2026-01-01T12:00:00.000Z" }))).toBe("2026-01-01T12:00:00.000Z");
    expect(dueAt(at({ status: "pending" }))).toBe("2026-01-01T00:00:00.000Z");
    expect([isDue(at({ status: "pending", wakeAt: "2026-01-01T12:00:00.000Z" }), noon - 1), isDue(at({ status: "pending" }), 0)])
      .toEqual([false, true]);
  });

  test("a halted execution is due at its halt's wake time, at once with an answer waiting, and never without either", () => {
    const timed = at({ status: "halted", wakeAt: "2026-01-01T12:00:00.000Z" });
    expect([dueAt(timed), isDue(timed, noon - 1), isDue(timed, noon)]).toEqual(["2026-01-01T12:00:00.000Z", false, true]);
    const answered = at({ ...timed, answer: { approved: true } });
    expect([dueAt(answered), isDue(answered, 0)]).toEqual(["2026-01-01T00:00:00.000Z", true]);
    const plain = at({ status: "halted" });
    expect([dueAt(plain), isDue(plain, noon)]).toEqual([null, false]);
  });

  test("running and ended executions are not waiting", () => {
    for (const status of ["running", "completed", "failed", "cancelled"] as const) {
      expect([dueAt(at({ status, wakeAt: "2026-01-01T12:00:00.000Z" })), isDue(at({ status }), noon)]).toEqual([null, false]);
    }
  });
});
