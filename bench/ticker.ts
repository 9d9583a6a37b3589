/**
 * What time firing costs: one tick of an app with the in-process queue on Upstash Redis (a real redis-server behind
 * the REST bridge), idle and with due waits, in store requests and ms.
 *
 *   npx bun bench/ticker.ts
 *
 * An idle app's ticker runs due timers every second (in memory, no store request) and sweeps every 15 s (one store
 * request per page of 100): its idle store cost per minute is 4 sweeps × the requests of an empty sweep.
 */
import { AsyncRunner, InlineAdapter, loadWorkflow, ManualClock, tick, UpstashRedisStore } from "../mod.ts";
import { startRedisStack } from "../tests/support/redis.ts";
import { medianMs, table } from "./workflows.ts";

const pause = loadWorkflow({
  id: "pause",
  name: "Pause",
  steps: [{ id: "nap", type: "wait", seconds: 60, next: "done" }, { id: "done", type: "end", result: { woke: true } }],
});

const stack = await startRedisStack();
try {
  const clock = new ManualClock(new Date());
  const store = new UpstashRedisStore({ redis: stack.redis });
  const adapter = new InlineAdapter({ store, workflows: (id) => (id === "pause" ? pause : undefined), clock });
  const options = { store, adapter, clock };
  const rows: Record<string, string | number>[] = [];

  const measure = async (what: string, sweep: boolean, prepare: () => Promise<void> = async () => {}) => {
    await prepare();
    stack.resetBridgeStats();
    const started = performance.now();
    const report = await tick(options, { sweep });
    const ms = performance.now() - started;
    rows.push({ tick: what, "due jobs": report.timers, "store requests": stack.bridgeStats().requests, ms });
  };

  await tick(options); // loads the sweep's script once
  await measure("idle, timers only (every 1 s)", false);
  await measure("idle, with the sweep (every 15 s)", true);
  const waits = 100;
  await measure(`${waits} waits due`, true, async () => {
    const runner = new AsyncRunner(pause, { store, adapter, clock });
    for (let i = 0; i < waits; i++) await runner.run({}, { executionId: `wait-${i}` });
    clock.advance(60_000);
  });
  console.log(table(rows));
  console.log(`\nmedian idle tick with the sweep: ${(await medianMs(20, () => tick(options))).toFixed(2)} ms`);
} finally {
  await stack.stop();
}
