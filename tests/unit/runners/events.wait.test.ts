// wait_for_event and sendEvent, end to end on both stores (MemoryStore; UpstashRedisStore through a real redis-server
// and the Upstash REST bridge), with a manual clock and the inline adapter.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  InlineAdapter,
  loadWorkflow,
  MemoryStore,
  sendEvent,
  type Store,
  SyncRunner,
  UpstashRedisStore,
  ValidationError,
} from "../../../mod.ts";
import { manualClock } from "../../support/engine.ts";
import { redisServerAvailable, type RedisStack, startRedisStack } from "../../support/redis.ts";

const payment = loadWorkflow({
  id: "payment",
  name: "Wait for the payment",
  inputs: { order_id: { type: "string" } },
  steps: [
    { id: "start", type: "start", next: "wait" },
    {
      id: "wait",
      type: "wait_for_event",
      event: ["payment.received", "payment.cancelled"],
      match: { field: "event.order_id", value: "$input.order_id" },
      timeout: 3 * 24 * 3600,
      on_timeout: "expired",
      output: "payment",
      next: "done",
    },
    { id: "done", type: "end", result: { event: "$payment.name", amount: "$payment.payload.amount", id: "$payment.id" } },
    { id: "expired", type: "end", result: { expired: true } },
  ],
});

const big = loadWorkflow({
  id: "big",
  name: "Wait for a big order",
  steps: [
    { id: "start", type: "start", next: "wait" },
    { id: "wait", type: "wait_for_event", event: "order:placed", match: { field: "event.total", op: "gt", value: 100 }, next: "done" },
    { id: "done", type: "end", result: { total: "$response" } },
  ],
});

const strict = loadWorkflow({
  id: "strict",
  name: "No timeout branch",
  steps: [
    { id: "start", type: "start", next: "wait" },
    { id: "wait", type: "wait_for_event", event: "ping", timeout: 60, next: "done" },
    { id: "done", type: "end" },
  ],
});

const twice = loadWorkflow({
  id: "twice",
  name: "Two pings",
  steps: [
    { id: "start", type: "start", next: "first" },
    { id: "first", type: "wait_for_event", event: "ping", output: "a", next: "second" },
    { id: "second", type: "wait_for_event", event: "ping", output: "b", next: "done" },
    { id: "done", type: "end", result: { a: "$a.id", b: "$b.id" } },
  ],
});

const workflows = [payment, big, strict, twice];

function suite(name: string, makeStore: () => Store) {
  describe(`events on ${name}`, () => {
    function setup() {
      const store = makeStore();
      const clock = manualClock();
      const adapter = new InlineAdapter({ store, clock, workflows });
      const send = (event: string, payload: unknown, id?: string) => sendEvent(event, payload, { store, clock, adapter, workflows, id });
      const start = (workflow = payment, input: object = { order_id: "A1" }, executionId?: string) =>
        new SyncRunner(workflow, { store, clock }).run(input, { executionId });
      return { store, clock, adapter, send, start };
    }

    test("a waiting run halts with what it waits for and until when", async () => {
      const { start } = setup();
      const result = await start();
      expect(result.status).toBe("halted");
      expect(result.halt!.data).toMatchObject({
        type: "event",
        events: ["payment.received", "payment.cancelled"],
        match: { field: "event.order_id", op: "eq", value: "A1" },
        expires_at: "2026-01-04T00:00:00.000Z",
      });
    });

    test("an event wakes the run waiting for it, which receives name, payload, id and received_at", async () => {
      const { start, send, store } = setup();
      const { executionId } = await start();
      const sent = await send("payment.received", { order_id: "A1", amount: 42 }, "pay-1");
      expect([sent.id, sent.delivered]).toEqual(["pay-1", 1]);
      const exec = (await store.load(executionId))!;
      expect([exec.status, exec.result]).toEqual(["completed", { event: "payment.received", amount: 42, id: "pay-1" }]);
      expect(exec.ctx.payment).toEqual({
        name: "payment.received",
        payload: { order_id: "A1", amount: 42 },
        id: "pay-1",
        received_at: "2026-01-01T00:00:00.000Z",
      });
    });

    test("a delivery is an event.received in the run's events", async () => {
      const { start, send, store } = setup();
      const { executionId } = await start();
      await send("payment.received", { order_id: "A1", amount: 1 }, "p-9");
      const received = (await store.events(executionId)).filter((e) => e.type === "event.received");
      expect(received.map((e) => e.data)).toEqual([{ executionId, event: "payment.received", eventId: "p-9", stepId: "wait" }]);
    });

    test("an event sent 1 s before the wait starts is received", async () => {
      const { start, send, clock } = setup();
      expect((await send("payment.received", { order_id: "A1", amount: 5 })).delivered).toBe(0);
      clock.advance(1000);
      const result = await start();
      expect([result.status, result.output]).toEqual(["completed", expect.objectContaining({ amount: 5 })]);
    });

    test("an event sent before the lookback window is not received", async () => {
      const { start, send, clock } = setup();
      await send("payment.received", { order_id: "A1", amount: 5 });
      clock.advance(5 * 60 * 1000 + 1);
      expect((await start()).status).toBe("halted");
    });

    test("two waiters with different matches get only their own event", async () => {
      const { start, send, store } = setup();
      const a = await start(payment, { order_id: "A" });
      const b = await start(payment, { order_id: "B" });
      expect((await send("payment.received", { order_id: "B", amount: 2 })).delivered).toBe(1);
      expect([(await store.load(a.executionId))!.status, (await store.load(b.executionId))!.result]).toEqual([
        "halted",
        expect.objectContaining({ amount: 2 }),
      ]);
      expect((await send("payment.received", { order_id: "A", amount: 1 })).delivered).toBe(1);
      expect((await store.load(a.executionId))!.result).toEqual(expect.objectContaining({ amount: 1 }));
    });

    test("one event id sent twice wakes once", async () => {
      const { start, send, store } = setup();
      const a = await start(payment, { order_id: "A" }, "a");
      const first = await send("payment.received", { order_id: "A", amount: 1 }, "dup");
      const b = await start(payment, { order_id: "A" }, "b");
      const second = await send("payment.received", { order_id: "A", amount: 1 }, "dup");
      expect([first.delivered, second.delivered, second.duplicate]).toEqual([1, 0, true]);
      // b began waiting after the first send: it receives the buffered event, once.
      expect([(await store.load(a.executionId))!.status, b.status]).toEqual(["completed", "completed"]);
    });

    test("20 concurrent sends of distinct events to 20 waiters wake each once", async () => {
      const { start, send, store } = setup();
      const ids = Array.from({ length: 20 }, (_, i) => `order-${i}`);
      for (const id of ids) await start(payment, { order_id: id }, id);
      const sent = await Promise.all(ids.map((id, i) => send("payment.received", { order_id: id, amount: i }, `e-${i}`)));
      expect(sent.map((s) => s.delivered)).toEqual(ids.map(() => 1));
      for (const [i, id] of ids.entries()) {
        const exec = (await store.load(id))!;
        expect([exec.status, exec.result]).toEqual(["completed", expect.objectContaining({ amount: i })]);
        expect((await store.entries(id)).filter((e) => e.stepId === "wait" && e.action === "completed")).toHaveLength(1);
      }
    });

    test("the timeout branch is taken when no event arrives in time", async () => {
      const { start, clock, adapter, store } = setup();
      const { executionId } = await start();
      clock.advance(3 * 24 * 3600 * 1000);
      const { revision } = (await store.load(executionId))!;
      await new InlineAdapter({ store, clock, workflows }).enqueue({ workflowId: "payment", executionId, action: "wake", revision });
      const exec = (await store.load(executionId))!;
      expect([exec.status, exec.result]).toEqual(["completed", { expired: true }]);
      expect(adapter.pendingTimers).toHaveLength(0);
    });

    test("without on_timeout, a timeout fails the step with an error naming it", async () => {
      const { start, clock, store } = setup();
      const { executionId } = await start(strict, {});
      clock.advance(60_000);
      const exec = (await store.load(executionId))!;
      await new InlineAdapter({ store, clock, workflows }).enqueue({
        workflowId: "strict",
        executionId,
        action: "wake",
        revision: exec.revision,
      });
      const failed = (await store.load(executionId))!;
      expect([failed.status, failed.error]).toEqual([
        "failed",
        'ExecutionError: wait_for_event "wait" timed out after 60s waiting for ping',
      ]);
    });

    test("any of two events: the first to arrive wins", async () => {
      const { start, send, store } = setup();
      const { executionId } = await start();
      expect((await send("payment.cancelled", { order_id: "A1" })).delivered).toBe(1);
      expect((await send("payment.received", { order_id: "A1", amount: 3 })).delivered).toBe(0);
      expect((await store.load(executionId))!.result).toEqual(expect.objectContaining({ event: "payment.cancelled" }));
    });

    test("a run never receives the same event twice: a second wait for the name ignores the one it had", async () => {
      const { start, send, store } = setup();
      await send("ping", {}, "p1");
      const result = await start(twice, {}, "t");
      expect([result.status, result.halt?.resumeStep]).toEqual(["halted", "second"]);
      await send("ping", {}, "p2");
      expect((await store.load("t"))!.result).toEqual({ a: "p1", b: "p2" });
    });

    test("an unindexed match is evaluated: only a matching event wakes the run", async () => {
      const { start, send, store } = setup();
      const { executionId } = await start(big, {});
      expect((await send("order:placed", { total: 50 })).delivered).toBe(0);
      expect((await send("order:placed", { total: 500 })).delivered).toBe(1);
      expect((await store.load(executionId))!.status).toBe("completed");
    });

    test("an unindexed wait receives a matching event sent before it began", async () => {
      const { start, send } = setup();
      await send("order:placed", { total: 50 });
      await send("order:placed", { total: 700 });
      expect((await start(big, {})).status).toBe("completed");
    });

    test("a bad event name is refused with a ValidationError naming it", async () => {
      const { send } = setup();
      const error = await send("bad name!", {}).catch((e) => e);
      expect(error).toBeInstanceOf(ValidationError);
      expect(error.issues).toEqual([{ path: "name", message: '"bad name!" must be 1 to 100 letters, digits and _ - . :' }]);
    });
  });
}

suite("MemoryStore", () => new MemoryStore());

const available = redisServerAvailable();
let stack: RedisStack;
let prefixes = 0;
if (available) {
  beforeAll(async () => {
    stack = await startRedisStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });
  suite("UpstashRedisStore", () => new UpstashRedisStore({ redis: stack.redis, prefix: `ev${++prefixes}` }));
}
