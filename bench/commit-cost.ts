/**
 * Redis server time per commit: RUNS runs of the 20-step linear workflow (SyncRunner on UpstashRedisStore, a private
 * redis-server behind the Upstash-REST bridge), then `INFO commandstats`: the server's µs per script call (the runs
 * make only commits, but for one definition lookup per run) and per command the scripts ran. With BASE=<checkout> (bench/base.sh)
 * that checkout's code is measured too, in the same run, on the same redis-server, in alternating rounds (before /
 * after). Target (issue 22): ≤ 50 µs of server time per script call.
 *   npx bun bench/commit-cost.ts        (BASE=$(bash bench/base.sh <commit>) for "before")
 */
import { startRedisStack } from "../tests/support/redis.ts";
import { checkouts, ratio } from "./support/checkouts.ts";
import { type CommandStats, commandStats, resetStats, scriptStats } from "./support/redis-stats.ts";

const RUNS = Number(process.env.RUNS ?? 100);
const ROUNDS = Number(process.env.ROUNDS ?? 3);
const TARGET_US = 50;

const stack = await startRedisStack();
try {
  const measured = await Promise.all((await checkouts()).map(async (checkout) => {
    const { SyncRunner, UpstashRedisStore } = checkout.mod;
    const { linearWorkflow, work } = checkout.workflows;
    const store = new UpstashRedisStore({ redis: stack.redis, prefix: `cost-${checkout.label}` });
    return { checkout, runner: new SyncRunner(linearWorkflow(20), { store, services: { work } }), totals: {} as CommandStats };
  }));
  let n = 0;
  for (const { runner } of measured) await runner.run({}, { executionId: `warm-up-${n++}` });
  for (let round = 0; round < ROUNDS; round++) {
    for (const { runner, totals } of measured) {
      resetStats(stack.redisUrl);
      for (let i = 0; i < RUNS; i++) await runner.run({}, { executionId: `cost-${round}-${i}` });
      for (const [name, s] of Object.entries(commandStats(stack.redisUrl))) {
        const total = totals[name] ??= { calls: 0, usec: 0 };
        total.calls += s.calls;
        total.usec += s.usec;
      }
    }
  }
  console.log(`commit cost: ${ROUNDS} rounds × ${RUNS} runs of linear 20 per checkout, one redis-server`);
  const perCall = new Map<string, number>();
  for (const { checkout, totals } of measured) {
    const { calls: scripts, usec } = scriptStats(totals);
    const us = usec / scripts;
    perCall.set(checkout.label, us);
    const commands = Object.entries(totals).filter(([name]) => !/^(evalsha|eval|config\|resetstat)$/.test(name))
      .map(([name, s]) => `${name} ${(s.calls / scripts).toFixed(2)}`).join(", ");
    console.log(`  ${checkout.label.padEnd(6)} ${checkout.root}`);
    console.log(`         script calls ${scripts}, Redis µs per script call ${us.toFixed(2)}`);
    console.log(`         commands per script call: ${commands}`);
  }
  const after = perCall.get("after")!;
  console.log(`  Redis µs per script call: ${after.toFixed(2)} ${ratio(after, perCall.get("before"))}`);
  console.log(`  target ≤ ${TARGET_US} µs: ${after <= TARGET_US ? "PASS" : "MISS"}`);
} finally {
  await stack.stop();
}
