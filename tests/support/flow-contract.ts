/**
 * Flow control (issue 20) through the engine and the async path, against any store: the MemoryStore and the
 * Redis store (tests/unit/engine/flow.memory.test.ts, tests/unit/engine/flow.redis.test.ts) run the same tests.
 */
import { describe, expect, test } from "bun:test";
import { loadWorkflow } from "../../src/definition/load.ts";
import type { WorkflowDefinition } from "../../src/definition/workflow.ts";
import { ManualClock } from "../../src/engine/clock.ts";
import { Engine } from "../../src/engine/engine.ts";
import { AsyncRunner } from "../../src/runners/async.ts";
import { type EnqueueOptions, followUpsOf, type Job, performJob, type QueueAdapter } from "../../src/runners/jobs.ts";
import { sweep } from "../../src/runners/recovery.ts";
import type { FlowStore } from "../../src/store/flow.ts";
import type { Store } from "../../src/store/store.ts";
import type { Services } from "../../src/types.ts";

export type FlowTestStore = Store & FlowStore;

const START = "2026-05-01T00:00:00.000Z";

/** A queue the test drives: due jobs are performed in parallel batches, delayed ones wait for the clock. */
class TestQueue implements QueueAdapter {
  readonly due: Job[] = [];
  readonly later: { job: Job; at: number }[] = [];
  constructor(readonly store: Store, readonly clock: ManualClock, readonly services: Services, readonly workflows: WorkflowDefinition[]) {}

  enqueue(job: Job, options: EnqueueOptions = {}): Promise<void> {
    if (options.delaySeconds && options.delaySeconds > 0) this.later.push({ job, at: this.clock.nowMs() + options.delaySeconds * 1000 });
    else this.due.push(job);
    return Promise.resolve();
  }

  /** Performs one job; `clock` is the worker's (a frozen one: a worker that died, whose heartbeats stop). */
  async perform(job: Job, clock: ManualClock = this.clock, leaseMs?: number): Promise<void> {
    const outcome = await performJob(job, {
      store: this.store,
      clock,
      ...(leaseMs ? { leaseMs } : {}),
      services: this.services,
      workflows: (id) => this.workflows.find((w) => w.id === id),
    });
    for (const next of followUpsOf(job, outcome, this.clock.nowMs())) await this.enqueue(next.job, next.options);
  }

  /** Performs due jobs (all at once, as many workers would) until none is left; then the delayed ones that are due. */
  async drain(): Promise<void> {
    for (;;) {
      const now = this.clock.nowMs();
      for (const timer of this.later.filter((t) => t.at <= now)) {
        this.later.splice(this.later.indexOf(timer), 1);
        this.due.push(timer.job);
      }
      if (!this.due.length) return;
      await Promise.all(this.due.splice(0).map((job) => this.perform(job)));
    }
  }
}

/** Lets the event loop run (real I/O of a remote store included) without reading any clock. */
const tick = () => new Promise((resolve) => setTimeout(resolve, 0));

/** start → call `work` (with the input's key and n) → end, under the given flow-control keys. */
export function limited(id: string, flow: string, steps = "") {
  return loadWorkflow(`
id: ${id}
name: ${id}
${flow}
steps:
  - id: start
    type: start
    next: work
  - id: work
    type: call
    service: work
    input: { key: "$input.key", n: "$input.n" }
    output: done
    next: ${steps ? "pause" : "finish"}
${steps}
  - id: finish
    type: end
    result: "$done"
`);
}

export function flowContract(name: string, makeStore: (clock: ManualClock) => Promise<FlowTestStore> | FlowTestStore): void {
  describe(`${name} (flow control)`, () => {
    test("50 starts with concurrency 3 per key over 4 keys never exceed 3 running per key at any commit, and all 50 complete", async () => {
      const clock = new ManualClock(START);
      const inner = await makeStore(clock);
      const running = new Map<string, string>();
      let worst = 0;
      const store = new Proxy(inner, {
        get(target, key, receiver) {
          const value = Reflect.get(target, key, receiver);
          if (key !== "commit") return typeof value === "function" ? value.bind(target) : value;
          return async (commit: Parameters<Store["commit"]>[0]) => {
            const result = await target.commit(commit);
            const exec = commit.execution;
            if (exec.status === "running") running.set(exec.id, String(exec.input.key));
            else running.delete(exec.id);
            const perKey = new Map<string, number>();
            for (const k of running.values()) perKey.set(k, (perKey.get(k) ?? 0) + 1);
            worst = Math.max(worst, ...perKey.values());
            return result;
          };
        },
      });
      const workflow = limited("fifty", "concurrency: { limit: 3, key: $input.key }");
      const services = { work: async (input: unknown) => (await tick(), input) };
      const queue = new TestQueue(store, clock, services, [workflow]);
      const runner = new AsyncRunner(workflow, { store, adapter: queue, clock });
      const ids: string[] = [];
      for (let n = 0; n < 50; n++) ids.push(await runner.run({ key: `k${n % 4}`, n }, { executionId: `fifty-${n}` }));
      await queue.drain();
      const statuses = await Promise.all(ids.map(async (id) => (await store.load(id))!.status));
      expect(statuses.filter((s) => s === "completed").length).toBe(50);
      expect(worst).toBe(3);
      const state = await store.flowState("fifty", clock.nowMs());
      expect(state.map((s) => [s.key, s.holders.length, s.waiting]).sort()).toEqual([["k0", 0, 0], ["k1", 0, 0], ["k2", 0, 0], [
        "k3",
        0,
        0,
      ]]);
    });

    test("a waiting execution says why it waits, and emits flow.queued then flow.started", async () => {
      const clock = new ManualClock(START);
      const store = await makeStore(clock);
      const workflow = limited("why", "concurrency: { limit: 1, key: $input.key }");
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      const services = { work: async (input: { n: number }) => (input.n === 1 && await gate, input) };
      const queue = new TestQueue(store, clock, services, [workflow]);
      const runner = new AsyncRunner(workflow, { store, adapter: queue, clock });
      await runner.run({ key: "C-7", n: 1 }, { executionId: "why-1" });
      await runner.run({ key: "C-7", n: 2 }, { executionId: "why-2" });
      const first = queue.perform(queue.due.shift()!);
      while ((await store.load("why-1"))!.status !== "running") await tick();
      await queue.perform(queue.due.shift()!);
      const waiting = (await store.load("why-2"))!;
      expect(waiting.status).toBe("pending");
      expect(waiting.flow?.waiting).toBe("waiting for a concurrency slot of key C-7 (1/1), position 1");
      open();
      await first;
      await queue.drain();
      const done = (await store.load("why-2"))!;
      expect(done.status).toBe("completed");
      expect(done.flow?.waiting).toBeUndefined();
      const types = (await store.events("why-2")).map((e) => e.type);
      expect(types.slice(0, 3)).toEqual(["flow.queued", "workflow.started", "flow.started"]);
    });

    test("a crashed holder's slot is freed by lease expiry: the sweeper takes it over, it ends, the waiter starts", async () => {
      const clock = new ManualClock(START);
      const store = await makeStore(clock);
      const workflow = limited("crash", "concurrency: { limit: 1 }");
      let crashed = true;
      const services = { work: (input: unknown) => (crashed ? new Promise(() => {}) : input) };
      const queue = new TestQueue(store, clock, services, [workflow]);
      const runner = new AsyncRunner(workflow, { store, adapter: queue, clock });
      await runner.run({ key: "a", n: 1 }, { executionId: "crash-1" });
      await runner.run({ key: "a", n: 2 }, { executionId: "crash-2" });
      // Its worker dies inside the call (its clock stops: no heartbeat); a short lease, since the Redis store ends
      // leases by its server's clock.
      void queue.perform(queue.due.shift()!, new ManualClock(START), 50);
      while ((await store.load("crash-1"))!.status !== "running") await tick();
      await queue.drain();
      expect((await store.load("crash-2"))!.status).toBe("pending");
      crashed = false;
      await new Promise((resolve) => setTimeout(resolve, 100));
      await clock.advance(Date.parse((await store.load("crash-1"))!.leaseUntil!) - clock.nowMs() + 1_000);
      await sweep({ store, adapter: queue, clock });
      await queue.drain();
      expect((await store.load("crash-1"))!.status).toBe("completed");
      expect((await store.load("crash-2"))!.status).toBe("completed");
    });

    test("rate 10 per 1 s starts 30 runs over at least 2 s of the clock, none dropped, never more than 10 in a second", async () => {
      const clock = new ManualClock(START);
      const store = await makeStore(clock);
      const workflow = limited("rated", "rate: { limit: 10, period: 1 }");
      const starts: number[] = [];
      const services = { work: (input: unknown) => (starts.push(clock.nowMs()), input) };
      const queue = new TestQueue(store, clock, services, [workflow]);
      const runner = new AsyncRunner(workflow, { store, adapter: queue, clock });
      for (let n = 0; n < 30; n++) await runner.run({ key: "x", n }, { executionId: `rated-${n}` });
      await queue.drain();
      expect(starts.length).toBe(10);
      const held = (await store.load("rated-29"))!;
      expect(held.status).toBe("pending");
      expect(held.flow?.waiting).toStartWith("rate limited until 2026-05-01T00:00:01.000Z");
      for (let second = 0; second < 3 && starts.length < 30; second++) {
        await clock.advance(1000);
        await queue.drain();
      }
      expect(starts.length).toBe(30);
      expect(starts.at(-1)! - starts[0]!).toBeGreaterThanOrEqual(2000);
      for (const at of starts) expect(starts.filter((t) => t >= at && t < at + 1000).length).toBeLessThanOrEqual(10);
    });

    /** Run 0 of a `concurrency: 1` workflow holds the slot until `finish()`; `order` lists the runs as they call. */
    async function slotHeld(id: string) {
      const clock = new ManualClock(START);
      const store = await makeStore(clock);
      const workflow = limited(id, "concurrency: { limit: 1 }");
      const order: number[] = [];
      let open!: () => void;
      const gate = new Promise<void>((resolve) => (open = resolve));
      const services = { work: async (input: { n: number }) => (order.push(input.n), input.n === 0 && await gate, input) };
      const queue = new TestQueue(store, clock, services, [workflow]);
      const runner = new AsyncRunner(workflow, { store, adapter: queue, clock });
      await runner.run({ key: "x", n: 0 }, { executionId: `${id}-0` });
      const holder = queue.perform(queue.due.shift()!);
      while (order.length === 0) await tick();
      const finish = async () => {
        open();
        await holder;
        await queue.drain();
      };
      return { clock, store, workflow, queue, runner, order, finish };
    }

    test("among waiters the higher priority starts first (the runner's priority option)", async () => {
      const { queue, runner, order, finish } = await slotHeld("prio");
      for (const [n, priority] of [[1, 0], [2, 5], [3, 3]] as const) {
        await runner.run({ key: "x", n }, { executionId: `prio-${n}`, priority });
      }
      await queue.drain();
      await finish();
      expect(order).toEqual([0, 2, 3, 1]);
    });

    test("cancelling the slot holder frees its slot: the result names the waiter to start", async () => {
      const { clock, store, workflow, queue, runner, order } = await slotHeld("cancelled");
      await runner.run({ key: "x", n: 1 }, { executionId: "cancelled-1" });
      await queue.drain();
      const result = await new Engine(workflow, { store, clock }).cancel("cancelled-0");
      expect(result.flowStart).toEqual(["cancelled-1"]);
      await queue.perform({ workflowId: workflow.id, executionId: "cancelled-1", action: "continue" });
      expect(order).toEqual([0, 1]);
      expect((await store.load("cancelled-1"))!.status).toBe("completed");
    });

    test("a waiting run's priority ages: one that waited long enough goes before a newer, higher one", async () => {
      const { clock, queue, runner, order, finish } = await slotHeld("aging");
      await runner.run({ key: "x", n: 1 }, { executionId: "aging-1", priority: 0 });
      await queue.drain();
      await clock.advance(3 * 60_000); // three minutes waited are worth three priority points
      await runner.run({ key: "x", n: 2 }, { executionId: "aging-2", priority: 2 });
      await queue.drain();
      await finish();
      expect(order).toEqual([0, 1, 2]);
    });

    test("a halted run holds no slot, and when resumed it waits ahead of new starts", async () => {
      const clock = new ManualClock(START);
      const store = await makeStore(clock);
      const workflow = limited(
        "halts",
        "concurrency: { limit: 1 }",
        `  - id: pause
    type: halt
    reason: wait
    next: finish`,
      );
      const order: string[] = [];
      const gates = new Map<number, () => void>();
      const services = {
        work: async (input: { n: number }) => {
          order.push(`work ${input.n}`);
          if (input.n === 2) await new Promise<void>((resolve) => gates.set(2, resolve));
          return input;
        },
      };
      const queue = new TestQueue(store, clock, services, [workflow]);
      const runner = new AsyncRunner(workflow, { store, adapter: queue, clock });
      await runner.run({ key: "x", n: 1 }, { executionId: "halts-1" });
      await queue.drain();
      expect((await store.load("halts-1"))!.status).toBe("halted");
      await runner.run({ key: "x", n: 2 }, { executionId: "halts-2" }); // takes the slot the halt freed
      const second = queue.perform(queue.due.shift()!);
      while (!gates.has(2)) await tick();
      await runner.run({ key: "x", n: 3 }, { executionId: "halts-3" });
      await queue.drain();
      await runner.resume("halts-1", { response: "go" });
      await queue.drain();
      const resumed = (await store.load("halts-1"))!;
      expect(resumed.status).toBe("halted");
      expect(resumed.flow?.waiting).toStartWith("waiting for a concurrency slot");
      gates.get(2)!();
      await second;
      await queue.drain();
      expect((await store.load("halts-1"))!.status).toBe("completed");
      expect((await store.load("halts-1"))!.ctx.response).toBe("go");
      expect(order).toEqual(["work 1", "work 2", "work 3"]);
      const events = (await store.events("halts-3")).map((e) => e.seq);
      expect(events.length).toBeGreaterThan(0);
    });

    const quotaSteps = {
      call: `type: call
    service: work
    input: { n: "$input.n" }`,
      http: `type: http
    method: POST
    url: https://api.example.com/charge
    body: { n: "$input.n" }`,
    };
    for (const [type, step] of Object.entries(quotaSteps)) {
      test(`a${type === "http" ? "n" : ""} ${type} step's rate holds the calls of two engine instances together to the quota`, async () => {
        const clock = new ManualClock(START);
        const store = await makeStore(clock);
        const workflow = loadWorkflow(`
id: quota
name: quota
steps:
  - id: start
    type: start
    next: charge
  - id: charge
    ${step}
    rate: { limit: 2, period: 1, key: $input.account }
    next: finish
  - id: finish
    type: end
`);
        const calls: [number, number][] = [];
        const record = (n: number) => calls.push([n, clock.nowMs() - Date.parse(START)]);
        const services = { work: (input: { n: number }) => (record(input.n), input) };
        const fetch = async (_url: string, init: RequestInit) => (record(JSON.parse(String(init.body)).n), Response.json({ ok: true }));
        const options = { store, clock, services, http: { fetch } };
        const engines = [new Engine(workflow, options), new Engine(workflow, options)];
        const runs = [0, 1, 2, 3, 4].map((n) => engines[n % 2]!.run({ n, account: "A" }, { executionId: `quota-${n}` }));
        // Two calls made, three runs asleep until the rate allows (a side effect's heartbeat is a timer too, so the
        // calls are counted first).
        while (calls.length < 2 || clock.pending < 3) await tick();
        expect(calls.length).toBe(2);
        await clock.advance(1000);
        while (calls.length < 4 || clock.pending < 1) await tick();
        expect(calls.length).toBe(4);
        await clock.advance(1000);
        const results = await Promise.all(runs);
        expect(results.map((r) => r.status)).toEqual(["completed", "completed", "completed", "completed", "completed"]);
        expect(calls.map(([, at]) => at)).toEqual([0, 0, 1000, 1000, 2000]);
      });
    }

    test("debounce: starts within the period are one run with the last input, started after the quiet period", async () => {
      const clock = new ManualClock(START);
      const store = await makeStore(clock);
      const workflow = limited("sync_account", "debounce: { period: 2, key: $input.key }");
      const seen: number[] = [];
      const services = { work: (input: { n: number }) => (seen.push(input.n), input) };
      const queue = new TestQueue(store, clock, services, [workflow]);
      const runner = new AsyncRunner(workflow, { store, adapter: queue, clock });
      const ids = [];
      for (const n of [1, 2, 3]) {
        ids.push(await runner.run({ key: "acct-9", n }, { executionId: `sync-${n}` }));
        await queue.drain();
        await clock.advance(500);
      }
      expect(ids).toEqual(["sync-1", "sync-1", "sync-1"]);
      expect(seen).toEqual([]);
      await clock.advance(2000);
      await queue.drain();
      expect(seen).toEqual([3]);
      expect(await runner.run({ key: "acct-9", n: 4 }, { executionId: "sync-4" })).toBe("sync-4");
      expect(await runner.run({ key: "other", n: 5 }, { executionId: "sync-5" })).toBe("sync-5");
    });

    test("debounce with max: a run pushed back again and again starts no later than max after the first start", async () => {
      const clock = new ManualClock(START);
      const store = await makeStore(clock);
      const workflow = limited("busy", "debounce: { period: 2, key: $input.key, max: 3 }");
      const seen: [number, number][] = [];
      const services = { work: (input: { n: number }) => (seen.push([input.n, clock.nowMs() - Date.parse(START)]), input) };
      const queue = new TestQueue(store, clock, services, [workflow]);
      const runner = new AsyncRunner(workflow, { store, adapter: queue, clock });
      for (let n = 0; n < 5; n++) {
        await runner.run({ key: "k", n }, { executionId: `busy-${n}` });
        await clock.advance(1000);
        await queue.drain();
      }
      expect(seen).toEqual([[2, 3000]]);
    });

    test("a child workflow on its parent's key runs inside the parent's slot (no deadlock)", async () => {
      const clock = new ManualClock(START);
      const store = await makeStore(clock);
      const child = limited("kid", "concurrency: { limit: 1, key: $input.key }");
      const parent = loadWorkflow(`
id: parent
name: parent
concurrency: { limit: 1, key: $input.key }
steps:
  - id: start
    type: start
    next: child
  - id: child
    type: workflow
    workflow_id: kid
    input: { key: "$input.key", n: 1 }
    output: got
    next: finish
  - id: finish
    type: end
    result: "$got"
`);
      const services = { work: (input: unknown) => input };
      const queue = new TestQueue(store, clock, services, [parent, child]);
      const runner = new AsyncRunner(parent, { store, adapter: queue, clock });
      await runner.run({ key: "same" }, { executionId: "parent-1" });
      await queue.drain();
      expect((await store.load("parent-1"))!.status).toBe("completed");
    });
  });
}
