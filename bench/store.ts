/**
 * Store round trips per step: the 20-step linear workflow and the order-fulfillment happy path on
 * UpstashRedisStore (a private redis-server behind our Upstash-REST bridge), with the same runs on the
 * MemoryStore in the same process as the baseline.
 *   npx bun bench/store.ts
 */
import { createOrderServices } from "../examples/order-fulfillment/services.ts";
import { Engine, MemoryStore, UpstashRedisStore, type Store, type WorkflowDefinition } from "../mod.ts";
import { happyOrder, orderWorkflow } from "../tests/support/order-fulfillment.ts";
import { startRedisStack } from "../tests/support/redis.ts";
import { linearWorkflow, medianMs, table, work } from "./workflows.ts";

const RUNS = Number(process.env.RUNS ?? 30);
const stack = await startRedisStack();
const rows: Record<string, string | number>[] = [];

try {
  const cases: { name: string; workflow: WorkflowDefinition; input: unknown; services: () => object }[] = [
    { name: "linear 20", workflow: linearWorkflow(18), input: {}, services: () => ({ work }) },
    { name: "order happy path", workflow: orderWorkflow, input: happyOrder, services: () => createOrderServices().services },
  ];
  for (const c of cases) {
    for (const [storeName, makeStore] of [
      ["MemoryStore", () => new MemoryStore()],
      ["UpstashRedisStore", () => new UpstashRedisStore({ redis: stack.redis, prefix: `bench${Math.random().toString(36).slice(2, 8)}` })],
    ] as [string, () => Store][]) {
      // One counted run (after a warm-up that loads the Lua scripts): steps, HTTP requests, Redis commands.
      const store = makeStore();
      await new Engine(c.workflow, { store, services: c.services() as never }).run(c.input, { executionId: "warm-up" });
      stack.resetBridgeStats();
      const result = await new Engine(c.workflow, { store, services: c.services() as never }).run(c.input, { executionId: "counted" });
      if (result.status !== "completed") throw new Error(`${c.name}: ${result.status} ${result.error ?? ""}`);
      const stats = stack.bridgeStats();
      const steps = (await store.entries("counted")).length;
      const remote = storeName !== "MemoryStore";
      let n = 0;
      const ms = await medianMs(RUNS, async () => {
        await new Engine(c.workflow, { store, services: c.services() as never }).run(c.input, { executionId: `run-${++n}` });
      });
      rows.push({
        workflow: c.name,
        store: storeName,
        steps,
        "HTTP req/step": remote ? stats.requests / steps : 0,
        "Redis cmd/step": remote ? stats.commands / steps : 0,
        "ms/run": ms,
        "µs/step": (ms * 1000) / steps,
      });
    }
    const [memory, redis] = rows.slice(-2);
    rows.push({ workflow: c.name, store: "ratio Redis/Memory", steps: "", "HTTP req/step": "", "Redis cmd/step": "", "ms/run": (redis!["ms/run"] as number) / (memory!["ms/run"] as number), "µs/step": "" });
  }
  console.log(`Store round trips, median of ${RUNS} runs (${navigator.userAgent}, loopback bridge)\n`);
  console.log(table(rows));
} finally {
  await stack.stop();
}
