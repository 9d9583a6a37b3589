// The sweeper and the operator's recover: nothing waits on a queue's retry timing.
import { describe, expect, test } from "bun:test";
import { leftRunning } from "../../support/engine.ts";
import {
  ConflictError,
  Engine,
  InlineAdapter,
  type Job,
  loadWorkflow,
  ManualClock,
  MemoryStore,
  type QueueAdapter,
  recover,
  sweep,
} from "../../../mod.ts";

const START = "2026-05-01T00:00:00.000Z";

const workflow = loadWorkflow(`
id: sweepable
name: Sweepable
steps:
  - id: start
    type: start
    next: work
  - id: work
    type: call
    service: work
    next: finish
  - id: finish
    type: end
    result: done
`);

const approval = loadWorkflow(`
id: timed_approval
name: Timed approval
steps:
  - id: start
    type: start
    next: ask
  - id: ask
    type: approval
    prompt: ok?
    timeout: 60
    on_timeout: expired
    next: finish
  - id: expired
    type: end
    result: timed out
  - id: finish
    type: end
    result: approved
`);

/** A queue that only records what it is given (a lost job is one it never delivers). */
function recordingQueue(): QueueAdapter & { jobs: Job[] } {
  const jobs: Job[] = [];
  return { jobs, enqueue: async (job) => void jobs.push(job) };
}

function setup() {
  const store = new MemoryStore();
  const clock = new ManualClock(START);
  const services = { work: () => "ok" };
  const engine = (w = workflow) => new Engine(w, { store, clock, services, leaseMs: 60_000 });
  return { store, clock, services, engine };
}

describe("sweep", () => {
  test("hands back an expired running execution and an orphaned pending one, and leaves live ones alone", async () => {
    const { store, clock, engine } = setup();
    await leftRunning(engine(), "crashed");
    await engine().prepare({}, { executionId: "orphan" });
    await clock.advance(61_000);
    await leftRunning(engine(), "live");
    await engine().prepare({}, { executionId: "young" });
    const queue = recordingQueue();
    const report = await sweep({ store, adapter: queue, clock, graceMs: 60_000 });
    expect(report.enqueued.map((item) => item.id).sort()).toEqual(["crashed", "orphan"]);
    expect(queue.jobs.map((job) => `${job.executionId}:${job.action}`).sort()).toEqual(["crashed:continue", "orphan:continue"]);
  });

  test("the executions it hands back run to completion through the queue", async () => {
    const { store, clock, services, engine } = setup();
    await leftRunning(engine(), "crashed");
    await engine().prepare({}, { executionId: "orphan" });
    await clock.advance(120_000);
    const adapter = new InlineAdapter({ store, clock, services, workflows: [workflow], leaseMs: 60_000 });
    await sweep({ store, adapter, clock });
    expect((await store.load("crashed"))?.status).toBe("completed");
    expect((await store.load("orphan"))?.status).toBe("completed");
    const entries = await store.entries("crashed");
    expect(entries.filter((e) => e.stepId === "work")).toHaveLength(1);
  });

  test("a sweep right after another hands back nothing: what it found is claimed", async () => {
    const { store, clock, engine } = setup();
    await engine().prepare({}, { executionId: "orphan" });
    await clock.advance(61_000);
    const queue = recordingQueue();
    await sweep({ store, adapter: queue, clock, claimMs: 60_000 });
    await sweep({ store, adapter: queue, clock, claimMs: 60_000 });
    expect(queue.jobs).toHaveLength(1);
    await clock.advance(60_000);
    await sweep({ store, adapter: queue, clock, claimMs: 60_000 });
    expect(queue.jobs).toHaveLength(2);
  });

  test("an approval whose timer was lost is woken once its timeout has passed, and takes on_timeout", async () => {
    const { store, clock, services, engine } = setup();
    await engine(approval).run({}, { executionId: "asked" });
    await clock.advance(60_000 + 60_000);
    const adapter = new InlineAdapter({ store, clock, services, workflows: [approval] });
    const report = await sweep({ store, adapter, clock });
    expect(report.enqueued.map((item) => item.status)).toEqual(["halted"]);
    expect((await store.load("asked"))?.result).toBe("timed out");
  });
});

describe("recover", () => {
  test("a running execution under a live lease is a ConflictError naming the lease's expiry", async () => {
    const { store, clock, engine } = setup();
    await leftRunning(engine(), "busy");
    const error = await recover(store, recordingQueue(), "busy", { clock }).catch((e) => e);
    expect(error).toBeInstanceOf(ConflictError);
    expect(error.message).toContain("live lease until 2026-05-01T00:01:00.000Z");
  });

  test("once the lease has expired, the execution is handed back to the queue", async () => {
    const { store, clock, engine } = setup();
    await leftRunning(engine(), "stuck");
    await clock.advance(60_000);
    const queue = recordingQueue();
    await recover(store, queue, "stuck", { clock });
    expect(queue.jobs).toEqual([{ workflowId: "sweepable", executionId: "stuck", action: "continue" }]);
  });

  test("a halted execution waiting for its answer is not stuck: ConflictError", async () => {
    const { store, clock, engine } = setup();
    await engine(approval).run({}, { executionId: "waiting" });
    await expect(recover(store, recordingQueue(), "waiting", { clock })).rejects.toThrow(/is halted/);
  });
});
