// performJob's rules (duplicates, the halt a resume is for, lease takeover, permanent jobs), and the
// QStash deduplication ids — on a MemoryStore, with a manual clock.
import { describe, expect, test } from "bun:test";
import { Engine, type Job, loadWorkflow, MemoryStore } from "../../../mod.ts";
import { followUpsOf, performJob, PermanentJobError } from "../../../src/queue.ts";
import { deduplicationIdOf } from "../../../src/runners/adapters/qstash.ts";
import { countingStore, manualClock } from "../../support/engine.ts";

const halting = loadWorkflow({
  id: "two_questions",
  name: "Two questions",
  steps: [
    { id: "start", type: "start", next: "first" },
    { id: "first", type: "halt", reason: "First?", next: "second" },
    { id: "second", type: "halt", reason: "Second?", next: "finish" },
    { id: "finish", type: "end", result: { last: "$response" } },
  ],
});

const work = loadWorkflow({
  id: "work",
  name: "Work",
  steps: [
    { id: "start", type: "start", next: "a" },
    { id: "a", type: "call", service: "work", input: { step: "a" }, next: "b" },
    { id: "b", type: "call", service: "work", input: { step: "b" }, next: "finish" },
    { id: "finish", type: "end", result: { done: true } },
  ],
});

const approvals = loadWorkflow({
  id: "approvals",
  name: "Two approvals",
  steps: [
    { id: "start", type: "start", next: "first" },
    { id: "first", type: "approval", prompt: "First?", timeout: 60, on_timeout: "late", next: "second" },
    { id: "second", type: "approval", prompt: "Second?", timeout: 600, on_timeout: "late", next: "finish" },
    { id: "finish", type: "end", result: "approved" },
    { id: "late", type: "end", result: "timed out" },
  ],
});

const parent = loadWorkflow({
  id: "parent",
  name: "Parent of approvals",
  steps: [
    { id: "start", type: "start", next: "child" },
    { id: "child", type: "workflow", workflow_id: "approvals", output: "out", next: "finish" },
    { id: "finish", type: "end", result: "$out" },
  ],
});

function setup() {
  const store = new MemoryStore();
  const clock = manualClock();
  const calls: string[] = [];
  const options = {
    store,
    clock,
    workflows: [halting, work, approvals, parent],
    services: { work: (input: { step: string }) => (calls.push(input.step), input.step) },
  };
  return { store, clock, calls, options };
}

const job = (workflowId: string, executionId: string, action: Job["action"], extra: Partial<Job> = {}): Job => ({
  workflowId,
  executionId,
  action,
  ...extra,
});

describe("performJob", () => {
  test("an approval's halt carries its own wake time, kept as the execution's wakeAt even once an answer is accepted", async () => {
    const { options, store } = setup();
    const engine = new Engine(approvals, options);
    const halted = await engine.run({}, { executionId: "ap" });
    expect(halted.halt?.wakeAt).toBe("2026-01-01T00:01:00.000Z");
    await engine.accept("ap", { approved: true });
    expect((await store.load("ap"))!.wakeAt).toBe("2026-01-01T00:01:00.000Z");
  });

  test("a halted child workflow's wake time is its parent's", async () => {
    const { options, store } = setup();
    const halted = await new Engine(parent, options).run({}, { executionId: "pa" });
    expect([halted.halt?.wakeAt, (await store.load("pa"))!.wakeAt]).toEqual(["2026-01-01T00:01:00.000Z", "2026-01-01T00:01:00.000Z"]);
  });

  test("the wake timer a halt asks for names the halt by its wake time", async () => {
    const { options } = setup();
    const halted = await new Engine(approvals, options).run({}, { executionId: "t" });
    const [timer] = followUpsOf(job("approvals", "t", "start"), { kind: "done", result: halted }, 0);
    expect(timer).toEqual({
      job: { workflowId: "approvals", executionId: "t", action: "wake", wakeAt: "2026-01-01T00:01:00.000Z" },
      options: { delaySeconds: Date.parse("2026-01-01T00:01:00.000Z") / 1000, key: String(Date.parse("2026-01-01T00:01:00.000Z")) },
    });
  });

  test("a wake timer for an earlier halt does nothing, even once the current halt is due", async () => {
    const { options, store, clock } = setup();
    const engine = new Engine(approvals, options);
    await engine.run({}, { executionId: "w1" });
    await engine.resume("w1", { approved: true }); // halts at the second approval, due at 00:10
    clock.advance(3_600_000);
    const stale = await performJob(job("approvals", "w1", "wake", { wakeAt: "2026-01-01T00:01:00.000Z" }), options);
    expect([stale.kind, stale.result.halt?.prompt, (await store.load("w1"))!.status]).toEqual(["duplicate", "Second?", "halted"]);
  });

  test("a wake timer for the current halt takes its timeout path once due", async () => {
    const { options, clock } = setup();
    await new Engine(approvals, options).run({}, { executionId: "w2" });
    clock.advance(60_000);
    const woken = await performJob(job("approvals", "w2", "wake", { wakeAt: "2026-01-01T00:01:00.000Z" }), options);
    expect([woken.kind, woken.result.output]).toEqual(["done", "timed out"]);
  });

  test("a wake timer queued by an older version (requested_at) acts on its halt once it is due", async () => {
    const { options, clock } = setup();
    await new Engine(approvals, options).run({}, { executionId: "w3" });
    const early = await performJob(job("approvals", "w3", "wake", { haltedAt: "2026-01-01T00:00:00.000Z" }), options);
    clock.advance(60_000);
    const due = await performJob(job("approvals", "w3", "wake", { haltedAt: "2026-01-01T00:00:00.000Z" }), options);
    expect([early.result.status, due.result.output]).toEqual(["halted", "timed out"]);
  });

  test("a start job for an execution already done is a duplicate that changes nothing", async () => {
    const { options, store, calls } = setup();
    await new Engine(work, options).prepare({}, { executionId: "w" });
    await performJob(job("work", "w", "start"), options);
    const revision = (await store.load("w"))!.revision;
    const again = await performJob(job("work", "w", "start"), options);
    expect([again.kind, again.result.status, (await store.load("w"))!.revision]).toEqual(["duplicate", "completed", revision]);
    expect(calls).toEqual(["a", "b"]);
  });

  test("a resume job for a halt that was already answered does nothing", async () => {
    const { options, store } = setup();
    const engine = new Engine(halting, options);
    await engine.run({}, { executionId: "q" });
    const firstHalt = (await store.load("q"))!.revision;
    await engine.resume("q", { response: "one" }); // halts at the second question
    const stale = await performJob(job("two_questions", "q", "resume", { revision: firstHalt, response: "late" }), options);
    expect([stale.kind, stale.result.status, stale.result.halt?.prompt]).toEqual(["duplicate", "halted", "Second?"]);
  });

  test("a resume job for the current halt resumes it", async () => {
    const { options, store } = setup();
    await new Engine(halting, options).run({}, { executionId: "q2" });
    const revision = (await store.load("q2"))!.revision;
    const outcome = await performJob(job("two_questions", "q2", "resume", { revision, response: "one" }), options);
    expect([outcome.kind, outcome.result.halt?.prompt]).toEqual(["done", "Second?"]);
  });

  test("a job finding its execution running under a live lease is busy until the lease's expiry, then takes it over", async () => {
    const { options, store, clock, calls } = setup();
    const pending = await new Engine(work, options).prepare({}, { executionId: "r" });
    const leaseUntil = new Date(clock().getTime() + 1000).toISOString();
    await store.save({ ...pending, status: "running", leaseUntil }, { expectedRevision: pending.revision });
    const busy = await performJob(job("work", "r", "start"), options);
    expect([busy.kind, busy.kind === "busy" && busy.busyUntil, busy.result.status, calls]).toEqual(["busy", leaseUntil, "running", []]);
    clock.advance(1000);
    const taken = await performJob(job("work", "r", "start"), options);
    expect([taken.kind, taken.kind === "done" && taken.takenOver, taken.result.status, calls]).toEqual(["done", true, "completed", [
      "a",
      "b",
    ]]);
  });

  test("an execution stored running before leases existed is leased until its last checkpoint + leaseMs", async () => {
    const { options, store, clock } = setup();
    const pending = await new Engine(work, options).prepare({}, { executionId: "r3" });
    await store.save({ ...pending, status: "running", leaseUntil: null, updatedAt: clock().toISOString() }, {
      expectedRevision: pending.revision,
    });
    clock.advance(1999);
    expect((await performJob(job("work", "r3", "start"), { ...options, leaseMs: 2000 })).kind).toBe("busy");
    clock.advance(1);
    const taken = await performJob(job("work", "r3", "start"), { ...options, leaseMs: 2000 });
    expect(taken.kind !== "busy" && taken.kind !== "duplicate" && taken.takenOver).toBe(true);
  });

  test("a resume job with an answer that would be refused is permanent and leaves the execution halted", async () => {
    const { options, store } = setup();
    await new Engine(halting, options).run({}, { executionId: "bad" });
    const revision = (await store.load("bad"))!.revision;
    const outcome = performJob(job("two_questions", "bad", "resume", { revision, response: { constructor: 1 } }), options);
    await expect(outcome).rejects.toBeInstanceOf(PermanentJobError);
    expect((await store.load("bad"))?.status).toBe("halted");
  });

  test("a job naming another workflow than its execution's is permanent and changes nothing", async () => {
    const { options, store } = setup();
    await new Engine(work, options).prepare({}, { executionId: "mix" });
    await expect(performJob(job("two_questions", "mix", "start"), options)).rejects.toBeInstanceOf(PermanentJobError);
    expect((await store.load("mix"))?.status).toBe("pending");
  });
});

describe("performJob: the claim made with the load (Store.claim)", () => {
  test("a start job claims with its load: no load of its own, the start step's entry stored with the call's checkpoint", async () => {
    const { options, store } = setup();
    await new Engine(work, options).prepare({}, { executionId: "c1" });
    const counted = countingStore(store);
    const outcome = await performJob(job("work", "c1", "start"), { ...options, store: counted.store });
    expect([outcome.kind, outcome.result.status]).toEqual(["done", "completed"]);
    // The claim, the checkpoint before the second call (the start and first call's entries), the final commit.
    expect(counted.counts).toEqual({ claim: 1, commit: 2 });
    expect(counted.commits[0]!.entries!.map((entry) => entry.stepId)).toEqual(["start", "a"]);
    expect((await store.entries("c1")).map((entry) => entry.stepId)).toEqual(["start", "a", "b", "finish"]);
    expect((await store.events("c1")).map((event) => event.type).slice(0, 2)).toEqual(["workflow.started", "step.started"]);
  });

  test("two deliveries of one start job at once: one claims and runs every call once, the other does nothing", async () => {
    const { options, store, calls } = setup();
    await new Engine(work, options).prepare({}, { executionId: "c2" });
    const outcomes = await Promise.all([performJob(job("work", "c2", "start"), options), performJob(job("work", "c2", "start"), options)]);
    expect(outcomes.map((o) => o.kind).sort()).toEqual(["busy", "done"]);
    expect(calls).toEqual(["a", "b"]);
    expect((await store.entries("c2")).map((entry) => entry.stepId)).toEqual(["start", "a", "b", "finish"]);
  });

  test("a worker that died after the claim (nothing stored since) is taken over once its lease ends: each step stored once", async () => {
    const { options, store, clock, calls } = setup();
    await new Engine(work, options).prepare({}, { executionId: "c3" });
    const at = clock();
    const leaseUntil = new Date(at.getTime() + 60_000).toISOString();
    await store.claim("c3", { workflowHash: work.hash, at: at.toISOString(), leaseUntil, leaseMs: 60_000 });
    const busy = await performJob(job("work", "c3", "continue"), options);
    expect([busy.kind, calls]).toEqual(["busy", []]);
    clock.advance(60_000);
    const taken = await performJob(job("work", "c3", "continue"), options);
    expect([taken.kind, taken.kind === "done" && taken.takenOver, taken.result.status, calls]).toEqual(["done", true, "completed", [
      "a",
      "b",
    ]]);
    expect((await store.entries("c3")).map((entry) => entry.stepId)).toEqual(["start", "a", "b", "finish"]);
    expect((await store.events("c3")).filter((event) => event.type === "workflow.started")).toHaveLength(1);
  });

  test("a resume job, and a job for a definition this app does not serve, load without claiming", async () => {
    const { options, store } = setup();
    await new Engine(halting, options).run({}, { executionId: "c4" });
    const revision = (await store.load("c4"))!.revision;
    const counted = countingStore(store);
    await performJob(job("two_questions", "c4", "resume", { revision, response: "one" }), { ...options, store: counted.store });
    expect([counted.counts.load, "claim" in counted.counts]).toEqual([1, false]);
    await new Engine(work, options).prepare({}, { executionId: "c5" });
    counted.reset();
    const outcome = await performJob(job("work", "c5", "start"), { ...options, store: counted.store, workflows: [] });
    expect([outcome.result.status, counted.counts.load, "claim" in counted.counts]).toEqual(["completed", 1, false]);
  });
});

describe("QStash deduplication ids", () => {
  test("a start job's id is the execution id, the action and its createdAt", async () => {
    expect(await deduplicationIdOf(job("w", "order-1", "start", { createdAt: "2026-01-01T00:00:00.000Z" }))).toBe(
      "order-1.start.1767225600000",
    );
  });

  test("a resume job's id names the halted revision", async () => {
    expect(await deduplicationIdOf(job("w", "order-1", "resume", { revision: 4 }))).toBe("order-1.resume.r4");
  });

  test("a continue job without a key and a resume without a revision get no id", async () => {
    expect(await deduplicationIdOf(job("w", "x", "continue"))).toBeUndefined();
    expect(await deduplicationIdOf(job("w", "x", "resume"))).toBeUndefined();
  });

  test("ids that differ only in escaped characters stay distinct", async () => {
    const a = await deduplicationIdOf(job("w", "a:b", "continue"), "k");
    const b = await deduplicationIdOf(job("w", "a_b", "continue"), "k");
    expect([a, b]).toEqual(["a_3ab.continue.k", "a_5fb.continue.k"]);
  });

  test("an id longer than 200 characters becomes a SHA-256 hash", async () => {
    const id = await deduplicationIdOf(job("w", "x".repeat(200), "continue"), "k");
    expect(id).toMatch(/^h-[0-9a-f]{64}$/);
  });
});
