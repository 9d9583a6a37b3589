/**
 * Async runs through QStash: time from `AsyncRunner.run` to completed for the 20-step linear workflow, through
 * qstash-dev, the Hono app (createApp on Bun.serve) and UpstashRedisStore (a private redis-server behind our
 * Upstash-REST bridge) — all on loopback, started here as the tests start them. Also: callbacks per run and
 * Redis HTTP requests per step. Baseline: the same workflow with SyncRunner on the same store, in the same run.
 *   npx bun bench/async.ts            (RUNS=50 for more runs)
 */
import { AsyncRunner, QStashAdapter, SyncRunner, UpstashRedisStore } from "../mod.ts";
import { createApp } from "../routes/app.ts";
import { DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY, startAsyncStack } from "../tests/support/async-stack.ts";
import { linearWorkflow, medianMs, table, work } from "./workflows.ts";

const RUNS = Number(process.env.RUNS ?? 20);
const STEPS = 20;
const stack = await startAsyncStack();
const rows: Record<string, string | number>[] = [];

try {
  const workflow = linearWorkflow(STEPS - 2); // start + 18 calls + end
  const store = new UpstashRedisStore({ redis: stack.redis.redis, prefix: `bench${Math.random().toString(36).slice(2, 8)}` });
  const services = { work };

  /** Resolves when the app answers a callback that completed `id`. */
  const completed = (id: string) =>
    new Promise<void>((resolve) => {
      stack.onAnswer((d) => {
        if (
          d.path === "/qstash" && d.status === 200 && d.answer.includes(`"executionId":"${id}"`) &&
          d.answer.includes('"status":"completed"')
        ) resolve();
      });
    });

  const asyncCase = (budgetMs: number | undefined) => {
    const adapter = new QStashAdapter({ client: stack.client, callbackUrl: stack.callbackUrl });
    const app = createApp({
      store,
      workflows: [workflow],
      services,
      adapter,
      qstash: {
        currentSigningKey: DEV_CURRENT_SIGNING_KEY,
        nextSigningKey: DEV_NEXT_SIGNING_KEY,
        ...(budgetMs !== undefined ? { budgetMs } : {}),
      },
    });
    const runner = new AsyncRunner(workflow, { store, adapter });
    return async (id: string) => {
      stack.serve(app.fetch);
      const done = completed(id);
      await runner.run({}, { executionId: id });
      await done;
    };
  };
  const sync = new SyncRunner(workflow, { store, services });
  const cases: { name: string; run: (id: string) => Promise<void> }[] = [
    { name: "SyncRunner", run: async (id) => void (await sync.run({}, { executionId: id })) },
    { name: "AsyncRunner + QStash", run: asyncCase(undefined) },
    { name: "AsyncRunner + QStash, budgetMs 0", run: asyncCase(0) },
  ];

  let n = 0;
  for (const c of cases) {
    // One counted run (after a warm-up that loads the Lua scripts): callbacks, steps, HTTP requests.
    await c.run(`warm-${++n}`);
    const id = `counted-${++n}`;
    stack.redis.resetBridgeStats();
    stack.deliveries.length = 0;
    await c.run(id);
    const stats = stack.redis.bridgeStats();
    const steps = (await store.entries(id)).length;
    const result = await sync.run({}, { executionId: id }); // idempotent start: the stored result
    if (result.status !== "completed") throw new Error(`${c.name}: ${result.status} ${result.error ?? ""}`);
    const callbacks = stack.deliveries.filter((d) => d.path === "/qstash").length;
    const ms = await medianMs(RUNS, () => c.run(`run-${++n}`));
    rows.push({
      runner: c.name,
      steps,
      "callbacks/run": callbacks,
      "HTTP req/step": stats.requests / steps,
      "ms/run": ms,
      "ms/step": ms / steps,
    });
  }
  const base = rows[0]!["ms/run"] as number;
  for (const row of rows.slice(1)) {
    rows.push({
      runner: `ratio ${row.runner} / Sync`,
      steps: "",
      "callbacks/run": "",
      "HTTP req/step": "",
      "ms/run": (row["ms/run"] as number) / base,
      "ms/step": "",
    });
  }
  console.log(
    `Async runs through qstash-dev + Hono app + Redis bridge, ${STEPS}-step linear workflow, median of ${RUNS} runs (${navigator.userAgent}, loopback)\n`,
  );
  console.log(table(rows));
} finally {
  await stack.stop();
}
