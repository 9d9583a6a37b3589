import { describe, expect, test } from "bun:test";
import { z } from "zod";
import {
  Engine,
  loadWorkflow,
  ManualClock,
  MemoryStore,
  NonRetryableError,
  proceed,
  RetryAfterError,
  runAgain,
  type Services,
  StepRegistry,
} from "../../../mod.ts";
import { manualClock, recordingSleep, sequentialIds } from "../../support/engine.ts";

function setup(yaml: string, services: Services = {}, extra: Record<string, unknown> = {}) {
  const store = new MemoryStore();
  const clock = manualClock();
  const sleep = recordingSleep();
  const registry = extra.registry as StepRegistry | undefined;
  const workflow = loadWorkflow(yaml, registry ? { registry } : undefined);
  const engine = new Engine(workflow, { store, services, clock, ids: sequentialIds("e"), sleep, ...extra });
  return { store, clock, sleep, workflow, engine };
}

const wf = (steps: string, inputs = "") => `
id: test_wf
name: Test
${inputs}
steps:
  - id: start
    type: start
    next: ${steps.trim().match(/id: (\S+)/)![1]}
${steps}`;

describe("start and end", () => {
  test("start copies the run input into ctx.input", async () => {
    const { engine, store } = setup(wf(`
  - id: finish
    type: end
`));
    const result = await engine.run({ a: 1 }, { executionId: "x1" });
    expect(result.status).toBe("completed");
    expect((await store.load("x1"))!.ctx.input).toEqual({ a: 1 });
  });

  test("end without result puts the whole ctx into the output", async () => {
    const { engine } = setup(wf(`
  - id: set
    type: assign
    set: { a: 1 }
    next: finish
  - id: finish
    type: end
`));
    const result = await engine.run({ k: "v" });
    expect(result.output).toEqual({ input: { k: "v" }, a: 1 });
  });

  test("end resolves result with references keeping their types", async () => {
    const { engine } = setup(wf(`
  - id: finish
    type: end
    result: { n: $input.n, greeting: "hi $input.name", flag: $input.flag }
`));
    const result = await engine.run({ n: 3, name: "Ann", flag: false });
    expect(result.output).toEqual({ n: 3, greeting: "hi Ann", flag: false });
  });
});

describe("assign", () => {
  test("a value may reference a key set earlier in the same step", async () => {
    const { engine } = setup(wf(`
  - id: set
    type: assign
    set: { a: 2, b: $a, c: "a=$a" }
    next: finish
  - id: finish
    type: end
    result: { b: $b, c: $c }
`));
    expect((await engine.run({})).output).toEqual({ b: 2, c: "a=2" });
  });

  test("an assign key __proto__ is rejected and Object.prototype stays clean", async () => {
    const { engine } = setup(
      `{"id":"p","name":"p","steps":[{"id":"start","type":"start","next":"set"},{"id":"set","type":"assign","set":{"ok":1}}]}`,
    );
    expect((await engine.run({})).status).toBe("completed");
    const bad = validateOrError(
      `{"id":"p","name":"p","steps":[{"id":"start","type":"start","next":"set"},{"id":"set","type":"assign","set":{"__proto__":{"polluted":true}}}]}`,
    );
    expect(bad).toContain("__proto__");
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

function validateOrError(source: string): string {
  try {
    loadWorkflow(source);
    return "";
  } catch (error) {
    return String((error as Error).message);
  }
}

describe("router", () => {
  const yaml = wf(`
  - id: route
    type: router
    routes:
      - when: { field: input.n, op: gt, value: 10 }
        then: big
      - when: { field: input.n, op: gt, value: 5 }
        then: medium
    default: small
  - id: big
    type: end
    result: big
  - id: medium
    type: end
    result: medium
  - id: small
    type: end
    result: small
`);

  test("the first matching route wins", async () => {
    expect((await setup(yaml).engine.run({ n: 20 })).output).toBe("big");
  });

  test("no matching route goes to default", async () => {
    expect((await setup(yaml).engine.run({ n: 1 })).output).toBe("small");
  });

  test("no match and no default fails naming the step", async () => {
    const { engine } = setup(wf(`
  - id: route
    type: router
    routes:
      - when: { field: input.n, op: eq, value: 1 }
        then: finish
  - id: finish
    type: end
`));
    const result = await engine.run({ n: 2 });
    expect(result.status).toBe("failed");
    expect(result.error).toBe('ExecutionError: Router "route" matched no route and has no default');
  });
});

describe("call", () => {
  test("a service receives the resolved input and its context", async () => {
    const seen: unknown[] = [];
    const { engine } = setup(
      wf(`
  - id: ask
    type: call
    service: Svc
    method: go
    input: { id: $input.id }
    output: answer
    next: finish
  - id: finish
    type: end
    result: $answer
`),
      {
        Svc: {
          go: (input, ctx) => {
            seen.push(input, { ...ctx, signal: ctx.signal instanceof AbortSignal });
            return { ok: true };
          },
        },
      },
    );
    const result = await engine.run({ id: 7 }, { executionId: "ex-1" });
    expect(result.output).toEqual({ ok: true });
    expect(seen).toEqual([{ id: 7 }, { executionId: "ex-1", stepId: "ask", attempt: 1, signal: true, idempotencyKey: "ex-1:ask:1" }]);
  });

  test("a plain function service is called without a method", async () => {
    const { engine } = setup(
      wf(`
  - id: ask
    type: call
    service: double
    input: $input.n
    output: d
    next: finish
  - id: finish
    type: end
    result: $d
`),
      { double: (n: number) => n * 2 },
    );
    expect((await engine.run({ n: 21 })).output).toBe(42);
  });

  test("retries wait retry_delay * retry_backoff^(k-1) through the injected sleep", async () => {
    let calls = 0;
    const { engine, sleep } = setup(
      wf(`
  - id: flaky
    type: call
    service: Svc
    method: go
    retries: 3
    retry_delay: 1
    retry_backoff: 2
    output: r
    next: finish
  - id: finish
    type: end
    result: $r
`),
      { Svc: { go: (_: unknown, { attempt }) => (++calls < 4 ? Promise.reject(new Error(`fail ${attempt}`)) : attempt) } },
    );
    const result = await engine.run({});
    expect(result.output).toBe(4);
    expect(sleep.waits).toEqual([1000, 2000, 4000]);
  });

  test("after the last attempt the step fails with the last error", async () => {
    const { engine, store } = setup(
      wf(`
  - id: flaky
    type: call
    service: Svc
    method: go
    retries: 1
    next: finish
  - id: finish
    type: end
`),
      { Svc: { go: (_: unknown, { attempt }) => Promise.reject(new TypeError(`boom ${attempt}`)) } },
    );
    const result = await engine.run({}, { executionId: "f1" });
    expect(result).toEqual({ status: "failed", executionId: "f1", error: "TypeError: boom 2" });
    const entries = await store.entries("f1");
    expect(entries.at(-1)).toMatchObject({ stepId: "flaky", action: "failed", error: "TypeError: boom 2" });
  });

  test("a NonRetryableError fails the step at once, whatever attempts are left, and on_error still applies", async () => {
    const attempts: number[] = [];
    const { engine, sleep } = setup(
      wf(`
  - id: charge
    type: call
    service: charge
    retries: 3
    on_error: finish
    next: finish
  - id: finish
    type: end
    result: $_last_error
`),
      {
        charge: (_: unknown, { attempt }) => {
          attempts.push(attempt);
          throw new NonRetryableError("card declined");
        },
      },
    );
    const result = await engine.run({});
    expect(result.output).toEqual({ step: "charge", message: "card declined", class: "NonRetryableError" });
    expect(attempts).toEqual([1]);
    expect(sleep.waits).toEqual([]);
  });

  test("a RetryAfterError makes the next attempt wait its seconds instead of the backoff", async () => {
    const { engine, sleep } = setup(
      wf(`
  - id: charge
    type: call
    service: charge
    retries: 2
    retry_delay: 1
    output: r
    next: finish
  - id: finish
    type: end
    result: $r
`),
      { charge: (_: unknown, { attempt }) => (attempt === 1 ? Promise.reject(new RetryAfterError(45, "rate limited")) : attempt) },
    );
    expect((await engine.run({})).output).toBe(2);
    expect(sleep.waits).toEqual([45_000]);
  });

  test("a RetryAfterError with no attempt left fails the step with it", async () => {
    const { engine } = setup(
      wf(`
  - id: charge
    type: call
    service: charge
    next: finish
  - id: finish
    type: end
`),
      { charge: () => Promise.reject(new RetryAfterError(45, "rate limited")) },
    );
    expect((await engine.run({}, { executionId: "ra" })).error).toBe("RetryAfterError: rate limited");
  });

  test("RetryAfterError refuses a wait that is not a finite number of seconds >= 0", () => {
    expect(() => new RetryAfterError(-1)).toThrow("RetryAfterError needs a finite number of seconds >= 0, got -1");
    expect(() => new RetryAfterError(Number.NaN)).toThrow(TypeError);
  });

  test("an attempt over its timeout is aborted through its signal", async () => {
    let aborted = false;
    const time = new ManualClock();
    const { engine } = setup(
      wf(`
  - id: slow
    type: call
    service: Svc
    method: go
    timeout: 0.02
    next: finish
  - id: finish
    type: end
`),
      {
        Svc: {
          go: (_: unknown, { signal }) =>
            new Promise((resolve) => {
              signal.addEventListener("abort", () => (aborted = true));
              void time.sleep(2000).then(resolve);
            }),
        },
      },
      { clock: time },
    );
    const running = engine.run({});
    await time.waitForTimers(2);
    await time.advance(20);
    const result = await running;
    expect(result.status).toBe("failed");
    expect(result.error).toBe('TimeoutError: Step "slow" timed out after 0.02s (attempt 1)');
    expect(aborted).toBe(true);
  });

  test("an unknown service fails naming the service and the step", async () => {
    const { engine } = setup(wf(`
  - id: ask
    type: call
    service: Nope
    method: go
    next: finish
  - id: finish
    type: end
`));
    expect((await engine.run({})).error).toBe('ExecutionError: Unknown service "Nope" (step "ask" calls Nope.go)');
  });

  test("an unknown method fails naming the method and the service", async () => {
    const { engine } = setup(
      wf(`
  - id: ask
    type: call
    service: Svc
    method: nope
    next: finish
  - id: finish
    type: end
`),
      { Svc: { go: () => 1 } },
    );
    expect((await engine.run({})).error).toBe('ExecutionError: Unknown method "nope" of service "Svc" (step "ask")');
  });

  test("a non-JSON service result is a step error naming the step", async () => {
    const { engine } = setup(
      wf(`
  - id: ask
    type: call
    service: Svc
    method: go
    output: r
    next: finish
  - id: finish
    type: end
`),
      { Svc: { go: () => ({ when: new Date(0) }) } },
    );
    const result = await engine.run({});
    expect(result.status).toBe("failed");
    expect(result.error).toBe('ExecutionError: The result of Svc.go (step "ask") is not JSON: $.when is a Date');
  });
});

describe("loop", () => {
  test("foreach collects the last body step's output per item and removes the loop variables", async () => {
    const { engine } = setup(
      wf(`
  - id: each
    type: loop
    over: $input.items
    as: item
    index_as: i
    output: doubled
    do:
      - id: double
        type: call
        service: double
        input: $item
    next: finish
  - id: finish
    type: end
`),
      { double: (n: number) => n * 2 },
    );
    const result = await engine.run({ items: [1, 2, 3] });
    expect(result.output).toEqual({ input: { items: [1, 2, 3] }, doubled: [2, 4, 6] });
  });

  test("a loop variable that shadowed a ctx value is restored after the loop", async () => {
    const { engine } = setup(wf(`
  - id: set
    type: assign
    set: { item: original }
    next: each
  - id: each
    type: loop
    over: [a, b]
    output: seen
    do:
      - id: copy
        type: assign
        set: { last: $item }
    next: finish
  - id: finish
    type: end
    result: { item: $item, last: $last, seen: $seen }
`));
    expect((await engine.run({})).output).toEqual({ item: "original", last: "b", seen: [{ last: "a" }, { last: "b" }] });
  });

  test("a list longer than max fails before any iteration", async () => {
    let calls = 0;
    const { engine } = setup(
      wf(`
  - id: each
    type: loop
    over: $input.items
    max: 2
    do:
      - id: count
        type: call
        service: count
    next: finish
  - id: finish
    type: end
`),
      { count: () => ++calls },
    );
    const result = await engine.run({ items: [1, 2, 3] });
    expect(result.error).toBe('ExecutionError: Loop "each": 3 items is more than max 2');
    expect(calls).toBe(0);
  });

  test("over that is not a list fails naming the loop", async () => {
    const { engine } = setup(wf(`
  - id: each
    type: loop
    over: $input.items
    do:
      - id: noop
        type: assign
        set: { x: 1 }
    next: finish
  - id: finish
    type: end
`));
    expect((await engine.run({ items: "abc" })).error).toBe('ExecutionError: Loop "each": `over` must resolve to a list, got string');
  });

  test("a while loop counts iterations from 1 and stops when the condition fails", async () => {
    const { engine } = setup(wf(`
  - id: repeat
    type: loop
    while: { field: iteration, op: lte, value: 3 }
    output: laps
    do:
      - id: lap
        type: assign
        set: { lap: $iteration }
    next: finish
  - id: finish
    type: end
    result: $laps
`));
    expect((await engine.run({})).output).toEqual([{ lap: 1 }, { lap: 2 }, { lap: 3 }]);
  });

  test("break_loop set by a body stops the loop", async () => {
    const { engine } = setup(wf(`
  - id: repeat
    type: loop
    while: { field: iteration, op: lte, value: 100 }
    output: laps
    do:
      - id: lap
        type: assign
        set: { n: $iteration }
      - id: stop
        type: router
        routes:
          - when: { field: n, op: gte, value: 2 }
            then: brk
        default: __FINISHED__
      - id: brk
        type: assign
        set: { break_loop: true }
    next: finish
  - id: finish
    type: end
    result: { laps: $laps, n: $n }
`));
    const result = await engine.run({});
    // Iteration 1 ends at the router (its output is the route taken); iteration 2 ends at brk.
    expect(result.output).toEqual({ laps: [{ route: "default", next: "__FINISHED__" }, { break_loop: true }], n: 2 });
  });

  test("more than max iterations goes to on_exhausted", async () => {
    const { engine } = setup(wf(`
  - id: repeat
    type: loop
    while: { field: iteration, op: gte, value: 1 }
    max: 3
    on_exhausted: gave_up
    do:
      - id: lap
        type: assign
        set: { n: $iteration }
    next: finish
  - id: gave_up
    type: end
    result: { exhausted: true, n: $n }
  - id: finish
    type: end
`));
    expect((await engine.run({})).output).toEqual({ exhausted: true, n: 3 });
  });

  test("body steps get entries named <loopId>:<bodyId> and idempotency keys with the index", async () => {
    const keys: string[] = [];
    const { engine, store } = setup(
      wf(`
  - id: each
    type: loop
    over: [a, b]
    do:
      - id: visit
        type: call
        service: visit
    next: finish
  - id: finish
    type: end
`),
      { visit: (_: unknown, ctx) => void keys.push(ctx.idempotencyKey) },
    );
    await engine.run({}, { executionId: "L" });
    expect(keys).toEqual(["L:each[0]:visit:1", "L:each[1]:visit:1"]);
    expect((await store.entries("L")).map((e) => e.stepId)).toEqual(["start", "each:visit", "each:visit", "each", "finish"]);
  });
});

describe("parallel", () => {
  const fanOut = (wait: string) =>
    wf(`
  - id: fan
    type: parallel
    wait: ${wait}
    output: outs
    branches:
      - id: a
        type: call
        service: A
        output: a
      - id: b
        type: call
        service: B
        output: b
    next: finish
  - id: finish
    type: end
`);
  // Services that take `ms` of a clock that moves itself when slept on: deterministic, and no real waiting.
  const time = new ManualClock("2026-01-01T00:00:00.000Z", { autoAdvance: true });
  const slow = (ms: number, value: unknown) => () => time.sleep(ms).then(() => value);

  test("all: ctx changes of every branch are merged and outputs listed in branch order", async () => {
    const { engine } = setup(fanOut("all"), { A: slow(5, 1), B: slow(1, 2) }, { clock: time });
    expect((await engine.run({})).output).toEqual({ input: {}, a: 1, b: 2, outs: [1, 2] });
  });

  test("all: a failing branch fails the step naming the branch", async () => {
    const { engine } = setup(fanOut("all"), { A: () => 1, B: () => Promise.reject(new Error("nope")) });
    expect((await engine.run({})).error).toBe('ExecutionError: Parallel "fan": branch "b" failed: Error: nope');
  });

  test("any: the first success wins and only its changes are merged", async () => {
    const { engine } = setup(fanOut("any"), { A: slow(30, "slow"), B: slow(1, "fast") }, { clock: time });
    expect((await engine.run({})).output).toEqual({ input: {}, b: "fast", outs: [null, "fast"] });
  });

  test("N: enough successes tolerate a failed branch (null output)", async () => {
    const { engine } = setup(fanOut("1"), { A: () => Promise.reject(new Error("x")), B: () => 2 });
    expect((await engine.run({})).output).toEqual({ input: {}, b: 2, outs: [null, 2] });
  });
});

describe("transform", () => {
  test("ops apply in order to the input path into output", async () => {
    const { engine } = setup(wf(`
  - id: shape
    type: transform
    input: input.items
    expression:
      select: { ok: true }
      pluck: n
      sort: null
    output: ns
    next: finish
  - id: finish
    type: end
    result: $ns
`));
    expect((await engine.run({ items: [{ n: 3, ok: true }, { n: 1, ok: true }, { n: 2, ok: false }] })).output).toEqual([1, 3]);
  });

  test("a list op on a mapping fails naming the step and the op", async () => {
    const { engine } = setup(wf(`
  - id: shape
    type: transform
    input: input
    expression: { first: 1 }
    output: x
    next: finish
  - id: finish
    type: end
`));
    expect((await engine.run({ a: 1 })).error).toBe('ExecutionError: Transform "shape": "first" needs a list, got a mapping');
  });
});

describe("halt", () => {
  const yaml = wf(`
  - id: ask
    type: halt
    reason: "Need a value for $input.name"
    data: { field: value }
    resume_step: use
    next: never
  - id: never
    type: end
    result: wrong
  - id: use
    type: end
    result: $response
`);

  test("halts with reason, halted_at and the resolved data", async () => {
    const { engine } = setup(yaml);
    const result = await engine.run({ name: "x" }, { executionId: "h" });
    expect(result).toEqual({
      status: "halted",
      executionId: "h",
      halt: {
        data: { reason: "Need a value for x", halted_at: "2026-01-01T00:00:00.000Z", field: "value" },
        prompt: "Need a value for x",
        resumeStep: "use",
      },
    });
  });

  test("resume puts the response in ctx.response and continues at resume_step", async () => {
    const { engine } = setup(yaml);
    await engine.run({ name: "x" }, { executionId: "h" });
    expect(await engine.resume("h", { response: { v: 42 } })).toEqual({ status: "completed", executionId: "h", output: { v: 42 } });
  });
});

describe("approval", () => {
  const yaml = wf(`
  - id: approve
    type: approval
    prompt: "Approve $input.what?"
    context: { what: $input.what }
    approvers: [boss]
    timeout: 60
    on_reject: no
    on_timeout: late
    next: yes
  - id: yes
    type: end
    result: { decision: yes, approved: $approved }
  - id: no
    type: end
    result: no
  - id: late
    type: end
    result: late
`);

  test("first entry halts with the approval request", async () => {
    const result = await setup(yaml).engine.run({ what: "lunch" }, { executionId: "a" });
    expect(result.halt).toEqual({
      data: {
        type: "approval",
        prompt: "Approve lunch?",
        context: { what: "lunch" },
        approvers: ["boss"],
        timeout: 60,
        requested_at: "2026-01-01T00:00:00.000Z",
        expires_at: "2026-01-01T00:01:00.000Z",
      },
      prompt: "Approve lunch?",
      resumeStep: "approve",
      wakeAt: "2026-01-01T00:01:00.000Z",
    });
  });

  test("approved continues at next and the decision is consumed", async () => {
    const { engine } = setup(yaml);
    await engine.run({ what: "x" }, { executionId: "a" });
    expect((await engine.resume("a", { approved: true })).output).toEqual({ decision: "yes", approved: null });
  });

  test("rejected goes to on_reject", async () => {
    const { engine } = setup(yaml);
    await engine.run({ what: "x" }, { executionId: "a" });
    expect((await engine.resume("a", { approved: false })).output).toBe("no");
  });

  test("rejected without on_reject fails with Rejected", async () => {
    const { engine } = setup(wf(`
  - id: approve
    type: approval
    prompt: ok?
    next: finish
  - id: finish
    type: end
`));
    await engine.run({}, { executionId: "a" });
    expect((await engine.resume("a", { approved: false })).error).toBe("ExecutionError: Rejected");
  });

  test("an answer after the timeout takes on_timeout even when approved", async () => {
    const { engine, clock } = setup(yaml);
    await engine.run({ what: "x" }, { executionId: "a" });
    clock.advance(61_000);
    expect((await engine.resume("a", { approved: true })).output).toBe("late");
  });

  test("a resume without a decision halts again with the same request", async () => {
    const { engine, clock } = setup(yaml);
    const first = await engine.run({ what: "x" }, { executionId: "a" });
    clock.advance(1000);
    const again = await engine.resume("a", { response: "hello" });
    expect(again.status).toBe("halted");
    expect(again.halt!.data).toEqual(first.halt!.data);
  });
});

describe("workflow (sub-workflow)", () => {
  const child = loadWorkflow(`
id: child_wf
name: Child
steps:
  - id: start
    type: start
    next: ask
  - id: ask
    type: approval
    prompt: "Child asks about $input.x"
    next: finish
  - id: finish
    type: end
    result: { got: $input.x }
`);
  const parentYaml = wf(`
  - id: sub
    type: workflow
    workflow_id: child_wf
    input: { x: $input.x }
    output: child_result
    next: finish
  - id: finish
    type: end
    result: $child_result
`);

  test("a halted child halts the parent, and resuming the parent resumes the same child", async () => {
    const { engine, store } = setup(parentYaml, {}, { workflows: [child] });
    const halted = await engine.run({ x: 5 }, { executionId: "P" });
    expect(halted.status).toBe("halted");
    expect(halted.halt!.prompt).toBe("Child asks about 5");
    expect((await store.load("P:sub"))!.status).toBe("halted");
    const done = await engine.resume("P", { approved: true });
    expect(done.output).toEqual({ got: 5 });
    expect((await store.load("P:sub"))!.status).toBe("completed");
  });

  test("an unregistered child workflow fails the step naming it", async () => {
    const { engine } = setup(parentYaml, {}, { workflows: [] });
    expect((await engine.run({ x: 1 }, { executionId: "P" })).error).toBe('ExecutionError: Unknown workflow "child_wf" (child P:sub)');
  });
});

describe("on_error", () => {
  test("the failing step's changes are discarded and _last_error is set", async () => {
    const { engine } = setup(
      wf(`
  - id: pay
    type: call
    service: pay
    output: paid
    on_error: recover
    next: finish
  - id: recover
    type: end
  - id: finish
    type: end
`),
      { pay: () => Promise.reject(new RangeError("declined")) },
    );
    expect((await engine.run({})).output).toEqual({ input: {}, _last_error: { step: "pay", message: "declined", class: "RangeError" } });
  });

  test("a loop routed to on_error loses every change it made, earlier iterations included", async () => {
    const { engine } = setup(
      wf(`
  - id: each
    type: loop
    over: [1, 2, 3]
    do:
      - id: mark
        type: assign
        set: { marked: $item }
      - id: work
        type: call
        service: work
    on_error: recover
    next: finish
  - id: recover
    type: end
  - id: finish
    type: end
`),
      { work: (_: unknown, ctx) => (ctx.idempotencyKey.includes("[2]") ? Promise.reject(new Error("third")) : 1) },
    );
    const output = (await engine.run({})).output as Record<string, unknown>;
    expect(Object.keys(output).sort()).toEqual(["_last_error", "input"]);
    expect(output._last_error).toMatchObject({ step: "each" });
  });
});

describe("loop iterations that end through on_error", () => {
  const quotes = (fallbackNext: string) =>
    wf(`
  - id: each
    type: loop
    over: [A, B, C]
    output: quotes
    do:
      - id: quote
        type: call
        service: quote
        input: { sku: $item }
        output: quote
        on_error: fallback
        next: __FINISHED__
      - id: fallback
        type: assign
        set: { quote: { sku: $item, price: 0 } }
        next: ${fallbackNext}
    next: finish
  - id: finish
    type: end
    result: { quotes: $quotes }
`);
  const services = {
    quote: (input: { sku: string }) => (input.sku === "B" ? Promise.reject(new Error("no price")) : { sku: input.sku, price: 5 }),
  };

  test("an iteration whose step failed yields null in the loop's output, whatever its on_error handler returns", async () => {
    const { engine } = setup(quotes("__FINISHED__"), services as Services);
    const output = (await engine.run({})).output as Record<string, unknown>;
    expect(output.quotes).toEqual([{ sku: "A", price: 5 }, null, { sku: "C", price: 5 }]);
  });

  test("an on_error of __FINISHED__ yields null, not the output of the step before the failure", async () => {
    const { engine } = setup(
      wf(`
  - id: each
    type: loop
    over: [1, 2]
    as: n
    output: outs
    do:
      - id: mark
        type: assign
        set: { marked: $n }
      - id: work
        type: call
        service: work
        on_error: __FINISHED__
    next: finish
  - id: finish
    type: end
    result: $outs
`),
      { work: (_input: unknown, ctx) => (ctx.idempotencyKey.includes("[1]") ? Promise.reject(new Error("second")) : "ok") },
    );
    expect((await engine.run({})).output).toEqual(["ok", null]);
  });

  test("sum over a loop output with a failed iteration is an error naming the item", async () => {
    const { engine } = setup(
      quotes("__FINISHED__").replace(
        "    next: finish\n  - id: finish",
        `    next: total
  - id: total
    type: transform
    input: quotes
    expression: { sum: price }
    output: total
    next: finish
  - id: finish`,
      ),
      services as Services,
    );
    const result = await engine.run({});
    expect(result.status).toBe("failed");
    expect(result.error).toBe('ExecutionError: Transform "total": "sum" needs numbers, item 1 is null');
  });
});

describe("custom step types", () => {
  test("a registered step type validates its keys and runs like a built-in", async () => {
    const registry = new StepRegistry();
    registry.register("shout", {
      schema: z.object({ text: z.string(), output: z.string() }),
      execute: (step, state, tools) =>
        proceed({ ctx: { ...state.ctx, [step.output as string]: String(tools.resolve(step.text)).toUpperCase() } }),
    });
    const yaml = wf(`
  - id: loud
    type: shout
    text: "hi $input.name"
    output: loud
    next: finish
  - id: finish
    type: end
    result: $loud
`);
    const { engine } = setup(yaml, {}, { registry });
    expect((await engine.run({ name: "bo" })).output).toBe("HI BO");
    expect(() => loadWorkflow(yaml.replace("text:", "txt:"), { registry })).toThrow(/txt/);
  });

  const once = (type: string) =>
    wf(`
  - id: custom
    type: ${type}
    output: out
    next: finish
  - id: finish
    type: end
    result: $out
`);

  test("a custom step's retry wait is slept in process, even over scheduleRetriesOverMs", async () => {
    const registry = new StepRegistry();
    registry.register("patient", {
      schema: z.object({ output: z.string() }),
      execute: async (_step, state, tools) => {
        const later = await tools.waitToRetry(60_000, 2, new Error("busy"));
        return proceed({ ctx: { ...state.ctx, out: later ?? "slept" } });
      },
    });
    const { engine, sleep } = setup(once("patient"), {}, { registry, scheduleRetriesOverMs: 1_000 });
    expect(await engine.run({})).toMatchObject({ status: "completed", output: "slept" });
    expect(sleep.waits).toEqual([60_000]);
  });

  test("a custom step returning runAgain ends the call pending and runs again in a continuation", async () => {
    const registry = new StepRegistry();
    let calls = 0;
    registry.register("twice", {
      schema: z.object({ output: z.string() }),
      execute: (_step, state) =>
        ++calls === 1 ? runAgain({ until: "2026-01-01T00:01:00.000Z" }) : proceed({ ctx: { ...state.ctx, out: calls } }),
    });
    const { engine, store, clock } = setup(once("twice"), {}, { registry });
    const first = await engine.run({}, { executionId: "again-1" });
    expect(first).toEqual({ status: "pending", executionId: "again-1", yielded: true, notBefore: "2026-01-01T00:01:00.000Z" });
    expect((await store.load("again-1"))!.recoverTo).toBe("custom");
    clock.advance(60_000);
    expect(await engine.continue("again-1")).toMatchObject({ status: "completed", output: 2 });
  });

  test("runAgain inside a loop body fails the step: only a top-level step may end the call", async () => {
    const registry = new StepRegistry();
    registry.register("restless", { schema: z.object({}), execute: () => runAgain() });
    const { engine } = setup(
      wf(`
  - id: each
    type: loop
    over: [1]
    as: item
    do:
      - id: inner
        type: restless
    next: finish
  - id: finish
    type: end
`),
      {},
      { registry },
    );
    const result = await engine.run({});
    expect(result).toMatchObject({ status: "failed" });
    expect(result.error).toContain('Step "inner" cannot end the call inside a loop body or a parallel branch');
  });
});
