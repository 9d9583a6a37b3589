/**
 * Flow control (issue 20): what admission costs per start, and how fast runs go through a limit.
 * UpstashRedisStore on a private redis-server behind the Upstash-REST bridge (as the tests run it), async path:
 * AsyncRunner.run (commit #1) + performJob of the start job (load, claim, steps, end).
 *   1. store requests and wall µs per run, and Redis server µs per run (INFO commandstats, EVALSHA), for the same
 *      workflow without flow control, with `concurrency` (never full), with `concurrency` + `rate`;
 *   2. throughput of 1 000 runs through `concurrency: { limit: 10 }` with 20 workers on one queue.
 *   npx bun bench/flow.ts            (RUNS=300 for more runs per case)
 */
import { AsyncRunner } from "../src/runners/async.ts";
import { followUpsOf, type Job, performJob, type QueueAdapter } from "../src/runners/jobs.ts";
import { UpstashRedisStore } from "../src/store/upstash-redis.ts";
import { startRedisStack } from "../tests/support/redis.ts";
import { limited } from "../tests/support/flow-contract.ts";
import { commandStats, resetStats } from "./support/redis-stats.ts";
import { table } from "./workflows.ts";

const RUNS = Number(process.env.RUNS ?? 200);
const stack = await startRedisStack();

/** A queue the bench drains itself: `workers` jobs at a time. */
class Queue implements QueueAdapter {
  readonly jobs: Job[] = [];
  enqueue(job: Job): Promise<void> {
    this.jobs.push(job);
    return Promise.resolve();
  }
}

const services = { work: (input: unknown) => Promise.resolve(input) };

async function drain(queue: Queue, store: UpstashRedisStore, workflows: ReturnType<typeof limited>[], workers: number) {
  const worker = async () => {
    for (let job = queue.jobs.shift(); job; job = queue.jobs.shift()) {
      const outcome = await performJob(job, { store, services, workflows: (id) => workflows.find((w) => w.id === id) });
      for (const next of followUpsOf(job, outcome, Date.now())) queue.jobs.push(next.job);
    }
  };
  await Promise.all(Array.from({ length: workers }, worker));
}

const evalshaStats = () => commandStats(stack.redisUrl).evalsha ?? { calls: 0, usec: 0 };

const rows: Record<string, string | number>[] = [];
try {
  const cases: [string, string][] = [
    ["no flow control", ""],
    ["concurrency (never full)", "concurrency: { limit: 100000, key: $input.key }"],
    ["concurrency + rate", "concurrency: { limit: 100000, key: $input.key }\nrate: { limit: 100000, period: 60, key: $input.key }"],
  ];
  let base: { requests: number; usec: number } | undefined;
  // The first pass warms up (JIT, scripts, connections) and is not reported.
  for (const [pass, [name, flow]] of [...cases.map((c) => [0, c] as const), ...cases.map((c) => [1, c] as const)]) {
    // A prefix per pass and case: a runner starts runs on the workflow's current version as stored, so two
    // definitions of one id under one prefix would run the newer one.
    const workflow = limited(`bench_${pass}_${rows.length}`, flow);
    const store = new UpstashRedisStore({ redis: stack.redis, prefix: `flowbench${pass}_${rows.length}` });
    const queue = new Queue();
    const runner = new AsyncRunner(workflow, { store, adapter: queue });
    // warm-up: scripts loaded, definition stored
    await runner.run({ key: "warm", n: 0 });
    await drain(queue, store, [workflow], 1);
    stack.resetBridgeStats();
    resetStats(stack.redisUrl);
    const started = performance.now();
    for (let n = 0; n < RUNS; n++) {
      await runner.run({ key: `k${n % 10}`, n });
      await drain(queue, store, [workflow], 1);
    }
    const elapsed = performance.now() - started;
    const requests = stack.bridgeStats().requests / RUNS;
    const { usec } = evalshaStats();
    const perRun = usec / RUNS;
    if (pass === 0) continue;
    base ??= { requests, usec: perRun };
    rows.push({
      case: name,
      "requests/run": requests.toFixed(2),
      "extra requests/run": (requests - base.requests).toFixed(2),
      "wall µs/run": Math.round((elapsed * 1000) / RUNS),
      "Redis EVALSHA µs/run": perRun.toFixed(1),
      "extra Redis µs/run": (perRun - base.usec).toFixed(1),
    });
  }
  console.log(`Admission cost per run (${RUNS} runs each, async path: AsyncRunner.run + start job, one worker)`);
  console.log(table(rows));

  // The flow scripts alone: one acquire and one release per start, Redis server µs per call.
  {
    const store = new UpstashRedisStore({ redis: stack.redis, prefix: "flowbenchS" });
    const request = (n: number) => ({ workflowId: "alone", executionId: `alone-${n}`, now: Date.now(), staleMs: 60_000 });
    // The ids name no stored execution: the purge drops them as holders, so this is a key with no other holder.
    const concurrency = { key: "k", limit: 100_000 };
    await store.flowAcquire({ ...request(-1), order: 0, concurrency }); // loads the script
    resetStats(stack.redisUrl);
    for (let n = 0; n < RUNS; n++) {
      await store.flowAcquire({ ...request(n), order: n, concurrency });
      await store.flowRelease({ ...request(n), concurrency });
    }
    const { calls, usec } = evalshaStats();
    console.log(`\nFlow scripts alone (${RUNS} acquire + release pairs)`);
    console.log(table([{ "EVALSHA calls": calls, "Redis µs per call": (usec / calls).toFixed(1) }]));
  }

  const workflow = limited("through_ten", "concurrency: { limit: 10 }");
  const store = new UpstashRedisStore({ redis: stack.redis, prefix: "flowbenchT" });
  const queue = new Queue();
  const runner = new AsyncRunner(workflow, { store, adapter: queue });
  const TOTAL = 1000;
  const started = performance.now();
  for (let n = 0; n < TOTAL; n++) await runner.run({ n });
  const enqueued = performance.now();
  await drain(queue, store, [workflow], 20);
  const done = performance.now();
  const state = await store.flowState("through_ten", Date.now());
  console.log(`\nThroughput: ${TOTAL} runs through concurrency limit 10, 20 workers`);
  console.log(table([{
    "enqueue ms": Math.round(enqueued - started),
    "drain ms": Math.round(done - enqueued),
    "runs/s (drain)": Math.round(TOTAL / ((done - enqueued) / 1000)),
    "holders left": state[0]?.holders.length ?? 0,
    "waiting left": state[0]?.waiting ?? 0,
  }]));
} finally {
  await stack.stop();
}
