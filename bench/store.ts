/**
 * Store round trips per step: the 20-step linear workflow and the order-fulfillment happy path on
 * UpstashRedisStore (a private redis-server behind our Upstash-REST bridge), with the same runs on the
 * MemoryStore in the same process as the baseline. Then the stored form on its own: 1 000 delta commits
 * onto one growing execution, with the bytes each store wrote (snapshots + deltas) against the final state.
 *   npx bun bench/store.ts
 */
import { createOrderServices } from "../examples/order-fulfillment/services.ts";
import { Engine, MemoryStore, type Store, UpstashRedisStore, type WorkflowDefinition } from "../mod.ts";
import type { StoreFootprint } from "../src/store/store.ts";
import { type Execution, newExecution } from "../src/types.ts";
import { happyOrder, orderWorkflow } from "../tests/support/order-fulfillment.ts";
import { startRedisStack } from "../tests/support/redis.ts";
import { linearWorkflow, medianMs, table, work } from "./workflows.ts";

const RUNS = Number(process.env.RUNS ?? 30);

type FootprintStore = Store & { footprint(id: string): Promise<StoreFootprint | null> };

async function bytesWritten(name: string, store: FootprintStore): Promise<Record<string, string | number>> {
  const id = `bytes-${Date.now()}`;
  const createdAt = new Date().toISOString();
  let execution: Execution = newExecution({
    id,
    workflowId: "bench",
    workflowVersion: "1",
    workflowHash: "h",
    status: "running",
    input: {},
    recoverTo: null,
    createdAt,
    deadline: null,
  });
  execution.revision = (await store.commit({ execution, expectedRevision: 0 })).revision;
  let before = (await store.footprint(id))!;
  let written = before.snapshotBytes;
  let compactions = 0;
  const started = performance.now();
  for (let i = 0; i < 1000; i++) {
    const delta = { set: { [`step${i}`]: { ok: true, n: i, note: "x".repeat(40) } } };
    execution = { ...execution, ctx: { ...execution.ctx, ...delta.set } };
    execution.revision = (await store.commit({ execution, expectedRevision: execution.revision, delta })).revision;
    const after = (await store.footprint(id))!;
    if (after.deltas === 0) compactions += 1;
    written += after.deltas === 0 ? after.snapshotBytes : after.logBytes - before.logBytes;
    before = after;
  }
  const ms = performance.now() - started;
  const final = before.snapshotBytes + before.logBytes;
  return {
    store: name,
    commits: 1000,
    compactions,
    "KB written": Math.round(written / 1024),
    "KB final state": Math.round(final / 1024),
    "written / final": written / final,
    "ms (incl. footprint)": ms,
  };
}
const stack = await startRedisStack();
const rows: Record<string, string | number>[] = [];

try {
  const cases: { name: string; workflow: WorkflowDefinition; input: unknown; services: () => object }[] = [
    { name: "linear 20", workflow: linearWorkflow(18), input: {}, services: () => ({ work }) },
    { name: "order happy path", workflow: orderWorkflow, input: happyOrder, services: () => createOrderServices().services },
  ];
  for (const c of cases) {
    for (
      const [storeName, makeStore] of [
        ["MemoryStore", () => new MemoryStore()],
        [
          "UpstashRedisStore",
          () => new UpstashRedisStore({ redis: stack.redis, prefix: `bench${Math.random().toString(36).slice(2, 8)}` }),
        ],
      ] as [string, () => Store][]
    ) {
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
    rows.push({
      workflow: c.name,
      store: "ratio Redis/Memory",
      steps: "",
      "HTTP req/step": "",
      "Redis cmd/step": "",
      "ms/run": (redis!["ms/run"] as number) / (memory!["ms/run"] as number),
      "µs/step": "",
    });
  }
  console.log(`Store round trips, median of ${RUNS} runs (${navigator.userAgent}, loopback bridge)\n`);
  console.log(table(rows));
  console.log(`\nBytes written by 1 000 delta commits (one ctx key added per commit)\n`);
  console.log(table([
    await bytesWritten("MemoryStore", new MemoryStore()),
    await bytesWritten("UpstashRedisStore", new UpstashRedisStore({ redis: stack.redis, prefix: "bench-bytes" })),
  ]));
} finally {
  await stack.stop();
}
