/**
 * The same sequential N-step workflow (N = 20, 100, 500; step results tiny and ~1 KB) on @upstash/workflow
 * 1.3.3 (its Hono `serve`) and on this engine (AsyncRunner + QStashAdapter + UpstashRedisStore, the app's
 * POST /qstash), both served with Bun.serve and driven by qstash-dev, on loopback, in the same run.
 * Per system: deliveries to the endpoint, requests to QStash, requests to Redis, bytes over the wire (QStash
 * delivered + received, Redis request bodies), wall and CPU ms per step, and their figures over ours. Our engine runs as
 * many steps per delivery as its time budget allows (the default), theirs one step per delivery.
 * `--latency redis=MS,qstash=MS` adds MS to every Redis request (the bridge) and to every publish and delivery
 * (qstash-dev), as an edge deployment sees them: the table then shows what a user sees in production.
 *   npx bun bench/vs-upstash-workflow.ts            (RUNS=5 for more runs: 3 × RUNS below N = 500; SIZES=20,100 to skip N = 500)
 *   SIZES=20,100 npx bun bench/vs-upstash-workflow.ts --latency redis=2,qstash=20
 */
import { Client as QStashClient, Receiver } from "@upstash/qstash";
import { Client as WorkflowClient } from "@upstash/workflow";
import { serve } from "@upstash/workflow/hono";
import { Hono } from "hono";
import { AsyncRunner, QStashAdapter, UpstashRedisStore } from "../mod.ts";
import { createApp } from "../routes/app.ts";
import { DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY, DEV_QSTASH_TOKEN, startQStashDev } from "durable-workflow-edge-dev/qstash";
import { freePort } from "../tests/support/redis.ts";
import { startCountedRedis } from "./support/counted-redis.ts";
import { latencyLabel, parseLatency } from "./support/latency.ts";
import { medianOf, timed, type Timing } from "./support/timing.ts";
import { linearWorkflow, table } from "./workflows.ts";

const RUNS = Number(process.env.RUNS ?? 3);
const SIZES = (process.env.SIZES ?? "20,100,500").split(",").map(Number);
const RESULTS = { tiny: () => ({ ok: true }), "~1 KB": () => ({ ok: true, data: "x".repeat(1000) }) };
type ResultSize = keyof typeof RESULTS;
/** A step result: `{ i, ok }` (tiny) or with 1 000 more bytes. */
const stepResult = (i: number, size: ResultSize) => ({ i, ...RESULTS[size]() });
const TIMEOUT_MS = 600_000;
const WARM_UP_RUNS = 3;

const latency = parseLatency(Bun.argv);
const redis = await startCountedRedis({ latencyMs: latency.redisMs });
const QSTASH_PORT = freePort();
const startQStash = () => startQStashDev({ port: QSTASH_PORT, retryDelayMs: 1, latencyMs: latency.qstashMs });
let qstash = startQStash();
/** qstash-dev keeps every message it delivered: a new one (same URL) for each measurement keeps the heap, and GC, small. */
async function freshQStash(): Promise<void> {
  await qstash.stop();
  qstash = startQStash();
  Bun.gc(true);
}
const qstashClient = () => new QStashClient({ baseUrl: qstash.url, token: DEV_QSTASH_TOKEN, retry: false, enableTelemetry: false });

// ---- @upstash/workflow ----
const theirApp = new Hono().post(
  "/workflow",
  serve<{ n: number; size: ResultSize }>(async (context) => {
    const { n, size } = context.requestPayload;
    let last: unknown = null;
    for (let i = 0; i < n; i++) last = await context.run(`step-${i}`, () => stepResult(i, size));
    return last;
  }, {
    qstashClient: qstashClient(),
    receiver: new Receiver({ currentSigningKey: DEV_CURRENT_SIGNING_KEY, nextSigningKey: DEV_NEXT_SIGNING_KEY }),
    env: {},
    disableTelemetry: true,
  }),
);
const theirServer = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 0, fetch: theirApp.fetch });
const theirUrl = `http://127.0.0.1:${theirServer.port}/workflow`;
const workflowClient = new WorkflowClient({ baseUrl: qstash.url, token: DEV_QSTASH_TOKEN });

async function runTheirs(n: number, size: ResultSize): Promise<void> {
  const { workflowRunId } = await workflowClient.trigger({ url: theirUrl, body: { n, size } });
  const run = await qstash.dev.waitForRun(workflowRunId, TIMEOUT_MS);
  if (run.ended?.cancelled !== false) throw new Error(`@upstash/workflow run ${workflowRunId} did not end normally`);
}

// ---- this engine ----
const workflows = new Map(SIZES.map((n) => [n, linearWorkflow(n)]));
/** The result size of the measurement under way (the workflows pass only `{ i }` to their calls). */
let ourSize: ResultSize = "tiny";
const store = new UpstashRedisStore({ redis: redis.redis, prefix: `vs${Math.random().toString(36).slice(2, 8)}` });
const services = { work: async ({ i }: { i: number }) => stepResult(i, ourSize) };
const completions = new Map<string, () => void>();
/** Set once the server's port, hence the callback URL, is known. */
// deno-lint-ignore prefer-const -- set once the server is listening
let ourApp: ReturnType<typeof createApp> | undefined;
const ourServer = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  idleTimeout: 0,
  async fetch(request) {
    const response = await ourApp!.fetch(request);
    const answer = await response.clone().text();
    const match = /"executionId":"([^"]+)"/.exec(answer);
    if (match && answer.includes('"status":"completed"')) completions.get(match[1]!)?.();
    return response;
  },
});
const callbackUrl = `http://127.0.0.1:${ourServer.port}/qstash`;
const adapter = new QStashAdapter({ client: qstashClient(), callbackUrl });
ourApp = createApp({
  store,
  workflows: [...workflows.values()],
  services,
  adapter,
  qstash: { currentSigningKey: DEV_CURRENT_SIGNING_KEY, nextSigningKey: DEV_NEXT_SIGNING_KEY },
});

let ids = 0;
async function runOurs(n: number, size: ResultSize): Promise<void> {
  const id = `vs-${n}-${++ids}`;
  const done = new Promise<void>((resolve) => completions.set(id, resolve));
  ourSize = size;
  await new AsyncRunner(workflows.get(n)!, { store, adapter }).run({}, { executionId: id });
  await done;
  completions.delete(id);
  await qstash.waitIdle(TIMEOUT_MS);
}

// ---- measuring ----
interface Sample extends Timing {
  deliveries: number;
  qstashRequests: number;
  redisRequests: number;
  bytes: number;
}

async function sample(run: () => Promise<void>): Promise<Sample> {
  qstash.dev.resetStats();
  redis.reset();
  const timing = await timed(run);
  const q = qstash.dev.stats();
  const r = redis.counts();
  return {
    ...timing,
    deliveries: q.deliveries,
    qstashRequests: q.requests,
    redisRequests: r.requests,
    bytes: q.bytesDelivered + q.bytesReceived + r.bytes,
  };
}

/** Median times of `runs` runs; the counts of the first (they do not vary). */
async function measure(runs: number, run: () => Promise<void>): Promise<Sample> {
  await freshQStash();
  const samples: Sample[] = [];
  for (let i = 0; i < runs; i++) samples.push(await sample(run));
  return { ...samples[0]!, ...medianOf(samples) };
}

const kb = (bytes: number) => Math.round(bytes / 1024);

try {
  // Warm-up: each system a few times per result size (code paths compiled, Lua scripts loaded).
  for (const size of Object.keys(RESULTS) as ResultSize[]) {
    for (let i = 0; i < WARM_UP_RUNS; i++) {
      await runTheirs(SIZES[0]!, size);
      await runOurs(SIZES[0]!, size);
    }
  }
  const rows: Record<string, string | number>[] = [];
  const verdicts: string[] = [];
  for (const size of Object.keys(RESULTS) as ResultSize[]) {
    for (const n of SIZES) {
      const runs = n >= 500 ? RUNS : 3 * RUNS;
      const theirs = await measure(runs, () => runTheirs(n, size));
      const ours = await measure(runs, () => runOurs(n, size));
      for (const [system, s] of [["@upstash/workflow", theirs], ["this engine", ours]] as const) {
        rows.push({
          results: size,
          N: n,
          system,
          deliveries: s.deliveries,
          "QStash req": s.qstashRequests,
          "Redis req": s.redisRequests,
          "KB on wire": kb(s.bytes),
          "bytes/step": Math.round(s.bytes / n),
          "ms/run": s.wallMs,
          "ms/step": s.wallMs / n,
          "CPU ms/step": s.cpuMs / n,
        });
      }
      const speedup = theirs.wallMs / ours.wallMs;
      const cpuSpeedup = theirs.cpuMs / ours.cpuMs;
      rows.push({
        results: size,
        N: n,
        system: "theirs / ours",
        deliveries: theirs.deliveries / ours.deliveries,
        "QStash req": theirs.qstashRequests / ours.qstashRequests,
        "Redis req": "",
        "KB on wire": theirs.bytes / ours.bytes,
        "bytes/step": "",
        "ms/run": speedup,
        "ms/step": speedup,
        "CPU ms/step": cpuSpeedup,
      });
      const target = n === 20 ? 3 : n === 500 ? 10 : undefined;
      if (target !== undefined) {
        verdicts.push(
          `${size} results, N = ${n}: ${speedup.toFixed(1)}× less wall time per step (target ≥ ${target}×) ${
            speedup >= target ? "PASS" : "MISS"
          }; ${cpuSpeedup.toFixed(1)}× less CPU time`,
        );
      }
    }
  }
  console.log(
    `@upstash/workflow 1.3.3 vs this engine, sequential N-step workflow through qstash-dev, median of ${
      3 * RUNS
    } runs (${RUNS} at N ≥ 500) (${navigator.userAgent}, ${latencyLabel(latency)})\n`,
  );
  console.log(table(rows));
  console.log(`\n${verdicts.join("\n")}`);
  console.log(`\nbytes/step: ours stays flat as N grows (linear total), theirs grows with N (quadratic total).`);
} finally {
  await qstash.stop();
  await theirServer.stop(true);
  await ourServer.stop(true);
  await redis.stop();
}
