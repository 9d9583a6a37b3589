// Fenced workers: a worker never starts a side effect without a live claim (lease), keeps its claim alive
// while a long step runs (heartbeat), and stops a call when it loses the claim.
import { describe, expect, test } from "bun:test";
import { ConflictError, Engine, LeaseLostError, loadWorkflow, ManualClock, MemoryStore, StoreError } from "../../../mod.ts";
import { countingStore } from "../../support/engine.ts";
import { twoCalls } from "../../support/workflows.ts";

const START = "2026-04-01T00:00:00.000Z";
const LEASE_MS = 10_000;

/** A promise and its resolve function. */
function gate<T = void>() {
  let open!: (value: T) => void;
  const promise = new Promise<T>((resolve) => (open = resolve));
  return { promise, open };
}

/** Lets pending promise callbacks run (ManualClock tests never sleep for real). */
async function settle(turns = 20) {
  for (let i = 0; i < turns; i++) await new Promise((resolve) => setTimeout(resolve, 0));
}

describe("fence", () => {
  test("a paused worker whose lease ran out does not call the next service when it wakes; the takeover calls it once", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(START);
    const calls: string[] = [];
    const paused = gate<number>();
    let worker = "A";
    const services = {
      work: (input: { n: number }) => {
        calls.push(`${worker}:${input.n}`);
        return worker === "A" ? paused.promise : input.n;
      },
    };
    const engine = () => new Engine(twoCalls, { store, clock, services, leaseMs: LEASE_MS });
    const a = engine().run({}, { executionId: "paused" });
    await settle();
    // A is stopped (SIGSTOP) 15 s while its first call is in flight: no timer of A fires meanwhile.
    clock.jump(15_000);
    worker = "B";
    expect(await engine().continue("paused")).toMatchObject({ status: "completed", output: { a: 1, b: 2 } });
    // A wakes: its call answers, and its next step would be a side effect.
    paused.open(1);
    expect(await a).toMatchObject({ status: "completed", output: { a: 1, b: 2 } });
    expect(calls).toEqual(["A:1", "B:1", "B:2"]);
  });

  test("a worker that lost its lease has its commit refused: what the takeover stored stands", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(START);
    const oneCall = loadWorkflow(`
id: fenced
name: Fenced
steps:
  - { id: start, type: start, next: only }
  - { id: only, type: call, service: work, output: who, next: finish }
  - { id: finish, type: end, result: $who }
`);
    const paused = gate<string>();
    let worker = "A";
    const services = { work: () => (worker === "A" ? paused.promise : worker) };
    const counted = countingStore(store);
    const a = new Engine(oneCall, { store: counted.store, clock, services, leaseMs: LEASE_MS }).run({}, { executionId: "refused" });
    await settle();
    clock.jump(15_000);
    worker = "B";
    await new Engine(oneCall, { store, clock, services, leaseMs: LEASE_MS }).continue("refused");
    const stored = await store.load("refused");
    counted.reset();
    paused.open("A");
    expect(await a).toMatchObject({ status: "completed", output: "B" });
    expect(counted.counts.commit).toBe(1);
    expect(await store.load("refused")).toEqual(stored);
  });

  test("a worker paused after its checkpoint was stored, before it heard back, does not start the next call", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(START);
    const calls: string[] = [];
    let worker = "A";
    const services = { work: (input: { n: number }) => (calls.push(`${worker}:${input.n}`), input.n) };
    let commits = 0;
    const slowAnswer = new Proxy(store, {
      get: (target, key) =>
        key === "commit"
          ? async (commit: Parameters<MemoryStore["commit"]>[0]) => {
            const stored = await target.commit(commit);
            // The checkpoint before "second" is stored; A is then paused before the answer reaches it.
            if (++commits === 2) {
              clock.jump(15_000);
              worker = "B";
              await new Engine(twoCalls, { store, clock, services, leaseMs: LEASE_MS }).continue("slow-answer");
            }
            return stored;
          }
          : Reflect.get(target, key).bind(target),
    });
    const result = await new Engine(twoCalls, { store: slowAnswer, clock, services, leaseMs: LEASE_MS }).run({}, {
      executionId: "slow-answer",
    });
    expect(result).toMatchObject({ status: "completed", output: { a: 1, b: 2 } });
    expect(calls).toEqual(["A:1", "B:2"]);
  });

  test("a step that ends well within its lease costs no renewal request", async () => {
    const clock = new ManualClock(START);
    const counted = countingStore(new MemoryStore());
    const services = { work: (input: { n: number }) => input.n };
    await new Engine(twoCalls, { store: counted.store, clock, services, leaseMs: LEASE_MS }).run({}, { executionId: "quick" });
    expect(counted.counts.renew).toBeUndefined();
  });
});

describe("heartbeat", () => {
  test("a call longer than the lease keeps its claim: the lease is renewed every third of it, and nobody takes over", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(START);
    const counted = countingStore(store);
    const calls: number[] = [];
    const slow = gate();
    const services = {
      work: async (input: { n: number }) => {
        calls.push(input.n);
        if (input.n === 1) await slow.promise;
        return input.n;
      },
    };
    const run = new Engine(twoCalls, { store: counted.store, clock, services, leaseMs: LEASE_MS }).run({}, { executionId: "long" });
    await settle();
    for (let i = 0; i < 10; i++) {
      await clock.advance(2_500);
      await settle();
    }
    expect(counted.counts.renew).toBe(7);
    expect((await store.load("long"))?.leaseUntil).toBe("2026-04-01T00:00:33.333Z");
    const other = new Engine(twoCalls, { store, clock, services, leaseMs: LEASE_MS });
    await expect(other.continue("long")).rejects.toThrow(/live lease until 2026-04-01T00:00:33.333Z/);
    slow.open();
    expect(await run).toMatchObject({ status: "completed" });
    expect(calls).toEqual([1, 2]);
  });

  test("a refused renewal (the run was cancelled) aborts the call's signal with a LeaseLostError", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(START);
    const reasons: unknown[] = [];
    const services = {
      work: (_input: unknown, context: { signal: AbortSignal }) =>
        new Promise((_, reject) => {
          context.signal.addEventListener("abort", () => {
            reasons.push(context.signal.reason);
            reject(context.signal.reason);
          });
        }),
    };
    const engine = new Engine(twoCalls, { store, clock, services, leaseMs: LEASE_MS });
    const run = engine.run({}, { executionId: "cancelled" });
    await settle();
    await engine.cancel("cancelled");
    await clock.advance(LEASE_MS / 3);
    await settle();
    expect(reasons).toHaveLength(1);
    expect(reasons[0]).toBeInstanceOf(LeaseLostError);
    expect((reasons[0] as Error).message).toContain(`its renewal was refused (Execution "cancelled" was changed by someone else`);
    expect(await run).toMatchObject({ status: "cancelled" });
  });

  test("a store blip during a heartbeat does not abort the call; the next beat renews", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(START);
    let blips = 1;
    const flaky = new Proxy(store, {
      get: (target, key) =>
        key === "renew" && blips-- > 0
          ? () => Promise.reject(new StoreError("Redis store could not renew a lease: fetch failed"))
          : Reflect.get(target, key).bind(target),
    });
    const slow = gate();
    let aborted = false;
    const services = {
      work: async (input: { n: number }, context: { signal: AbortSignal }) => {
        context.signal.addEventListener("abort", () => (aborted = true));
        if (input.n === 1) await slow.promise;
        return input.n;
      },
    };
    const run = new Engine(twoCalls, { store: flaky, clock, services, leaseMs: LEASE_MS }).run({}, { executionId: "blip" });
    await settle();
    await clock.advance(LEASE_MS / 3);
    await settle();
    await clock.advance(LEASE_MS / 10);
    await settle();
    expect(aborted).toBe(false);
    expect((await store.load("blip"))?.leaseUntil).toBe("2026-04-01T00:00:14.333Z");
    slow.open();
    expect(await run).toMatchObject({ status: "completed" });
  });

  test("when the store cannot be reached until the lease runs out by the worker's measure, the call is aborted", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(START);
    const down = new Proxy(store, {
      get: (target, key) =>
        key === "renew"
          ? () => Promise.reject(new StoreError("Redis store could not renew a lease: fetch failed"))
          : Reflect.get(target, key).bind(target),
    });
    const reasons: unknown[] = [];
    const services = {
      work: (_input: unknown, context: { signal: AbortSignal }) =>
        new Promise((_, reject) => context.signal.addEventListener("abort", () => reject(reasons.push(context.signal.reason)))),
    };
    const run = new Engine(twoCalls, { store: down, clock, services, leaseMs: LEASE_MS }).run({}, { executionId: "unreachable" });
    await settle();
    for (let ms = 0; ms < 7_000; ms += 1_000) {
      await clock.advance(1_000);
      await settle();
    }
    expect(reasons).toEqual([]);
    for (let ms = 0; ms < 2_000; ms += 1_000) {
      await clock.advance(1_000);
      await settle();
    }
    expect(reasons).toHaveLength(1);
    expect(String(reasons[0])).toContain("its lease ran out while the store could not be reached");
    expect(await run).toMatchObject({ status: "running" });
  });

  test("a worker past its lease by its own clock does not start a side effect (LeaseLostError), even before anyone takes over", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(START);
    const calls: number[] = [];
    const first = gate<number>();
    const services = {
      work: (input: { n: number }) => {
        calls.push(input.n);
        return input.n === 1 ? first.promise : input.n;
      },
    };
    const engine = new Engine(twoCalls, { store, clock, services, leaseMs: LEASE_MS });
    const run = engine.run({}, { executionId: "late" });
    await settle();
    clock.jump(LEASE_MS);
    first.open(1);
    expect(await run).toMatchObject({ status: "running" });
    expect(calls).toEqual([1]);
    await expect(engine.continue("late")).resolves.toMatchObject({ status: "completed" });
    expect(calls).toEqual([1, 1, 2]);
  });
});

test("ConflictError stays the parent of LeaseLostError (callers that handle a lost race handle a lost lease)", () => {
  expect(new LeaseLostError("x")).toBeInstanceOf(ConflictError);
});

describe("the log", () => {
  test("a worker that loses its lease writes one warn line naming the execution and the step, without a stack", async () => {
    const lines: Record<string, unknown>[] = [];
    const keep = (raw: string) => lines.push(JSON.parse(raw));
    const log = { debug: keep, info: keep, warn: keep, error: keep };
    const clock = new ManualClock(START);
    const first = gate<number>();
    const services = { work: (input: { n: number }) => (input.n === 1 ? first.promise : input.n) };
    const run = new Engine(twoCalls, { store: new MemoryStore(), clock, services, leaseMs: LEASE_MS, log }).run({}, {
      executionId: "lost",
    });
    await settle();
    clock.jump(LEASE_MS);
    first.open(1);
    await run;
    expect(lines.map(({ time: _time, error: _error, ...line }) => line)).toEqual([{
      level: "warn",
      msg: "worker lost its lease: it stops, the run goes on where the store has it",
      executionId: "lost",
      workflowId: twoCalls.id,
      step: "first",
    }]);
    expect(String(lines[0]!.error)).toContain("lost its claim");
  });
});
