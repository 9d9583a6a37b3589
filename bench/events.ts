/**
 * Events on UpstashRedisStore (a private redis-server behind our Upstash-REST bridge): 1 000 executions wait in a
 * `wait_for_event` step, each for its own order id (an indexed match); one event per execution is sent and the
 * woken run completes inline. Prints events delivered per second, store requests per woken execution (by method),
 * and the same once 5 000 more executions wait on other ids of the same event name (the cost must not grow).
 * Then Redis server µs per commit (INFO commandstats) for plain commits and for the halting commit of a wait.
 *   npx bun bench/events.ts            (WAITERS=1000 OTHERS=5000)
 */
import { InlineAdapter, loadWorkflow, sendEvent, SyncRunner, UpstashRedisStore } from "../mod.ts";
import { countingStore } from "../tests/support/engine.ts";
import { startRedisStack } from "../tests/support/redis.ts";
import { commandStats, resetStats } from "./support/redis-stats.ts";

const WAITERS = Number(process.env.WAITERS ?? 1000);
const OTHERS = Number(process.env.OTHERS ?? 5000);
const CONCURRENCY = 20;

const workflow = loadWorkflow({
  id: "pay",
  name: "Wait for the payment",
  inputs: { order_id: { type: "string" } },
  steps: [
    { id: "start", type: "start", next: "wait" },
    {
      id: "wait",
      type: "wait_for_event",
      event: "payment.received",
      match: { field: "event.order_id", value: "$input.order_id" },
      output: "payment",
      next: "done",
    },
    { id: "done", type: "end", result: "$payment.payload" },
  ],
});

async function pool<T>(items: T[], size: number, work: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: size }, async () => {
    while (next < items.length) await work(items[next++]!);
  }));
}

const stack = await startRedisStack();
/** usec and calls of EVALSHA since the last reset. */
const evalStats = () => commandStats(stack.redisUrl).evalsha ?? { calls: 0, usec: 0 };

try {
  const { store, counts: calls, reset } = countingStore(new UpstashRedisStore({ redis: stack.redis, prefix: "bench" }));
  const adapter = new InlineAdapter({ store, workflows: [workflow] });
  const runner = new SyncRunner(workflow, { store });
  const wait = async (prefix: string, n: number) => {
    await pool(
      Array.from({ length: n }, (_, i) => i),
      CONCURRENCY,
      (i) => runner.run({ order_id: `${prefix}-${i}` }, { executionId: `${prefix}-${i}` }),
    );
  };

  // Redis µs per commit: runs to a plain `halt` (COMMIT twice) against runs to a wait (COMMIT, then COMMIT_AND_WAIT).
  const halting = loadWorkflow({
    id: "plain",
    name: "Plain halt",
    steps: [{ id: "start", type: "start", next: "h" }, { id: "h", type: "halt", next: "done" }, { id: "done", type: "end" }],
  });
  resetStats(stack.redisUrl);
  await pool(
    Array.from({ length: WAITERS }, (_, i) => i),
    CONCURRENCY,
    (i) => new SyncRunner(halting, { store }).run({}, { executionId: `h-${i}` }),
  );
  const haltStats = evalStats();
  resetStats(stack.redisUrl);
  await wait("o", WAITERS);
  const waitStats = evalStats();

  const rows: Record<string, string | number>[] = [];
  const deliver = async (label: string, prefix: string, n: number) => {
    reset();
    resetStats(stack.redisUrl);
    const started = performance.now();
    await pool(Array.from({ length: n }, (_, i) => i), CONCURRENCY, async (i) => {
      const sent = await sendEvent("payment.received", { order_id: `${prefix}-${i}`, amount: i }, {
        store,
        adapter,
        id: `${prefix}-e${i}`,
      });
      if (sent.delivered !== 1) throw new Error(`event ${i} woke ${sent.delivered} executions`);
    });
    const seconds = (performance.now() - started) / 1000;
    const total = Object.values(calls).reduce((a, b) => a + b, 0);
    const redis = evalStats();
    rows.push({
      case: label,
      "events/s": Math.round(n / seconds),
      "requests/woken": (total / n).toFixed(2),
      "sendEvent": (calls.sendEvent ?? 0) / n,
      "load": (calls.load ?? 0) / n,
      "commit": (calls.commit ?? 0) / n,
      "delivery (send+load+resume commit)": ((calls.sendEvent ?? 0) / n + (calls.load ?? 0) / n + 1).toFixed(2),
      "Redis µs/script": (redis.usec / Math.max(1, redis.calls)).toFixed(1),
    });
  };

  await deliver(`${WAITERS} waiting, each on its own id`, "o", WAITERS);
  await wait("other", OTHERS);
  await wait("p", 200);
  await deliver(`200 waiting + ${OTHERS} waiting on other ids`, "p", 200);

  console.log(`wait_for_event on UpstashRedisStore (redis-server + bridge), ${CONCURRENCY} sends at a time, inline resume`);
  console.table(rows);
  const perCommit = (stats: { calls: number; usec: number }) => (stats.usec / Math.max(1, stats.calls)).toFixed(1);
  console.log(`Redis µs per commit (INFO commandstats, 2 commits per run: the first checkpoint and the halt):`);
  console.log(`  ${WAITERS} runs to a plain halt:         ${perCommit(haltStats)} µs (${haltStats.calls} commits)`);
  console.log(`  ${WAITERS} runs to a wait_for_event:     ${perCommit(waitStats)} µs (${waitStats.calls} commits)`);
} finally {
  await stack.stop();
}
