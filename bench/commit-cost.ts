/**
 * Redis server time per commit: RUNS runs of the 20-step linear workflow (SyncRunner on UpstashRedisStore, a private
 * redis-server behind the Upstash-REST bridge), then `INFO commandstats`: the server's µs per script call (the runs
 * make only commits: a new execution is never loaded) and per command the scripts ran. ROOT=<checkout> measures
 * another checkout's code the same way (e.g. main, for a before/after).
 *   npx bun bench/commit-cost.ts
 */
import { startRedisStack } from "../tests/support/redis.ts";

const RUNS = Number(process.env.RUNS ?? 200);
const root = process.env.ROOT ?? new URL("..", import.meta.url).pathname;
const { SyncRunner, UpstashRedisStore } = await import(`${root}/mod.ts`);
const { linearWorkflow, work } = await import(`${root}/bench/workflows.ts`);

const stack = await startRedisStack();
const cli = (...args: string[]) => Bun.spawnSync(["redis-cli", "-u", stack.redisUrl, ...args]).stdout.toString();
try {
  const store = new UpstashRedisStore({ redis: stack.redis, prefix: "cost" });
  const runner = new SyncRunner(linearWorkflow(20), { store, services: { work } });
  await runner.run({}, { executionId: "warm-up" });
  cli("CONFIG", "RESETSTAT");
  for (let i = 0; i < RUNS; i++) await runner.run({}, { executionId: `cost-${i}` });
  const stats = Object.fromEntries(
    cli("INFO", "commandstats").split("\n").filter((line) => line.startsWith("cmdstat_")).map((line) => {
      const [name, fields] = line.trim().split(":");
      const values = Object.fromEntries(fields!.split(",").map((pair) => pair.split("=")));
      return [name!.slice(8), { calls: Number(values.calls), usec: Number(values.usec), perCall: Number(values.usec_per_call) }];
    }),
  );
  const scripts = stats.evalsha ?? stats.eval;
  console.log(`commit cost: ${RUNS} runs of linear 20 (${root})`);
  console.log(`  script calls ${scripts?.calls}, Redis µs per call ${scripts?.perCall.toFixed(2)}`);
  console.log(
    `  commands per script call ${
      Object.entries(stats).filter(([name]) => name !== "evalsha" && name !== "eval").map(([name, s]) =>
        `${name} ${(s.calls / scripts!.calls).toFixed(2)}`
      ).join(", ")
    }`,
  );
} finally {
  await stack.stop();
}
