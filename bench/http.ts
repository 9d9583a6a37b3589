/**
 * What an `http` step costs next to a `call` step doing the same work (a ~200-byte JSON answer): a linear chain of
 * N steps and a loop of N items, on UpstashRedisStore (a private redis-server behind the Upstash-REST bridge) with a
 * local HTTP server. Per step: store requests (HTTP requests the bridge received), request bytes, µs of wall time;
 * per commit: Redis server µs (EVALSHA in `INFO commandstats`). The http step stores its request before sending it,
 * on the checkpoint that precedes it.
 *   npx bun bench/http.ts            (RUNS=9 for more runs)
 */
import { loadWorkflow, SyncRunner, UpstashRedisStore, type WorkflowDefinition } from "../mod.ts";
import { startCountedRedis } from "./support/counted-redis.ts";
import { table } from "./workflows.ts";

const RUNS = Number(process.env.RUNS ?? 5);
const N = 50;
const PAD = "x".repeat(180);

const api = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: async (request) => Response.json({ got: await request.text(), pad: PAD }) });
const origin = `http://127.0.0.1:${api.port}`;
const services = { work: async (input: unknown) => ({ got: JSON.stringify(input), pad: PAD }) };

function step(kind: "call" | "http", id: string, item: string): Record<string, unknown> {
  return kind === "call"
    ? { id, type: "call", service: "work", input: { item } }
    : { id, type: "http", method: "POST", url: `${origin}/work`, body: { item } };
}

function linear(kind: "call" | "http"): WorkflowDefinition {
  const ids = Array.from({ length: N }, (_, i) => `s${i}`);
  return loadWorkflow({
    id: `linear_${kind}`,
    name: "Linear",
    steps: [
      { id: "start", type: "start", next: ids[0] },
      ...ids.map((id, i) => ({ ...step(kind, id, id), next: ids[i + 1] ?? "finish" })),
      { id: "finish", type: "end", result: "done" },
    ],
  });
}

function loop(kind: "call" | "http"): WorkflowDefinition {
  return loadWorkflow({
    id: `loop_${kind}`,
    name: "Loop",
    steps: [
      { id: "start", type: "start", next: "each" },
      { id: "each", type: "loop", over: "$input.items", as: "item", max: N, do: [step(kind, "work", "$item")], next: "finish" },
      { id: "finish", type: "end", result: "done" },
    ],
  });
}

const redis = await startCountedRedis();
const rows: Record<string, string | number>[] = [];
let runs = 0;
for (const [shape, make] of [["linear chain", linear], ["loop", loop]] as const) {
  for (const kind of ["call", "http"] as const) {
    const workflow = make(kind);
    const store = new UpstashRedisStore({ redis: redis.redis, prefix: `bh${++runs}` });
    const runner = new SyncRunner(workflow, { store, services });
    const input = { items: Array.from({ length: N }, (_, i) => `i${i}`) };
    await runner.run(input, { executionId: `warm-${runs}` });
    const samples: { ms: number; requests: number; bytes: number; usec: number; commits: number }[] = [];
    for (let r = 0; r < RUNS; r++) {
      redis.reset();
      const started = performance.now();
      const result = await runner.run(input, { executionId: `run-${runs}-${r}` });
      const ms = performance.now() - started;
      if (result.status !== "completed") throw new Error(`${shape} ${kind}: ${result.status} ${result.error ?? ""}`);
      const counts = redis.counts();
      const evalsha = redis.commandStats().evalsha ?? { calls: 0, usecPerCall: 0 };
      samples.push({ ms, requests: counts.requests, bytes: counts.bytes, usec: evalsha.usecPerCall, commits: evalsha.calls });
    }
    samples.sort((a, b) => a.ms - b.ms);
    const median = samples[Math.floor(samples.length / 2)]!;
    rows.push({
      shape: `${shape} of ${N}`,
      step: kind,
      "store requests / step": median.requests / N,
      "request bytes / step": Math.round(median.bytes / N),
      "µs / step": Math.round((median.ms * 1000) / N),
      "commits (EVALSHA)": median.commits,
      "Redis µs / commit": median.usec,
    });
  }
}
console.log(table(rows));
await redis.stop();
api.stop(true);
