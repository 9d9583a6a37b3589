/**
 * What labels cost on UpstashRedisStore (a private redis-server behind the Upstash-REST bridge): Redis server µs
 * per commit (EVALSHA in `INFO commandstats`) for the creating commit and for a later one, without labels and with
 * 3 labels; and µs per `find` page (limit 50) by one label, two labels and a label + status, among N executions.
 *   npx bun bench/labels.ts            (N=2000 by default)
 */
import { UpstashRedisStore } from "../mod.ts";
import { type Execution, newExecution } from "../src/types.ts";
import { startCountedRedis } from "./support/counted-redis.ts";
import { table } from "./workflows.ts";

const N = Number(process.env.N ?? 2000);
const redis = await startCountedRedis();
const base = Date.parse("2026-01-01T00:00:00Z");

function execution(i: number, labels: Record<string, string>): Execution {
  const at = new Date(base + i * 1000).toISOString();
  const fields = { workflowId: "bench", workflowVersion: "1", workflowHash: "h", status: "running" as const, recoverTo: null };
  return { ...newExecution({ id: `b-${i}`, ...fields, input: { i }, createdAt: at, deadline: null, labels }), currentStep: "start" };
}

function usecPerCall(): number {
  return redis.commandStats().evalsha?.usecPerCall ?? 0;
}

const rows: Record<string, string | number>[] = [];
let prefix = 0;
for (const labelled of [false, true]) {
  const store = new UpstashRedisStore({ redis: redis.redis, prefix: `lb${++prefix}` });
  const labelsOf = (i: number): Record<string, string> =>
    labelled ? { customer: `C-${i % 50}`, tier: i % 3 ? "silver" : "gold", region: `r${i % 4}` } : {};
  redis.reset();
  for (let i = 0; i < N; i++) await store.commit({ execution: execution(i, labelsOf(i)), expectedRevision: 0 });
  const create = usecPerCall();
  redis.reset();
  for (let i = 0; i < N; i++) {
    await store.commit({
      execution: { ...execution(i, labelsOf(i)), status: i % 5 ? "completed" : "failed", revision: 1 },
      expectedRevision: 1,
    });
  }
  const later = usecPerCall();
  rows.push({ labels: labelled ? 3 : 0, executions: N, "Redis µs / creating commit": create, "Redis µs / later commit": later });
  if (!labelled) continue;
  for (
    const [name, query] of [
      ["find label (1 in 50)", { labels: { customer: "C-7" } }],
      ["find 2 labels", { labels: { customer: "C-7", tier: "gold" } }],
      ["find label + status", { labels: { customer: "C-7" }, status: "failed" as const }],
    ] as const
  ) {
    redis.reset();
    const page = await store.find({ ...query, limit: 50 });
    rows.push({ labels: name, executions: page.executions.length, "Redis µs / creating commit": "", "Redis µs / later commit": "" });
    rows.at(-1)!["Redis µs / find"] = redis.commandStats().evalsha?.usecPerCall ?? 0;
  }
}
for (const row of rows) row["Redis µs / find"] ??= "";
console.log(table(rows));
await redis.stop();
