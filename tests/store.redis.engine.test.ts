import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ConflictError, Engine, UpstashRedisStore } from "../mod.ts";
import { countingStore } from "./support/engine.ts";
import { linearWorkflow } from "./support/workflows.ts";
import { orderFulfillmentSuite, orderWorkflow, largeOrder } from "./support/order-fulfillment.ts";
import { redisServerAvailable, startRedisStack, type RedisStack } from "./support/redis.ts";
import { createOrderServices } from "../examples/order-fulfillment/services.ts";

/** The engine on the production store: a real redis-server behind our Upstash-REST bridge. */
if (redisServerAvailable()) {
  let stack: RedisStack;
  let prefixes = 0;
  const freshStore = (prefix = `eng${++prefixes}`) => new UpstashRedisStore({ redis: stack.redis, prefix });

  beforeAll(async () => {
    stack = await startRedisStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  orderFulfillmentSuite("UpstashRedisStore", () => freshStore());

  describe("engine on UpstashRedisStore", () => {
    test("two engines resuming one halted execution at once: exactly one runs it, the other gets ConflictError", async () => {
      // Two store objects on one prefix: what two isolates would have.
      const prefix = `race${++prefixes}`;
      const shop = createOrderServices();
      const a = new Engine(orderWorkflow, { store: freshStore(prefix), services: shop.services, sleep: async () => {} });
      const b = new Engine(orderWorkflow, { store: freshStore(prefix), services: shop.services, sleep: async () => {} });
      await a.run(largeOrder, { executionId: "race" });
      const settled = await Promise.allSettled([a.resume("race", { approved: true }), b.resume("race", { approved: true })]);
      expect(settled.filter((s) => s.status === "fulfilled").map((s) => (s as PromiseFulfilledResult<{ status: string }>).value.status)).toEqual(["completed"]);
      expect((settled.find((s) => s.status === "rejected") as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
      expect(shop.calls.filter((c) => c.service === "PaymentService.charge")).toHaveLength(1);
    });

    test("a checkpoint is one HTTP request to Redis: a 5-call run makes 6 commits and 6 requests", async () => {
      const counted = countingStore(freshStore());
      const workflow = linearWorkflow(5);
      stack.resetBridgeStats();
      const result = await new Engine(workflow, { store: counted.store, services: { work: () => 1 } }).run({}, { executionId: "five" });
      expect(result.status).toBe("completed");
      expect(counted.counts).toEqual({ commit: 6 });
      expect(stack.bridgeStats().requests).toBe(6);
    });
  });
}
