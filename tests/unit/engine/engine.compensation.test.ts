// Compensation (sagas): `compensate:` on call and http steps, run newest first after a failure or a cancel.
import { describe, expect, test } from "bun:test";
import {
  ConflictError,
  Engine,
  leaseWarnings,
  loadWorkflow,
  ManualClock,
  MemoryStore,
  type Services,
  ValidationError,
  workflowDiagram,
} from "../../../mod.ts";
import { workflowGraph } from "../../../src/diagram/graph.ts";
import type { Json } from "../../../src/types.ts";

const START = "2026-03-01T00:00:00.000Z";

const booking = loadWorkflow(`
id: booking
name: Booking
timeout: 60
steps:
  - id: start
    type: start
    next: reserve
  - id: reserve
    type: call
    service: hotel
    method: reserve
    input: { nights: $input.nights }
    output: room
    compensate: { service: hotel, method: release, input: { room: $room.id } }
    next: charge
  - id: charge
    type: call
    service: payments
    method: charge
    input: { amount: 100 }
    output: payment
    compensate: { service: payments, method: refund, input: { payment: $payment.id }, retries: 2, retry_delay: 1 }
    next: ask
  - id: ask
    type: approval
    prompt: confirm?
    next: ship
  - id: ship
    type: call
    service: shipping
    next: finish
  - id: finish
    type: end
`);

interface Log {
  calls: { name: string; input: Json; key: string }[];
}

function services(log: Log, overrides: Partial<Record<string, (input: Json) => unknown>> = {}): Services {
  const method = (name: string) => (input: Json, context: { idempotencyKey: string }) => {
    log.calls.push({ name, input, key: context.idempotencyKey });
    const override = overrides[name];
    return override ? override(input) : { id: `${name}-1` };
  };
  return {
    hotel: { reserve: method("reserve"), release: method("release") },
    payments: { charge: method("charge"), refund: method("refund") },
    shipping: method("ship"),
  };
}

function failingShip(): Partial<Record<string, (input: Json) => unknown>> {
  return {
    ship: () => {
      throw new Error("no courier");
    },
  };
}

describe("compensation after a failure", () => {
  test("the compensations of completed steps run newest first, with inputs resolved from each step's output", async () => {
    const store = new MemoryStore();
    const log: Log = { calls: [] };
    const engine = new Engine(booking, { store, services: services(log, failingShip()), clock: new ManualClock(START) });
    await engine.run({ nights: 2 }, { executionId: "b1" });
    const result = await engine.resume("b1", { approved: true });
    expect(result).toEqual({ status: "failed", executionId: "b1", error: "Error: no courier", compensated: true });
    expect(log.calls.map((c) => [c.name, c.input])).toEqual([
      ["reserve", { nights: 2 }],
      ["charge", { amount: 100 }],
      ["ship", null],
      ["refund", { payment: "charge-1" }],
      ["release", { room: "reserve-1" }],
    ]);
  });

  test("each compensation is recorded as an entry and a step.compensated event, and the run fails after them", async () => {
    const store = new MemoryStore();
    const engine = new Engine(booking, { store, services: services({ calls: [] }, failingShip()), clock: new ManualClock(START) });
    await engine.run({ nights: 2 }, { executionId: "b2" });
    await engine.resume("b2", { approved: true });
    const entries = (await store.entries("b2")).filter((e) => e.action === "compensated");
    expect(entries.map((e) => [e.stepId, e.output])).toEqual([["charge", { id: "refund-1" }], ["reserve", { id: "release-1" }]]);
    const types = (await store.events("b2")).map((e) => e.type);
    expect(types.slice(-4)).toEqual(["workflow.compensating", "step.compensated", "step.compensated", "workflow.failed"]);
    const exec = (await store.load("b2"))!;
    expect([exec.status, exec.compensated, exec.compensating, exec.compensations]).toEqual(["failed", true, null, []]);
  });

  test("a compensation's input is resolved and stored when its step completes", async () => {
    const store = new MemoryStore();
    const engine = new Engine(booking, { store, services: services({ calls: [] }), clock: new ManualClock(START) });
    await engine.run({ nights: 2 }, { executionId: "b3" });
    const exec = (await store.load("b3"))!;
    expect(exec.compensations.map((c) => [c.stepId, c.key, c.resolved])).toEqual([
      ["reserve", "b3:reserve:1:compensate", { room: "reserve-1" }],
      ["charge", "b3:charge:1:compensate", { payment: "charge-1" }],
    ]);
  });

  test("a completed run keeps no compensations", async () => {
    const store = new MemoryStore();
    const engine = new Engine(booking, { store, services: services({ calls: [] }), clock: new ManualClock(START) });
    await engine.run({ nights: 2 }, { executionId: "b9" });
    const result = await engine.resume("b9", { approved: true });
    expect(result.status).toBe("completed");
    expect((await store.load("b9"))?.compensations).toEqual([]);
  });

  test("a compensation that fails once is retried and the run ends compensated", async () => {
    const store = new MemoryStore();
    const log: Log = { calls: [] };
    let refunds = 0;
    const overrides = {
      ...failingShip(),
      refund: () => {
        if (++refunds === 1) throw new Error("payments busy");
        return { refunded: true };
      },
    };
    const engine = new Engine(booking, { store, services: services(log, overrides), clock: new ManualClock(START, { autoAdvance: true }) });
    await engine.run({ nights: 2 }, { executionId: "b4" });
    const result = await engine.resume("b4", { approved: true });
    expect(result.compensated).toBe(true);
    expect(log.calls.filter((c) => c.name === "refund").map((c) => c.key)).toEqual(["b4:charge:1:compensate", "b4:charge:1:compensate"]);
    const retrying = (await store.events("b4")).find((e) => e.type === "step.retrying");
    expect(retrying?.data).toMatchObject({ stepId: "charge", attempt: 2, error: "Error: payments busy", compensate: true });
    expect((await store.entries("b4")).find((e) => e.action === "compensated" && e.stepId === "charge")?.attempt).toBe(2);
  });

  test("a compensation that fails after its retries does not stop the others, and the run ends compensated: false", async () => {
    const store = new MemoryStore();
    const log: Log = { calls: [] };
    const overrides = {
      ...failingShip(),
      refund: () => {
        throw new Error("refunds closed");
      },
    };
    const engine = new Engine(booking, { store, services: services(log, overrides), clock: new ManualClock(START, { autoAdvance: true }) });
    await engine.run({ nights: 2 }, { executionId: "b5" });
    const result = await engine.resume("b5", { approved: true });
    expect(result).toMatchObject({ status: "failed", error: "Error: no courier", compensated: false });
    expect(log.calls.map((c) => c.name)).toEqual(["reserve", "charge", "ship", "refund", "refund", "refund", "release"]);
    const failed = (await store.entries("b5")).find((e) => e.action === "compensation_failed");
    expect(failed).toMatchObject({ stepId: "charge", attempt: 3, error: "Error: refunds closed" });
    expect((await store.events("b5")).some((e) => e.type === "step.compensation_failed")).toBe(true);
  });

  test("compensations run past the workflow deadline", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(START);
    const log: Log = { calls: [] };
    const engine = new Engine(booking, { store, services: services(log), clock });
    await engine.run({ nights: 2 }, { executionId: "b6" });
    await clock.advance(61_000);
    const result = await engine.resume("b6", { approved: true });
    expect(result).toMatchObject({ status: "failed", error: "TimeoutError: Workflow timeout after 60s", compensated: true });
    expect(log.calls.map((c) => c.name).slice(-2)).toEqual(["refund", "release"]);
  });

  test("a run with nothing to compensate fails without a compensated field", async () => {
    const store = new MemoryStore();
    const engine = new Engine(booking, {
      store,
      services: services({ calls: [] }, { reserve: () => Promise.reject(new Error("full")) }),
      clock: new ManualClock(START),
    });
    const result = await engine.run({ nights: 2 }, { executionId: "b7" });
    expect(result).toEqual({ status: "failed", executionId: "b7", error: "Error: full" });
  });

  test("retry of a compensated run is refused", async () => {
    const store = new MemoryStore();
    const engine = new Engine(booking, { store, services: services({ calls: [] }, failingShip()), clock: new ManualClock(START) });
    await engine.run({ nights: 2 }, { executionId: "b8" });
    await engine.resume("b8", { approved: true });
    await expect(engine.retry("b8")).rejects.toThrow(/was compensated/);
  });
});

describe("compensation after a cancel", () => {
  test("cancelling a halted run compensates its completed steps and ends cancelled with compensated: true", async () => {
    const store = new MemoryStore();
    const log: Log = { calls: [] };
    const engine = new Engine(booking, { store, services: services(log), clock: new ManualClock(START) });
    await engine.run({ nights: 2 }, { executionId: "c1" });
    const result = await engine.cancel("c1", { reason: "customer withdrew" });
    expect(result).toEqual({ status: "cancelled", executionId: "c1", error: "Cancelled: customer withdrew", compensated: true });
    expect(log.calls.map((c) => c.name)).toEqual(["reserve", "charge", "refund", "release"]);
    expect((await store.events("c1")).at(-1)).toMatchObject({
      type: "workflow.cancelled",
      data: { reason: "customer withdrew", compensated: true },
    });
  });

  test("a cancel with a compensation that fails once still ends compensated", async () => {
    const store = new MemoryStore();
    const log: Log = { calls: [] };
    let refunds = 0;
    const overrides = {
      refund: () => {
        if (++refunds === 1) throw new Error("payments busy");
        return {};
      },
    };
    const engine = new Engine(booking, { store, services: services(log, overrides), clock: new ManualClock(START, { autoAdvance: true }) });
    await engine.run({ nights: 2 }, { executionId: "c2" });
    const result = await engine.cancel("c2");
    expect(result).toMatchObject({ status: "cancelled", compensated: true });
    expect(log.calls.map((c) => c.name)).toEqual(["reserve", "charge", "refund", "refund", "release"]);
  });

  test("a call in flight when a cancel lands is compensated too, by the worker that ran it", async () => {
    const store = new MemoryStore();
    const log: Log = { calls: [] };
    // deno-lint-ignore prefer-const -- assigned once, after the services that use it
    let engine: Engine;
    const overrides = {
      charge: async () => {
        const cancelled = await engine.cancel("c3");
        expect(cancelled).toMatchObject({ status: "running", compensating: "cancelled" });
        return { id: "charge-1" };
      },
    };
    engine = new Engine(booking, { store, services: services(log, overrides), clock: new ManualClock(START) });
    const result = await engine.run({ nights: 2 }, { executionId: "c3" });
    expect(result).toMatchObject({ status: "cancelled", compensated: true });
    expect(log.calls.map((c) => [c.name, c.input])).toEqual([
      ["reserve", { nights: 2 }],
      ["charge", { amount: 100 }],
      ["refund", { payment: "charge-1" }],
      ["release", { room: "reserve-1" }],
    ]);
    const entries = (await store.entries("c3")).map((e) => [e.stepId, e.action]);
    expect(entries.slice(-3)).toEqual([["charge", "completed"], ["charge", "compensated"], ["reserve", "compensated"]]);
    const seqs = (await store.events("c3")).map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  });

  test("a call longer than a third of the lease, in flight when a cancel lands, keeps its claim and is compensated", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(START);
    const log: Log = { calls: [] };
    // deno-lint-ignore prefer-const -- assigned once, after the services that use it
    let engine: Engine;
    let signal: AbortSignal | undefined;
    const overrides = {
      charge: async () => {
        await engine.cancel("c5");
        // The heartbeat renews the claim a third of the lease in: refused (the cancel moved the revision), taken on.
        await clock.advance(25_000);
        return { id: "charge-1" };
      },
    };
    const base = services(log, overrides);
    const payments = base.payments as Record<string, (input: Json, context: { signal: AbortSignal; idempotencyKey: string }) => unknown>;
    const charge = payments.charge!;
    payments.charge = (input, context) => {
      signal = context.signal;
      return charge(input, context);
    };
    engine = new Engine(booking, { store, services: base, clock, leaseMs: 60_000 });
    const result = await engine.run({ nights: 2 }, { executionId: "c5" });
    expect(result).toMatchObject({ status: "cancelled", compensated: true });
    expect(signal?.aborted).toBe(false);
    expect(log.calls.map((c) => c.name)).toEqual(["reserve", "charge", "refund", "release"]);
    const seqs = (await store.events("c5")).map((e) => e.seq);
    expect(seqs).toEqual(seqs.map((_, i) => i + 1));
  });

  test("a worker and a takeover racing for a cancelled run: the claim decides, and each compensation runs once", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(START);
    const log: Log = { calls: [] };
    // deno-lint-ignore prefer-const -- assigned once, after the services that use it
    let engine: Engine;
    const overrides = {
      charge: async () => {
        await engine.cancel("c6");
        await clock.advance(60_001);
        const other = new Engine(booking, { store, services: services(log), clock, leaseMs: 60_000 });
        await other.continue("c6").catch((error) => expect(error).toBeInstanceOf(ConflictError));
        return { id: "charge-1" };
      },
    };
    engine = new Engine(booking, { store, services: services(log, overrides), clock, leaseMs: 60_000 });
    await engine.run({ nights: 2 }, { executionId: "c6" }).catch((error) => expect(error).toBeInstanceOf(ConflictError));
    expect(log.calls.map((c) => c.name)).toEqual(["reserve", "charge", "release"]);
    expect(await engine.result("c6")).toMatchObject({ status: "cancelled", compensated: true });
  });

  test("a run being compensated cannot be cancelled again", async () => {
    const store = new MemoryStore();
    // deno-lint-ignore prefer-const -- assigned once, after the services that use it
    let engine: Engine;
    let again: unknown;
    const overrides = {
      refund: async () => {
        again = await engine.cancel("c4").catch((error) => error);
        return {};
      },
    };
    engine = new Engine(booking, { store, services: services({ calls: [] }, overrides), clock: new ManualClock(START) });
    await engine.run({ nights: 2 }, { executionId: "c4" });
    await engine.cancel("c4");
    expect(again).toBeInstanceOf(ConflictError);
    expect((again as Error).message).toMatch(/already being compensated/);
  });
});

describe("compensation inside a loop", () => {
  test("each item's step is compensated, last item first, under its own key", async () => {
    const store = new MemoryStore();
    const undone: [Json, string][] = [];
    const workflow = loadWorkflow({
      id: "batch_pay",
      name: "Batch pay",
      inputs: { items: { type: "array" } },
      steps: [
        { id: "start", type: "start", next: "each" },
        {
          id: "each",
          type: "loop",
          over: "$input.items",
          as: "item",
          do: [{
            id: "pay",
            type: "call",
            service: "pay",
            input: "$item",
            output: "paid",
            compensate: { service: "refund", input: "$paid" },
          }],
          next: "fail",
        },
        { id: "fail", type: "call", service: "boom" },
      ],
    });
    const engine = new Engine(workflow, {
      store,
      clock: new ManualClock(START),
      services: {
        pay: (item: string) => `paid ${item}`,
        refund: (input: Json, context: { idempotencyKey: string }) => void undone.push([input, context.idempotencyKey]),
        boom: () => {
          throw new Error("boom");
        },
      },
    });
    const result = await engine.run({ items: ["a", "b"] }, { executionId: "l1" });
    expect(result).toMatchObject({ status: "failed", compensated: true });
    expect(undone).toEqual([["paid b", "l1:each[1]:pay:1:compensate"], ["paid a", "l1:each[0]:pay:1:compensate"]]);
    expect((await store.entries("l1")).filter((e) => e.action === "compensated").map((e) => e.stepId)).toEqual(["each:pay", "each:pay"]);
  });
});

describe("a crash while compensating", () => {
  test("the run stays running while it compensates, and a takeover after the lease finishes the rest under the same keys", async () => {
    const store = new MemoryStore();
    const clock = new ManualClock(START);
    const log: Log = { calls: [] };
    const hung = {
      ...failingShip(),
      release: () => new Promise(() => {}),
    };
    const first = new Engine(booking, { store, services: services(log, hung), clock, leaseMs: 30_000 });
    await first.run({ nights: 2 }, { executionId: "k1" });
    void first.resume("k1", { approved: true });
    for (let i = 0; i < 50 && !log.calls.some((c) => c.name === "release"); i++) await new Promise((r) => setTimeout(r, 0));
    const during = (await store.load("k1"))!;
    expect([during.status, during.compensating?.status, during.compensations.map((c) => c.stepId)]).toEqual([
      "running",
      "failed",
      ["reserve"],
    ]);
    expect(await first.result("k1")).toMatchObject({ status: "running", compensating: "failed", error: "Error: no courier" });
    await expect(first.continue("k1")).rejects.toThrow(/live lease/);

    await clock.advance(31_000);
    const second = new Engine(booking, { store, services: services(log), clock, leaseMs: 30_000 });
    const result = await second.continue("k1");
    expect(result).toEqual({ status: "failed", executionId: "k1", error: "Error: no courier", compensated: true });
    expect(log.calls.filter((c) => c.name === "release").map((c) => c.key)).toEqual(["k1:reserve:1:compensate", "k1:reserve:1:compensate"]);
    expect(log.calls.filter((c) => c.name === "refund")).toHaveLength(1);
  });
});

describe("definitions", () => {
  test("a compensation may reference its own step's output", () => {
    expect(booking.steps.find((s) => s.id === "charge")?.compensate).toMatchObject({ service: "payments", method: "refund" });
  });

  /** start → one step of `type` with the given `compensate:` (a YAML flow mapping). */
  const withCompensate = (type: string, compensate: string) =>
    loadWorkflow(`
id: bad
name: Bad
steps:
  - id: start
    type: start
    next: pay
  - id: pay
    type: ${type}
    ${type === "call" ? "service: payments" : "set: { a: 1 }"}
    compensate: ${compensate}
`);

  test("a compensation with an unknown key is rejected", () => {
    expect(() => withCompensate("call", "{ service: payments, undo: true }")).toThrow(ValidationError);
  });

  test("a compensation referencing a variable no step sets is rejected", () => {
    expect(() => withCompensate("call", "{ service: payments, input: { id: $nowhere.id } }")).toThrow(
      /"\$nowhere.id" but no step sets "nowhere"/,
    );
  });

  test("compensate is refused on a step type that has none", () => {
    expect(() => withCompensate("assign", "{ service: payments }")).toThrow(ValidationError);
  });

  test("a compensation whose backoff can outlast the lease is warned about; one that cannot is not", () => {
    const slow = loadWorkflow({
      id: "slow_undo",
      name: "Slow undo",
      steps: [
        { id: "start", type: "start", next: "pay" },
        { id: "pay", type: "call", service: "p", compensate: { service: "p", retries: 8, retry_delay: 1, timeout: 90 }, next: "ok" },
        { id: "ok", type: "call", service: "p", compensate: { service: "p", retries: 2 } },
      ],
    });
    expect(leaseWarnings(slow, 60_000).map((w) => w.path)).toEqual(["steps[1].compensate.timeout", "steps[1].compensate.retries"]);
  });

  test("the diagram marks a step with a compensation and names what undoes it", () => {
    const node = workflowGraph(booking).nodes.find((n) => n.id === "charge");
    expect(node?.compensation).toBe("payments.refund");
    expect(workflowGraph(booking).nodes.find((n) => n.id === "ship")?.compensation).toBeUndefined();
    expect(workflowDiagram(booking)).toContain("#8634; payments.refund");
  });
});
