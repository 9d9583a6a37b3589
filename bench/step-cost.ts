/**
 * The cost of a step against its store round trip (issue 22, item 2): a 100-step tiny run (the linear workflow,
 * SyncRunner on UpstashRedisStore through the Upstash-REST bridge to a private redis-server), time per step, next to
 * one bare commit-sized EVALSHA through the same bridge: a script that returns at once, sent with the KEYS and ARGV
 * of a real checkpoint of that run (the median-sized one), in a tight loop. Runs and bare calls alternate, so both
 * see the same machine. Also printed, to say where a step's time goes: the Redis server time per script call (INFO
 * commandstats) and the time of the checkpoint requests inside a run (this checkout's store through a client that
 * times each script call; the rest of a step is the engine and the store's client-side work).
 * Where the rest goes: the same run per checkout through an instant client (a fake that answers every script at once:
 * the engine and the store's client-side work alone), and the bare EVALSHA's request sent with fetch itself (the same
 * JSON body and headers, no @upstash/redis: what the client library adds). The bridge runs in this process, so its
 * CPU is part of every request's time, the bare ones included.
 * With BASE=<checkout> (bench/base.sh) that checkout's code runs the same workflow in the same rounds (before / after).
 * Target: time per step ≤ 1.3 × the bare EVALSHA. `--latency redis=MS` makes the bridge add MS to every request (the
 * bare one too), as a REST request from an edge isolate to its Upstash region pays it.
 *   npx bun bench/step-cost.ts [--latency redis=2]        (BASE=<checkout> for "before": bench/base.sh)
 */
import { startRedisStack } from "../tests/support/redis.ts";
import { checkouts, ratio } from "./support/checkouts.ts";
import { commandStats, resetStats, scriptStats } from "./support/redis-stats.ts";
import { latencyLabel, parseLatency } from "./support/latency.ts";
import { median } from "./support/timing.ts";

const STEPS = 100;
const ROUNDS = Number(process.env.ROUNDS ?? 30);
const BARE_PER_ROUND = 20;
const TARGET = 1.3;

const us = (ms: number) => `${(ms * 1000).toFixed(0)} µs`;
const latency = parseLatency(Bun.argv);
const stack = await startRedisStack({ latencyMs: latency.redisMs });
try {
  const loaded = await checkouts();
  // This checkout's store through a client that keeps every commit's KEYS, ARGV and request time.
  const commits: { keys: string[]; args: string[]; ms: number; bareMs: number }[] = [];
  const bare = stack.redis.createScript("return 1");
  const timing = {
    lrange: stack.redis.lrange.bind(stack.redis),
    createScript: (source: string) => {
      const script = stack.redis.createScript(source);
      return {
        async exec(keys: string[], args: string[]) {
          // A commit's ARGV has at least 24 items (its fixed part); the other scripts' far fewer.
          if (args.length < 24) return await script.exec(keys, args);
          // The bare script first, in the commit's place (right after the engine's work), then the commit itself.
          let started = performance.now();
          await bare.exec(keys, args);
          const bareMs = performance.now() - started;
          started = performance.now();
          const reply = await script.exec(keys, args);
          commits.push({ keys, args, ms: performance.now() - started, bareMs });
          return reply;
        },
      };
    },
  };
  const { SyncRunner, UpstashRedisStore } = loaded[0]!.mod;
  const { linearWorkflow, work } = loaded[0]!.workflows;
  const timed = new SyncRunner(linearWorkflow(STEPS), {
    store: new UpstashRedisStore({ redis: timing, prefix: "timed" }),
    services: { work },
  });
  await timed.run({}, { executionId: "timed-warm-up" });
  const bySize = [...commits].sort((a, b) => a.args.join("").length - b.args.join("").length);
  const checkpoint = bySize[Math.floor(bySize.length / 2)]!;
  commits.length = 0;

  // Answers every script at once: a commit (ARGV of 24 and more) with [1, revision, sizes, queue score], the reads of
  // the current definition (ARGV: prefix, workflow id) with none, a definition's storage with [stored, current].
  const instant = {
    lrange: async () => [],
    createScript: () => ({
      exec: async (_keys: string[], argv: string[]) =>
        argv.length >= 24 ? [1, Number(argv[2] || 0) + 1, 1000, 10, Number(argv[15] || 0)] : argv.length === 2 ? null : [1, 1],
    }),
  };
  const runners = loaded.map((checkout) => {
    const { SyncRunner, UpstashRedisStore } = checkout.mod;
    const { linearWorkflow, work } = checkout.workflows;
    const runnerOn = (redis: unknown) =>
      new SyncRunner(linearWorkflow(STEPS), {
        store: new UpstashRedisStore({ redis, prefix: `step-${checkout.label}` }),
        services: { work },
      });
    return {
      checkout,
      runner: runnerOn(stack.redis),
      alone: runnerOn(instant),
      perStep: [] as number[],
      alonePerStep: [] as number[],
      server: { calls: 0, usec: 0 },
    };
  });
  // The bare EVALSHA as fetch sends it, without the client library.
  const sha = await stack.redis.scriptLoad("return 1");
  const fetchBody = JSON.stringify(["EVALSHA", sha, checkpoint.keys.length, ...checkpoint.keys, ...checkpoint.args]);
  const fetchHeaders = { authorization: `Bearer ${stack.token}`, "content-type": "application/json", "upstash-encoding": "base64" };
  const bareFetch = async () => {
    const response = await fetch(stack.restUrl, { method: "POST", headers: fetchHeaders, body: fetchBody });
    if ((await response.json()).result !== 1) throw new Error("the bare fetch did not answer 1");
  };
  const bareMs: number[] = [];
  const fetchMs: number[] = [];
  let n = 0;
  for (const { runner, alone } of runners) {
    await runner.run({}, { executionId: `warm-up-${n++}` });
    for (let i = 0; i < 20; i++) await alone.run({}, { executionId: `warm-up-${n++}` });
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const { runner, alone, perStep, alonePerStep, server } of runners) {
      let started = performance.now();
      for (let i = 0; i < 5; i++) await alone.run({}, { executionId: `alone-${round}-${i}` });
      alonePerStep.push((performance.now() - started) / STEPS / 5);
      resetStats(stack.redisUrl);
      started = performance.now();
      const result = await runner.run({}, { executionId: `step-${round}` });
      perStep.push((performance.now() - started) / STEPS);
      if (result.status !== "completed") throw new Error(`run ended ${result.status}`);
      const scripts = scriptStats(commandStats(stack.redisUrl));
      server.calls += scripts.calls;
      server.usec += scripts.usec;
    }
    for (let i = 0; i < BARE_PER_ROUND; i++) {
      let started = performance.now();
      await bare.exec(checkpoint.keys, checkpoint.args);
      bareMs.push(performance.now() - started);
      started = performance.now();
      await bareFetch();
      fetchMs.push(performance.now() - started);
    }
    await timed.run({}, { executionId: `timed-${round}` });
  }
  const bareMedian = median(bareMs);
  const size = checkpoint.args.join("").length;
  console.log(
    `step cost: ${ROUNDS} rounds of one ${STEPS}-step linear run per checkout and ${BARE_PER_ROUND} bare EVALSHAs (${
      latencyLabel(latency)
    })`,
  );
  console.log(
    `  bare EVALSHA (return 1) with a checkpoint's KEYS + ARGV (${checkpoint.args.length} args, ${size} chars): ${us(bareMedian)}`,
  );
  console.log(`  the same request by fetch itself (no @upstash/redis): ${us(median(fetchMs))}`);
  const perStep = new Map<string, number>();
  const alonePerStep = new Map<string, number>();
  for (const { checkout, perStep: times, alonePerStep: aloneTimes, server } of runners) {
    const ms = median(times);
    perStep.set(checkout.label, ms);
    alonePerStep.set(checkout.label, median(aloneTimes));
    const serverUs = (server.usec / server.calls).toFixed(1);
    console.log(
      `  ${checkout.label.padEnd(6)} ${us(ms)} per step = ${
        (ms / bareMedian).toFixed(2)
      } × bare; Redis ${serverUs} µs per script call; engine + store client alone (instant client) ${
        us(median(aloneTimes))
      } per step  (${checkout.root})`,
    );
  }
  const after = perStep.get("after")!;
  const inRun = median(commits.map((commit) => commit.ms));
  const bareInRun = median(commits.map((commit) => commit.bareMs));
  console.log(
    `  inside a run (after), in a commit's place: the bare EVALSHA ${us(bareInRun)}, the commit request ${us(inRun)} = ${
      (inRun / bareInRun).toFixed(2)
    } × that bare; the rest of a step (engine, store client) ${us(after - inRun)}`,
  );
  console.log(
    `  per step: ${ratio(after, perStep.get("before"))}; engine + store client alone: ${
      ratio(alonePerStep.get("after")!, alonePerStep.get("before"))
    }`,
  );
  console.log(
    `  target per step ≤ ${TARGET} × bare EVALSHA: ${(after / bareMedian).toFixed(2)} ${after / bareMedian <= TARGET ? "PASS" : "MISS"}`,
  );
} finally {
  await stack.stop();
}
