import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createOrderServices } from "../../../examples/order-fulfillment/services.ts";
import { createApp } from "../../../routes/app.ts";
import { Engine } from "../../../src/engine/engine.ts";
import { UpstashRedisStore } from "../../../src/store/upstash-redis.ts";
import type { Services } from "../../../src/types.ts";
import { countingStore } from "../../support/engine.ts";
import { redisServerAvailable, type RedisStack, startRedisStack } from "../../support/redis.ts";
import { greetingWorkflow, orderWorkflow, sequentialIds, smallOrder, tickingClock } from "../../support/routes.ts";
import { gate, jsonOf, messagesOf, SseReader, summary } from "../../support/sse.ts";

/** The SSE routes on the production store: a real redis-server behind the Upstash-REST bridge. */
if (redisServerAvailable()) {
  let stack: RedisStack;
  let prefixes = 0;

  beforeAll(async () => {
    stack = await startRedisStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const setup = (services: Services = createOrderServices().services as unknown as Services) => {
    const prefix = `sse${++prefixes}`;
    const store = new UpstashRedisStore({ redis: stack.redis, prefix });
    const counted = countingStore(store);
    const clock = tickingClock();
    const app = createApp({
      store: counted.store,
      workflows: [orderWorkflow, greetingWorkflow],
      services,
      clock,
      ids: sequentialIds(),
      events: { pollMs: 2, heartbeatMs: 60_000 },
    });
    /** Another isolate: its own store object on the same keys. */
    const elsewhere = () => new UpstashRedisStore({ redis: stack.redis, prefix });
    return { app, store, counted, clock, elsewhere };
  };

  const postStream = (app: ReturnType<typeof createApp>, body: unknown) =>
    app.request("/workflows/order_fulfillment/executions/stream", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });

  describe("SSE on UpstashRedisStore", () => {
    test("an order's events, streamed live, are replayed from the store unchanged", async () => {
      const { app, store } = setup();
      const live = messagesOf(await (await postStream(app, { input: smallOrder, executionId: "r-1" })).text());
      const replayed = messagesOf(await (await app.request("/executions/r-1/events")).text());
      expect(summary(live).at(-1)).toBe("28:workflow.completed");
      expect(replayed).toEqual(live);
      expect(replayed.map(jsonOf)).toEqual(await store.events("r-1") as never);
    });

    test("a streamed run stores its events inside its checkpoints: one HTTP request per commit, and one for the workflow's current version", async () => {
      const { app, counted } = setup();
      await (await postStream(app, { input: smallOrder, executionId: "r-1" })).text();
      counted.reset();
      stack.resetBridgeStats();
      const text = await (await postStream(app, { input: smallOrder, executionId: "r-2" })).text();
      expect(messagesOf(text)).toHaveLength(28);
      expect(Object.keys(counted.counts).sort()).toEqual(["commit", "currentDefinition"]);
      expect(counted.counts.currentDefinition).toBe(1);
      expect(stack.bridgeStats().requests).toBe(counted.counts.commit! + 1);
    });

    test("replaying a finished execution is one load and one events read", async () => {
      const { app, counted } = setup();
      await (await postStream(app, { input: smallOrder, executionId: "r-3" })).text();
      counted.reset();
      stack.resetBridgeStats();
      expect(messagesOf(await (await app.request("/executions/r-3/events")).text())).toHaveLength(28);
      expect(counted.counts).toEqual({ load: 1, events: 1 });
      expect(stack.bridgeStats().requests).toBe(2);
    });

    test("a run advanced by another isolate's engine is followed until it completes", async () => {
      const orders = createOrderServices();
      const shipping = gate();
      const services = {
        ...orders.services,
        ShippingService: { create_shipment: shipping.hold(orders.services.ShippingService.create_shipment) },
      } as unknown as Services;
      const { app, store, clock, elsewhere } = setup();
      const worker = new Engine(orderWorkflow, { store: elsewhere(), services, clock });
      const run = worker.run(smallOrder, { executionId: "r-4" });
      await shipping.entered;
      const reader = new SseReader(await app.request("/executions/r-4/events"));
      const head = await reader.take(21);
      shipping.open();
      const tail = await reader.rest();
      expect((await run).status).toBe("completed");
      expect([...head, ...tail].map((f) => f.id)).toEqual((await store.events("r-4")).map((e) => `r-4:${e.seq}`));
      expect(summary(tail).at(-1)).toBe("28:workflow.completed");
    });
  });
}
