import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ConflictError, Engine, MemoryStore, SyncRunner, UpstashRedisStore } from "../../../mod.ts";
import { redisKeys } from "../../../src/store/upstash-redis.ts";
import { countingStore } from "../../support/engine.ts";
import { linearWorkflow } from "../../support/workflows.ts";
import { largeOrder, orderFulfillmentSuite, orderWorkflow } from "../../support/order-fulfillment.ts";
import { redisServerAvailable, type RedisStack, startRedisStack } from "../../support/redis.ts";
import { createOrderServices } from "../../../examples/order-fulfillment/services.ts";

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
      expect(settled.filter((s) => s.status === "fulfilled").map((s) => (s as PromiseFulfilledResult<{ status: string }>).value.status))
        .toEqual(["completed"]);
      expect((settled.find((s) => s.status === "rejected") as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
      expect(shop.calls.filter((c) => c.service === "PaymentService.charge")).toHaveLength(1);
    });

    test("an approval halted and stored by the previous version (one JSON record) resumes and completes", async () => {
      // The halted execution as the previous version kept it: the whole record, with no lease or wake time,
      // in one hash field, plus its index rows.
      const shop = createOrderServices();
      const memory = new MemoryStore();
      await new Engine(orderWorkflow, { store: memory, services: shop.services }).run(largeOrder, { executionId: "old-halt" });
      const { leaseUntil: _lease, wakeAt: _wake, ...record } = (await memory.load("old-halt"))!;
      const prefix = `prev${++prefixes}`;
      const keys = redisKeys(prefix);
      await stack.redis.hset(keys.execution("old-halt"), {
        revision: String(record.revision),
        status: "halted",
        workflowId: record.workflowId,
        json: JSON.stringify(record),
      });
      for (
        const index of [
          keys.all,
          keys.byWorkflow(record.workflowId),
          keys.byStatus("halted"),
          keys.byStatusAndWorkflow("halted", record.workflowId),
        ]
      ) {
        await stack.redis.zadd(index, { score: Date.parse(record.createdAt), member: "old-halt" });
      }
      const store = freshStore(prefix);
      const result = await new SyncRunner(orderWorkflow, { store, services: shop.services }).resume("old-halt", { approved: true });
      expect(result).toMatchObject({ status: "completed", output: { status: "completed" } });
      expect((await store.entries("old-halt")).at(-1)?.stepId).toBe("finish");
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
