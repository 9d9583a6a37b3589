import { describe, expect, test } from "bun:test";
import {
  ConfigError,
  ConflictError,
  Engine,
  loadWorkflow,
  ManualClock,
  MemoryStore,
  NotFoundError,
  resetConfig,
  type Services,
  SyncRunner,
  ValidationError,
  type WorkflowEvent,
} from "../../../mod.ts";
import { countingStore, manualClock, recordingSleep, sequentialIds } from "../../support/engine.ts";
import { linearWorkflow } from "../../support/workflows.ts";

const approvalFlow = loadWorkflow(`
id: approve_flow
name: Approve
timeout: 5
inputs:
  amount: { type: number }
steps:
  - id: start
    type: start
    next: ask
  - id: ask
    type: approval
    prompt: "Approve $input.amount?"
    next: pay
  - id: pay
    type: call
    service: pay
    output: paid
    next: finish
  - id: finish
    type: end
    result: $paid
`);

function engineFor(workflow = approvalFlow, services: Services = { pay: () => "paid" }, store = new MemoryStore()) {
  const clock = manualClock();
  return { store, clock, engine: new Engine(workflow, { store, services, clock, ids: sequentialIds("id"), sleep: recordingSleep() }) };
}

describe("checkpoints", () => {
  test("every step with side effects costs one commit and pure steps are batched into it", async () => {
    const counted = countingStore(new MemoryStore());
    const engine = new Engine(linearWorkflow(5), { store: counted.store, services: { work: (x: unknown) => x } });
    const result = await engine.run({}, { executionId: "lin" });
    expect(result.status).toBe("completed");
    // start is batched into the claim before the first call; 5 calls = 5 commits; end is in the last one.
    expect(counted.counts).toEqual({ commit: 6 });
    expect(counted.commits.map((c) => (c.entries ?? []).map((e) => e.stepId))).toEqual([
      ["start"],
      ["s0"],
      ["s1"],
      ["s2"],
      ["s3"],
      ["s4", "finish"],
    ]);
  });

  test("continuing a pending execution claims it with the first checkpoint, which carries the pure steps run before it", async () => {
    const counted = countingStore(new MemoryStore());
    const engine = new Engine(linearWorkflow(1), { store: counted.store, services: { work: (x: unknown) => x } });
    const pending = await engine.prepare({}, { executionId: "p" });
    expect(pending.status).toBe("pending");
    expect((await engine.continue("p")).status).toBe("completed");
    // prepare's save; the claim with start's entry, before the call; the end.
    expect(counted.commits.map((c) => [c.expectedRevision, c.execution.status, (c.entries ?? []).map((e) => e.stepId)])).toEqual([
      [0, "pending", []],
      [1, "running", ["start"]],
      [2, "completed", ["s0", "finish"]],
    ]);
    expect(counted.commits[1]!.events!.map((e) => e.type)).toEqual(["workflow.started", "step.started", "step.completed"]);
  });

  test("a continue that loses the claim to another worker ran only pure steps: nothing of it is stored or emitted", async () => {
    const store = new MemoryStore();
    const calls: string[] = [];
    const events: string[] = [];
    const engine = new Engine(linearWorkflow(1), {
      store,
      services: { work: (x: unknown) => (calls.push("work"), x) },
      onEvent: (event) => events.push(event.type),
    });
    await engine.prepare({}, { executionId: "race" });
    const loaded = (await store.load("race"))!;
    // Another worker claims it first (its own continue).
    await new Engine(linearWorkflow(1), { store, services: { work: (x: unknown) => x } }).continue("race");
    await expect(engine.continue("race", { loaded })).rejects.toBeInstanceOf(ConflictError);
    expect(calls).toEqual([]);
    expect(events).toEqual([]);
  });

  test("revision increases by one on every checkpoint", async () => {
    const counted = countingStore(new MemoryStore());
    await new Engine(linearWorkflow(3), { store: counted.store, services: { work: () => 1 } }).run({}, { executionId: "r" });
    expect(counted.commits.map((c) => c.expectedRevision)).toEqual([0, 1, 2, 3]);
    expect((await counted.store.load("r"))!.revision).toBe(4);
  });

  test("the stored execution records the workflow id, version and hash it started with", async () => {
    const { engine, store } = engineFor();
    await engine.run({ amount: 1 }, { executionId: "v" });
    const exec = (await store.load("v"))!;
    expect([exec.workflowId, exec.workflowVersion, exec.workflowHash]).toEqual(["approve_flow", "1.0", approvalFlow.hash]);
  });

  test("one entry per executed top-level step, in order, with its action", async () => {
    const { engine, store } = engineFor();
    await engine.run({ amount: 1 }, { executionId: "e" });
    await engine.resume("e", { approved: true });
    expect((await store.entries("e")).map((e) => [e.stepId, e.action])).toEqual([
      ["start", "completed"],
      ["ask", "halted"],
      ["ask", "completed"],
      ["pay", "completed"],
      ["finish", "completed"],
    ]);
  });
});

describe("input rules", () => {
  test("an input that breaks the rules throws ValidationError naming the input and stores nothing", async () => {
    const { engine, store } = engineFor();
    const error = await engine.run({ amount: "ten" }, { executionId: "bad" }).catch((e) => e);
    expect(error).toBeInstanceOf(ValidationError);
    expect(JSON.stringify(error.issues)).toContain("amount");
    expect(await store.load("bad")).toBeNull();
  });

  test("a __proto__ key in the input is rejected and Object.prototype stays clean", async () => {
    const { engine } = engineFor();
    const input = JSON.parse('{"amount": 1, "__proto__": {"polluted": true}}');
    await expect(engine.run(input)).rejects.toBeInstanceOf(ValidationError);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("idempotent start and resume rules", () => {
  test("running an existing execution id again returns its result without running a step", async () => {
    let calls = 0;
    const { engine } = engineFor(linearWorkflow(1), { work: () => ++calls });
    const first = await engine.run({}, { executionId: "same" });
    const second = await engine.run({}, { executionId: "same" });
    expect(second).toEqual(first);
    expect(calls).toBe(1);
  });

  test("resume of an execution that is not halted is a ConflictError", async () => {
    const { engine } = engineFor(linearWorkflow(1), { work: () => 1 });
    await engine.run({}, { executionId: "done" });
    await expect(engine.resume("done", {})).rejects.toBeInstanceOf(ConflictError);
  });

  test("resume of an unknown execution is a NotFoundError", async () => {
    await expect(engineFor().engine.resume("nobody", {})).rejects.toBeInstanceOf(NotFoundError);
  });

  test("two concurrent resumes of one halted execution run it once; the other gets ConflictError", async () => {
    let charges = 0;
    const store = new MemoryStore();
    const a = engineFor(approvalFlow, { pay: () => ++charges }, store);
    const b = engineFor(approvalFlow, { pay: () => ++charges }, store);
    await a.engine.run({ amount: 5 }, { executionId: "race" });
    const settled = await Promise.allSettled([a.engine.resume("race", { approved: true }), b.engine.resume("race", { approved: true })]);
    expect(settled.filter((s) => s.status === "fulfilled")).toHaveLength(1);
    expect((settled.find((s) => s.status === "rejected") as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
    expect(charges).toBe(1);
  });

  test("the resume that loses the race emits no event", async () => {
    const store = new MemoryStore();
    const seen: Record<string, string[]> = { a: [], b: [] };
    const engine = (name: "a" | "b") =>
      new Engine(approvalFlow, { store, services: { pay: () => 1 }, onEvent: (e) => seen[name]!.push(e.type) });
    await engine("a").run({ amount: 5 }, { executionId: "quiet" });
    seen.a = [];
    const [a, b] = await Promise.allSettled([
      engine("a").resume("quiet", { approved: true }),
      engine("b").resume("quiet", { approved: true }),
    ]);
    const loser = a.status === "rejected" ? "a" : "b";
    expect([a.status, b.status].sort()).toEqual(["fulfilled", "rejected"]);
    expect(seen[loser]).toEqual([]);
    expect(seen[loser === "a" ? "b" : "a"]![0]).toBe("workflow.resumed");
  });

  test("an engine without a store is a ConfigError", () => {
    resetConfig();
    expect(() => new Engine(approvalFlow, {})).toThrow(ConfigError);
    expect(() => new SyncRunner(approvalFlow)).toThrow(ConfigError);
  });
});

describe("workflow timeout", () => {
  test("a resume after the deadline fails the execution with the workflow timeout", async () => {
    const { engine, clock, store } = engineFor();
    await engine.run({ amount: 1 }, { executionId: "t" });
    clock.advance(6000);
    const result = await engine.resume("t", { approved: true });
    expect(result).toEqual({ status: "failed", executionId: "t", error: "TimeoutError: Workflow timeout after 5s" });
    expect((await store.load("t"))!.status).toBe("failed");
  });

  test("a service still running at the deadline is aborted through its signal", async () => {
    const slow = loadWorkflow(`
id: slow
name: Slow
timeout: 0.05
steps:
  - id: start
    type: start
    next: wait
  - id: wait
    type: call
    service: hang
    on_error: never
    next: never
  - id: never
    type: end
`);
    let aborted = false;
    let called!: () => void;
    const hanging = new Promise<void>((resolve) => (called = resolve));
    const store = new MemoryStore();
    const clock = new ManualClock();
    const engine = new Engine(slow, {
      store,
      clock,
      services: {
        hang: (_: unknown, { signal }) => {
          called();
          return new Promise((_r, reject) => signal.addEventListener("abort", () => ((aborted = true), reject(signal.reason))));
        },
      },
    });
    const running = engine.run({});
    await hanging;
    await clock.advance(50);
    const result = await running;
    expect(aborted).toBe(true);
    expect(result.error).toBe("TimeoutError: Workflow timeout after 0.05s");
  });
});

describe("run limits", () => {
  test("a run over the step limit fails with a clear error", async () => {
    const spin = loadWorkflow(`
id: spin
name: Spin
steps:
  - id: start
    type: start
    next: again
  - id: again
    type: assign
    set: { x: 1 }
    next: again
`);
    const engine = new Engine(spin, { store: new MemoryStore(), limits: { maxSteps: 50 } });
    const result = await engine.run({}, { executionId: "spin" });
    expect(result.error).toBe('ExecutionError: Run limit: more than 50 steps executed in execution "spin"');
  });

  test("a ctx over the size limit fails the step that grew it", async () => {
    const { store } = engineFor();
    const engine = new Engine(linearWorkflow(1), { store, services: { work: () => "x".repeat(2000) }, limits: { maxCtxBytes: 1000 } });
    const result = await engine.run({}, { executionId: "big" });
    expect(result.error).toMatch(/^ExecutionError: ctx is \d+ bytes after step "s0", over the limit of 1000$/);
  });

  test("in a loop, the body step whose iteration grows ctx over the limit fails, with the loop's variables counted", async () => {
    const { store } = engineFor();
    const grows = loadWorkflow(`
id: grows
name: Grows
steps:
  - { id: start, type: start, next: each }
  - id: each
    type: loop
    over: $input.sizes
    do:
      - { id: grow, type: call, service: pad, input: $item, output: blob }
    next: finish
  - { id: finish, type: end }
`);
    const seen: number[] = [];
    const services = { pad: (n: number) => (seen.push(n), "x".repeat(n)) };
    // ctx: {"input":{"sizes":[…]},"item":…,"index":…,"blob":"…"}: about 90 bytes besides the blob.
    const engine = new Engine(grows, { store, services, limits: { maxCtxBytes: 1000 } });
    const result = await engine.run({ sizes: [100, 850, 950] }, { executionId: "grows" });
    expect(seen).toEqual([100, 850, 950]);
    expect(result.error).toMatch(/^ExecutionError: ctx is \d+ bytes after step "grow", over the limit of 1000$/);
  });
});

describe("durable loops and continuations", () => {
  const batch = loadWorkflow(`
id: batch
name: Batch
steps:
  - id: start
    type: start
    next: each
  - id: each
    type: loop
    over: $input.items
    output: results
    do:
      - id: handle
        type: call
        service: handle
        input: $item
    next: finish
  - id: finish
    type: end
    result: $results
`);

  test("a run that uses up its budget checkpoints as pending and continue() goes on at the next iteration", async () => {
    const handled: number[] = [];
    const store = new MemoryStore();
    const engine = new Engine(batch, { store, services: { handle: (n: number) => (handled.push(n), n * 10) }, budgetMs: 0 });
    let result = await engine.run({ items: [1, 2, 3, 4] }, { executionId: "b" });
    let continuations = 0;
    while (result.status === "pending") {
      expect(result.yielded).toBe(true);
      expect((await store.load("b"))!.status).toBe("pending");
      result = await engine.continue("b");
      continuations++;
    }
    expect(result.output).toEqual([10, 20, 30, 40]);
    expect(handled).toEqual([1, 2, 3, 4]);
    expect(continuations).toBeGreaterThanOrEqual(3);
  });

  test("ctx keys a loop body sets reach the store through each iteration's checkpoint (continuations load them back)", async () => {
    const store = new MemoryStore();
    const sums = loadWorkflow(`
id: sums
name: Sums
steps:
  - { id: start, type: start, next: init }
  - { id: init, type: assign, set: { sum: 0, untouched: kept }, next: each }
  - id: each
    type: loop
    over: $input.items
    do:
      - { id: handle, type: call, service: handle, input: $item, output: last }
      - { id: add, type: call, service: add, input: { sum: $sum, last: $last }, output: sum }
    next: finish
  - { id: finish, type: end, result: { sum: $sum, last: $last, untouched: $untouched } }
`);
    const services = { handle: (n: number) => n * 10, add: ({ sum, last }: { sum: number; last: number }) => sum + last };
    const engine = new Engine(sums, { store, services, budgetMs: 0 });
    let result = await engine.run({ items: [1, 2, 3] }, { executionId: "sums" });
    while (result.status === "pending") result = await engine.continue("sums");
    expect(result.output).toEqual({ sum: 60, last: 30, untouched: "kept" });
  });

  test("a loop's checkpoint names the keys changed since the last one: its variables and what the body steps said", async () => {
    const { loop } = await import("../../../src/steps/loop.ts");
    const seen: (string[] | undefined)[] = [];
    const tools = {
      resolve: (value: unknown) => value,
      now: () => new Date(0),
      runSteps: async (_steps: unknown, ctx: Record<string, unknown>) => ({
        ctx: { ...ctx, total: 1 },
        output: null,
        sideEffects: true,
        changed: ["total"],
      }),
      checkpointLoop: async (cursor: { changed?: string[] }) => void seen.push(cursor.changed?.toSorted()),
    };
    const step = loop.schema.parse({ id: "each", type: "loop", over: [1, 2, 3], do: [{ id: "x", type: "assign", set: { a: 1 } }] });
    const outcome = await loop.execute(step, { ctx: {}, input: {}, scope: "e:each" } as never, tools as never);
    expect(seen).toEqual([["index", "item", "total"], ["index", "item", "total"]]);
    expect((outcome as { changed?: string[] }).changed?.toSorted()).toEqual(["break_loop", "index", "item", "iteration", "total"]);
  });

  test("a loop with side effects stores its cursor after each iteration", async () => {
    const counted = countingStore(new MemoryStore());
    const engine = new Engine(batch, { store: counted.store, services: { handle: (n: number) => n } });
    await engine.run({ items: [1, 2, 3] }, { executionId: "c" });
    const cursors = counted.commits.map((c) => c.execution.loop?.index ?? null);
    expect(cursors).toEqual([null, 1, 2, null]);
  });
});

describe("events", () => {
  test("a run emits workflow and step events in order with increasing seq, and stores the same events", async () => {
    const events: WorkflowEvent[] = [];
    const store = new MemoryStore();
    const engine = new Engine(linearWorkflow(1), {
      store,
      services: { work: () => 7 },
      clock: manualClock(),
      onEvent: (e) => events.push(e),
    });
    await engine.run({}, { executionId: "ev" });
    expect(events.map((e) => `${e.seq}:${e.type}:${e.data.stepId ?? ""}`)).toEqual([
      "1:workflow.started:",
      "2:step.started:start",
      "3:step.completed:start",
      "4:step.started:s0",
      "5:step.completed:s0",
      "6:step.started:finish",
      "7:step.completed:finish",
      "8:workflow.completed:",
    ]);
    expect((await store.events("ev")).map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    expect(events.every((e) => e.data.executionId === "ev")).toBe(true);
  });

  test("a throwing event handler does not break the run", async () => {
    const engine = new Engine(linearWorkflow(1), {
      store: new MemoryStore(),
      services: { work: () => 1 },
      onEvent: () => {
        throw new Error("bad handler");
      },
    });
    expect((await engine.run({})).status).toBe("completed");
  });
});
