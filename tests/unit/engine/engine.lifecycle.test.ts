// Leases and takeover, cancel, retry, wait, pinned definitions and migration, at the engine and runner level.
import { describe, expect, test } from "bun:test";
import {
  AsyncRunner,
  Engine,
  InlineAdapter,
  loadWorkflow,
  ManualClock,
  MemoryStore,
  type Services,
  StepRegistry,
  SyncRunner,
  ValidationError,
} from "../../../mod.ts";
import { performJob } from "../../../src/queue.ts";
import { z } from "zod";
import type { Commit } from "../../../src/store/store.ts";
import type { Job } from "../../../src/runners/jobs.ts";
import { leftRunning } from "../../support/engine.ts";
import { twoCalls } from "../../support/workflows.ts";

const START = "2026-03-01T00:00:00.000Z";

function counting(): { services: Services; calls: number[] } {
  const calls: number[] = [];
  return { calls, services: { work: (input: { n: number }) => (calls.push(input.n), input.n * 10) } };
}

describe("leases", () => {
  test("a running execution under a live lease is not taken over", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(START);
    const engine = new Engine(twoCalls, { store, clock, services: counting().services, leaseMs: 60_000 });
    await leftRunning(engine, "live");
    await clock.advance(59_000);
    await expect(engine.continue("live")).rejects.toThrow(/live lease until 2026-03-01T00:01:00/);
  });

  test("once the lease has expired, one of two workers takes over, exactly once", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(START);
    const { services, calls } = counting();
    const engine = () => new Engine(twoCalls, { store, clock, services, leaseMs: 60_000 });
    await leftRunning(engine(), "stale");
    calls.length = 0;
    await clock.advance(60_000);
    const results = await Promise.allSettled([engine().continue("stale"), engine().continue("stale")]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    expect((await store.load("stale"))?.status).toBe("completed");
    expect(calls).toEqual([1, 2]);
  });

  test("every checkpoint renews the lease", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(START);
    const seen: (string | null)[] = [];
    const services = {
      work: async (input: { n: number }) => {
        seen.push((await store.load("renew"))!.leaseUntil);
        await clock.advance(30_000);
        return input.n;
      },
    };
    await new Engine(twoCalls, { store, clock, services, leaseMs: 60_000 }).run({}, { executionId: "renew" });
    expect(seen).toEqual(["2026-03-01T00:01:00.000Z", "2026-03-01T00:01:30.000Z"]);
  });

  test("a delivery that finds a live lease leaves a delayed continue at the lease's expiry", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(START);
    const { services } = counting();
    await leftRunning(new Engine(twoCalls, { store, clock, services }), "busy");
    const adapter = new InlineAdapter({ store, clock, services, workflows: [twoCalls] });
    await adapter.enqueue({ workflowId: "two_calls", executionId: "busy", action: "continue" });
    expect(adapter.pendingTimers.map((t) => new Date(t.at).toISOString())).toEqual(["2026-03-01T00:01:00.000Z"]);
    await clock.advance(60_000);
    await adapter.runDueTimers();
    expect((await store.load("busy"))?.status).toBe("completed");
  });
});

describe("cancel", () => {
  const approval = loadWorkflow(`
id: approve_me
name: Approve me
steps:
  - id: start
    type: start
    next: ask
  - id: ask
    type: approval
    prompt: ok?
    next: finish
  - id: finish
    type: end
`);

  test("a halted execution is cancelled, with a workflow.cancelled event, and a later resume job does nothing", async () => {
    const store = new MemoryStore();
    const runner = new AsyncRunner(approval, { store });
    const halted = await new SyncRunner(approval, { store }).run({}, { executionId: "c1" });
    expect(halted.status).toBe("halted");
    const revision = (await store.load("c1"))!.revision;
    const result = await runner.cancel("c1", { reason: "customer withdrew" });
    expect(result).toEqual({ status: "cancelled", executionId: "c1", error: "Cancelled: customer withdrew" });
    expect((await store.events("c1")).at(-1)).toMatchObject({ type: "workflow.cancelled", data: { reason: "customer withdrew" } });
    const late = await performJob({ workflowId: "approve_me", executionId: "c1", action: "resume", approved: true, revision }, {
      store,
      workflows: [approval],
    });
    expect(late.kind).toBe("duplicate");
    expect((await store.load("c1"))?.status).toBe("cancelled");
  });

  test("a pending execution is cancelled and its queued start job does nothing", async () => {
    const store = new MemoryStore();
    const engine = new Engine(twoCalls, { store, services: counting().services });
    await engine.prepare({}, { executionId: "c2" });
    await engine.cancel("c2");
    const outcome = await performJob({ workflowId: "two_calls", executionId: "c2", action: "start" }, { store, workflows: [twoCalls] });
    expect(outcome.kind).toBe("duplicate");
    expect((await store.load("c2"))?.error).toBe("Cancelled: Cancelled by an operator");
  });

  test("a running execution stops at its next checkpoint after a cancel, and its run answers that it was cancelled", async () => {
    const store = new MemoryStore();
    const calls: number[] = [];
    // deno-lint-ignore prefer-const -- assigned once, after the services that use it
    let engine: Engine;
    const services = {
      work: async (input: { n: number }) => {
        calls.push(input.n);
        if (input.n === 1) await engine.cancel("c3");
        return input.n;
      },
    };
    engine = new Engine(twoCalls, { store, services });
    expect(await engine.run({}, { executionId: "c3" })).toMatchObject({
      status: "cancelled",
      error: "Cancelled: Cancelled by an operator",
    });
    expect(calls).toEqual([1]);
    expect((await store.load("c3"))?.status).toBe("cancelled");
  });

  test("cancelling an ended execution is a ConflictError", async () => {
    const store = new MemoryStore();
    const engine = new Engine(twoCalls, { store, services: counting().services });
    await engine.run({}, { executionId: "c4" });
    await expect(engine.cancel("c4")).rejects.toThrow(/already completed/);
  });
});

describe("what a call stores", () => {
  test("a resume's answer is in the store with its first checkpoint, before any later step runs", async () => {
    const store = new MemoryStore();
    const asked = loadWorkflow(`
id: asked
name: Asked
steps:
  - id: start
    type: start
    next: ask
  - id: ask
    type: halt
    next: work
  - id: work
    type: call
    service: work
    input: { n: 1 }
    next: finish
  - id: finish
    type: end
`);
    const seen: unknown[] = [];
    const services = { work: async () => void seen.push((await store.load("a1"))!.ctx.response) };
    const runner = new SyncRunner(asked, { store, services });
    await runner.run({}, { executionId: "a1" });
    await runner.resume("a1", { response: { note: "ok" } });
    expect(seen).toEqual([{ note: "ok" }]);
  });
});

describe("retry", () => {
  test("a failed call that now succeeds: the run goes on from the failed step with the ctx it had before it", async () => {
    const store = new MemoryStore();
    let down = true;
    const calls: number[] = [];
    const services = {
      work: (input: { n: number }) => {
        calls.push(input.n);
        if (input.n === 2 && down) throw new Error("service down");
        return input.n * 10;
      },
    };
    const runner = new SyncRunner(twoCalls, { store, services });
    const failed = await runner.run({}, { executionId: "r1" });
    expect(failed).toMatchObject({ status: "failed", error: "Error: service down" });
    down = false;
    const result = await runner.retry("r1");
    expect(result).toEqual({ status: "completed", executionId: "r1", output: { a: 10, b: 20 } });
    expect(calls).toEqual([1, 2, 2]);
    const entries = await store.entries("r1");
    expect(entries.map((e) => `${e.stepId}:${e.action}`)).toEqual([
      "start:completed",
      "first:completed",
      "second:failed",
      "second:completed",
      "finish:completed",
    ]);
  });

  test("only a failed execution can be retried", async () => {
    const store = new MemoryStore();
    const runner = new SyncRunner(twoCalls, { store, services: counting().services });
    await runner.run({}, { executionId: "r2" });
    await expect(runner.retry("r2")).rejects.toThrow(/only a failed execution can be retried/);
  });
});

describe("wait", () => {
  const waiting = loadWorkflow(`
id: wait_three_days
name: Wait three days
steps:
  - id: start
    type: start
    next: pause
  - id: pause
    type: wait
    seconds: 259200
    next: remind
  - id: remind
    type: call
    service: work
    input: { n: 3 }
    output: done
    next: finish
  - id: finish
    type: end
    result: $done
`);

  test("a sync run returns pending with notBefore; the execution waits with its wake time and continues after it", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(START);
    const runner = new SyncRunner(waiting, { store, clock, services: counting().services });
    const result = await runner.run({}, { executionId: "w1" });
    expect(result).toEqual({ status: "pending", executionId: "w1", yielded: true, notBefore: "2026-03-04T00:00:00.000Z" });
    expect(await store.load("w1")).toMatchObject({
      status: "pending",
      wakeAt: "2026-03-04T00:00:00.000Z",
      recoverTo: "remind",
      leaseUntil: null,
    });
    expect(await runner.continue("w1")).toMatchObject({ status: "pending", notBefore: "2026-03-04T00:00:00.000Z" });
    await clock.advance(259_200_000);
    expect(await runner.continue("w1")).toEqual({ status: "completed", executionId: "w1", output: 30 });
  });

  test("the in-process queue wakes it with a timer once the clock has passed the wake time", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(START);
    const services = counting().services;
    const adapter = new InlineAdapter({ store, clock, services, workflows: [waiting] });
    const runner = new AsyncRunner(waiting, { store, clock, services, adapter });
    const id = await runner.run({});
    expect(await runner.status(id)).toBe("pending");
    await clock.advance(259_199_000);
    expect(await adapter.runDueTimers()).toBe(0);
    await clock.advance(1_000);
    expect(await adapter.runDueTimers()).toBe(1);
    expect(await runner.status(id)).toBe("completed");
  });

  test("a wait of 1e13 seconds in a definition is a ValidationError naming the key (the wake time is not a date)", () => {
    const source = (seconds: number) => ({
      id: "too_long",
      name: "Too long",
      steps: [{ id: "start", type: "start", next: "pause" }, { id: "pause", type: "wait", seconds }],
    });
    for (const seconds of [1e13, 1e308]) {
      expect(() => loadWorkflow(source(seconds))).toThrow(/steps\[1\]\.seconds: must be at most 8640000000000/);
    }
    expect(loadWorkflow(source(86_400)).id).toBe("too_long");
  });

  test("a wait whose referenced seconds end after the latest date fails the step with its message, not a RangeError", async () => {
    const store = new MemoryStore();
    const referenced = loadWorkflow({
      id: "referenced_wait",
      name: "Referenced wait",
      steps: [{ id: "start", type: "start", next: "pause" }, { id: "pause", type: "wait", seconds: "$input.s" }],
    });
    const result = await new SyncRunner(referenced, { store, clock: new ManualClock(START) }).run({ s: 1e308 });
    expect(result).toMatchObject({
      status: "failed",
      error:
        'ExecutionError: Wait "pause": a wait of 1e+308 seconds ends after +275760-09-13T00:00:00.000Z, the latest time a date can hold',
    });
  });

  test("a short wait is slept in process", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(START, { autoAdvance: true });
    const short = loadWorkflow(`
id: short_wait
name: Short wait
steps:
  - id: start
    type: start
    next: pause
  - id: pause
    type: wait
    until: $input.at
    next: finish
  - id: finish
    type: end
    result: done
`);
    const result = await new SyncRunner(short, { store, clock }).run({ at: "2026-03-01T00:00:00.500Z" });
    expect(result.status).toBe("completed");
    expect(clock.now().toISOString()).toBe("2026-03-01T00:00:00.500Z");
  });
});

function v1Source(): string {
  return `
id: pinned
name: Pinned
version: "1"
steps:
- id: start
  type: start
  next: ask
- id: ask
  type: halt
  reason: waiting
  next: old_finish
- id: old_finish
  type: end
  result: v1
`;
}

describe("pinned definitions and migration", () => {
  const v1 = loadWorkflow(v1Source());
  const v2 = loadWorkflow(`
id: pinned
name: Pinned
version: "2"
steps:
  - id: begin
    type: start
    next: confirm
  - id: done
    type: end
    result: v2
  - id: confirm
    type: halt
    reason: confirm
    next: done
`);

  test("an execution halted on v1 resumes and completes on v1 after v2 is deployed; new runs use v2", async () => {
    const store = new MemoryStore();
    await new SyncRunner(v1, { store }).run({}, { executionId: "p1" });
    const resumed = await new SyncRunner(v2, { store }).resume("p1", { response: "ok" });
    expect(resumed).toEqual({ status: "completed", executionId: "p1", output: "v1" });
    expect(await new SyncRunner(v2, { store }).run({}, { executionId: "p2" })).toMatchObject({
      status: "halted",
      halt: { prompt: "confirm" },
    });
    expect(await new SyncRunner(v2, { store }).resume("p2", {})).toMatchObject({ output: "v2" });
  });

  test("migrate moves a halted execution onto a version that has its step, and names the missing step otherwise", async () => {
    const store = new MemoryStore();
    await new SyncRunner(v1, { store }).run({}, { executionId: "p3" });
    await expect(new Engine(v2, { store }).migrate("p3")).rejects.toThrow(/stands on steps "ask", "old_finish", missing there/);
    const v3 = loadWorkflow(v1Source().replace('version: "1"', 'version: "3"').replace("result: v1", "result: v3"));
    const moved = await new Engine(v3, { store }).migrate("p3");
    expect(moved).toMatchObject({ workflowVersion: "3", workflowHash: v3.hash });
    expect(await new SyncRunner(v3, { store }).resume("p3", {})).toMatchObject({ output: "v3" });
  });
});

describe("races answer what happened", () => {
  const v1 = loadWorkflow(v1Source());
  const v3Source = v1Source().replace('version: "1"', 'version: "3"').replace("result: v1", "result: v3");
  const v3 = loadWorkflow(v3Source);
  /** A store holding v3 (as `PUT /workflows/pinned` leaves it), so executions moved onto it run on it. */
  async function storeWithV3() {
    const store = new MemoryStore();
    await store.putDefinition({ workflowId: "pinned", version: "3", hash: v3.hash, source: v3Source, storedAt: START }, { current: true });
    return store;
  }

  /** A store that runs `first` (once) just before the first commit that `when` picks: a change that lands in between. */
  function interleaved(store: MemoryStore, when: (commit: Commit) => boolean, first: () => Promise<unknown>) {
    let done = false;
    return new Proxy(store, {
      get: (target, key) =>
        key === "commit"
          ? async (commit: Commit) => {
            if (!done && when(commit)) {
              done = true;
              await first();
            }
            return await target.commit(commit);
          }
          : Reflect.get(target, key).bind(target),
    });
  }

  test("a sync resume racing a migrate is applied on the migrated version, not refused", async () => {
    const store = await storeWithV3();
    await new SyncRunner(v1, { store }).run({}, { executionId: "rm1" });
    const racing = interleaved(store, (c) => c.execution.status === "running", () => new Engine(v3, { store }).migrate("rm1"));
    expect(await new SyncRunner(v1, { store: racing }).resume("rm1", {})).toEqual({
      status: "completed",
      executionId: "rm1",
      output: "v3",
    });
  });

  test("an async resume (its answer kept) racing a migrate is kept and then applied on the migrated version", async () => {
    const store = await storeWithV3();
    await new SyncRunner(v1, { store }).run({}, { executionId: "rm2" });
    const racing = interleaved(store, (c) => c.execution.answer !== null, () => new Engine(v3, { store }).migrate("rm2"));
    const adapter = new InlineAdapter({ store, workflows: [v1] });
    await new AsyncRunner(v1, { store: racing, adapter }).resume("rm2", { response: "yes" });
    expect(await store.load("rm2")).toMatchObject({ status: "completed", result: "v3", ctx: { response: "yes" } });
  });

  test("a queued resume job whose halt was migrated meanwhile applies the answer that waits on it", async () => {
    const store = await storeWithV3();
    await new SyncRunner(v1, { store }).run({}, { executionId: "rm3" });
    const jobs: Job[] = [];
    await new AsyncRunner(v1, { store, adapter: { enqueue: async (job) => void jobs.push(job) } }).resume("rm3", { response: "yes" });
    await new Engine(v3, { store }).migrate("rm3");
    const outcome = await performJob(jobs[0]!, { store, workflows: [v1] });
    expect(outcome).toMatchObject({ kind: "done", result: { status: "completed", output: "v3" } });
  });

  test("a resume racing an answer to the same halt is still refused (the halt was answered)", async () => {
    const store = await storeWithV3();
    await new SyncRunner(v1, { store }).run({}, { executionId: "rm4" });
    const racing = interleaved(store, (c) => c.execution.status === "running", () => new SyncRunner(v1, { store }).resume("rm4", {}));
    await expect(new SyncRunner(v1, { store: racing }).resume("rm4", {})).rejects.toThrow(/is completed: only a halted execution/);
  });

  test("a sync resume whose answer was applied, racing a cancel, answers cancelled (not 409)", async () => {
    const store = new MemoryStore();
    const approval = loadWorkflow(`
id: ask_then_charge
name: Ask then charge
steps:
  - { id: start, type: start, next: ask }
  - { id: ask, type: halt, reason: go?, next: charge }
  - { id: charge, type: call, service: charge, output: receipt, next: finish }
  - { id: finish, type: end, result: $receipt }
`);
    const services = { charge: async () => (await new Engine(approval, { store }).cancel("rc1"), "paid") };
    const runner = new SyncRunner(approval, { store, services });
    await runner.run({}, { executionId: "rc1" });
    expect(await runner.resume("rc1", { response: "go" })).toEqual({
      status: "cancelled",
      executionId: "rc1",
      error: "Cancelled: Cancelled by an operator",
    });
  });
});

describe("traps", () => {
  test("a custom step type's output goes to ctx like a built-in's", async () => {
    const registry = new StepRegistry();
    registry.register("plan_trip", {
      schema: z.object({ output: z.string().optional() }),
      execute: () => ({ kind: "continue", output: { days: 3 } }),
    });
    const workflow = loadWorkflow(
      `
id: custom_output
name: Custom output
steps:
  - id: start
    type: start
    next: plan
  - id: plan
    type: plan_trip
    output: plan
    next: finish
  - id: finish
    type: end
    result: $plan
`,
      { registry },
    );
    expect(await new SyncRunner(workflow, { store: new MemoryStore(), registry }).run({})).toMatchObject({ output: { days: 3 } });
  });

  test("a call that failed after 3 attempts records attempt 3, and each retry is a step.retrying event", async () => {
    const store = new MemoryStore();
    const workflow = loadWorkflow(`
id: flaky
name: Flaky
steps:
  - id: start
    type: start
    next: call
  - id: call
    type: call
    service: broken
    retries: 2
    retry_delay: 2
`);
    const clock = new ManualClock(START, { autoAdvance: true });
    await new SyncRunner(workflow, {
      store,
      clock,
      services: {
        broken: () => {
          throw new Error("nope");
        },
      },
    }).run({}, { executionId: "f1" });
    expect((await store.entries("f1")).at(-1)).toMatchObject({ stepId: "call", action: "failed", attempt: 3 });
    const retrying = (await store.events("f1")).filter((e) => e.type === "step.retrying").map((e) => e.data);
    expect(retrying).toEqual([
      { executionId: "f1", stepId: "call", stepType: "call", attempt: 2, error: "Error: nope", delayMs: 2000 },
      { executionId: "f1", stepId: "call", stepType: "call", attempt: 3, error: "Error: nope", delayMs: 4000 },
    ]);
  });

  test("starting an existing execution id with a different input is a ConflictError naming the id", async () => {
    const store = new MemoryStore();
    const runner = new SyncRunner(twoCalls, { store, services: counting().services });
    await runner.run({ x: 1 }, { executionId: "same" });
    await expect(runner.run({ x: 2 }, { executionId: "same" })).rejects.toThrow(/Execution "same" already exists with a different input/);
    expect(await runner.run({ x: 1 }, { executionId: "same" })).toMatchObject({ status: "completed" });
  });

  test("bad resume answers are refused before anything changes", async () => {
    const store = new MemoryStore();
    const halting = loadWorkflow(`
id: halting
name: Halting
steps:
  - id: start
    type: start
    next: ask
  - id: ask
    type: halt
`);
    const runner = new AsyncRunner(halting, { store });
    const id = await runner.run({});
    let deep: unknown = 1;
    for (let i = 0; i < 9000; i++) deep = { d: deep };
    for (const response of [{ constructor: 1 }, { a: { prototype: 1 } }, JSON.parse('{"__proto__": {"x": 1}}'), deep]) {
      await expect(runner.resume(id, { response })).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(runner.resume(id, { approved: "yes" as unknown as boolean })).rejects.toBeInstanceOf(ValidationError);
    expect((await store.load(id))?.status).toBe("halted");
  });
});
