// deno-lint-ignore-file no-explicit-any -- answers are untyped JSON
/**
 * The Workers deployment, for real: worker.ts bundled by `wrangler deploy --dry-run` (with wrangler.toml's
 * rules, so the example YAML ships as Text modules), run inside workerd through Miniflare's API, against a
 * private redis-server behind the Upstash REST bridge and the local QStash. qstash-dev delivers into the
 * worker with `mf.dispatchFetch`, so every signed callback is verified inside workerd.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { DASHBOARD_SCRIPT } from "../../routes/dashboard/app.generated.ts";
import {
  DEV_CURRENT_SIGNING_KEY,
  DEV_NEXT_SIGNING_KEY,
  DEV_QSTASH_TOKEN,
  type QStashDevServer,
  startQStashDev,
} from "durable-workflow-edge-dev/qstash";
import { Client } from "@upstash/qstash";
import { sweepScheduleIdOf } from "../../src/runners/adapters/qstash.ts";
import { signDelivery } from "../support/async-stack.ts";
import { redisServerAvailable, type RedisStack, startRedisStack } from "../support/redis.ts";

const ROOT = join(import.meta.dir, "../..");
const TOKEN = "deploy-test-token";
const PUBLIC_URL = "https://durable-workflow.example.workers.dev";

const smallOrder = {
  order_id: "W-1",
  customer_id: "C-1",
  items: [{ sku: "WIDGET", quantity: 2, price: 10 }],
  payment: { card: "4242424242424242" },
};
/** Over 1000 in total: halts at manager_approval. */
const largeOrder = {
  order_id: "W-2",
  customer_id: "C-2",
  items: [{ sku: "LAPTOP", quantity: 1, price: 1500 }],
  payment: { card: "4242424242424242" },
};

const available = redisServerAvailable();

/** wrangler.toml's compatibility_date, so the test runs the worker exactly as configured. */
function compatibilityDate(): string {
  const match = readFileSync(join(ROOT, "wrangler.toml"), "utf8").match(/^compatibility_date\s*=\s*"([^"]+)"/m);
  if (!match) throw new Error("wrangler.toml has no compatibility_date");
  return match[1]!;
}

/** `wrangler deploy --dry-run --outdir <dir>` with Node (never Bun), offline. */
async function bundleWorker(outdir: string): Promise<void> {
  const proc = Bun.spawn(["node", join(ROOT, "node_modules/.bin/wrangler"), "deploy", "--dry-run", "--outdir", outdir], {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", CI: "true", NO_COLOR: "1" },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`wrangler deploy --dry-run failed (${code}):\n${out}\n${err}`);
}

describe.skipIf(!available)("worker.ts in workerd (Miniflare) with Upstash Redis and QStash", () => {
  let outdir: string;
  let stack: RedisStack;
  let qstash: QStashDevServer;
  let mf: Miniflare;

  const call = async (path: string, init: { method?: string; body?: unknown; token?: string | null } = {}) => {
    const headers: Record<string, string> = {};
    if (init.token !== null) headers.authorization = `Bearer ${init.token ?? TOKEN}`;
    if (init.body !== undefined) headers["content-type"] = "application/json";
    const response = await mf.dispatchFetch(`${PUBLIC_URL}${path}`, {
      method: init.method ?? (init.body === undefined ? "GET" : "POST"),
      headers,
      ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, body: text ? (JSON.parse(text) as Record<string, any>) : undefined };
  };

  beforeAll(async () => {
    outdir = mkdtempSync(join(tmpdir(), "dw-worker-"));
    const [redis] = await Promise.all([startRedisStack(), bundleWorker(outdir)]);
    stack = redis;
    qstash = startQStashDev({
      port: 0,
      retryDelayMs: 1,
      // Deliveries go into the worker; the URL (DW_PUBLIC_URL/qstash) is what the signature is made for.
      fetch: async (url, init) => {
        const response = await mf.dispatchFetch(url, init as never);
        return new Response(await response.arrayBuffer(), { status: response.status, headers: [...response.headers] });
      },
    });
    mf = new Miniflare({
      // Listed, not discovered: Miniflare's module walker refuses the dynamic import() that @upstash/qstash
      // keeps for its (Node-only) dev server, which wrangler leaves in place. The main module comes first.
      modulesRoot: outdir,
      // Every other file wrangler wrote is a Text module by wrangler.toml's rules (the YAML, the dashboard's
      // style.css).
      modules: ["worker.js", ...readdirSync(outdir).filter((file) => /-.+\.(yaml|css)$/.test(file))]
        .map((file) => ({
          type: file === "worker.js" ? ("ESModule" as const) : ("Text" as const),
          path: join(outdir, file),
          contents: readFileSync(join(outdir, file), "utf8"),
        })),
      compatibilityDate: compatibilityDate(),
      cf: false,
      bindings: {
        DW_PRODUCTION: "true",
        DW_API_TOKEN: TOKEN,
        DW_PUBLIC_URL: PUBLIC_URL,
        UPSTASH_REDIS_REST_URL: stack.restUrl,
        UPSTASH_REDIS_REST_TOKEN: stack.token,
        QSTASH_URL: qstash.url,
        QSTASH_TOKEN: DEV_QSTASH_TOKEN,
        QSTASH_CURRENT_SIGNING_KEY: DEV_CURRENT_SIGNING_KEY,
        QSTASH_NEXT_SIGNING_KEY: DEV_NEXT_SIGNING_KEY,
      },
    });
    await mf.ready;
  }, 30_000);

  afterAll(async () => {
    await mf?.dispose();
    await qstash?.stop();
    await stack?.stop();
    if (outdir) rmSync(outdir, { recursive: true, force: true });
  });

  test("wrangler bundles worker.ts with every example YAML as a Text module", () => {
    const files = readdirSync(outdir);
    expect(files).toContain("worker.js");
    expect(files.filter((f) => f.endsWith(".yaml"))).toHaveLength(4);
    expect(files.filter((f) => f.endsWith("-style.css"))).toHaveLength(1);
    const size = statSync(join(outdir, "worker.js")).size;
    expect(size).toBeLessThan(3 * 1024 * 1024);
  });

  test("serves the dashboard's bundled script and its style.css (a Text module) as they are", async () => {
    expect(await (await mf.dispatchFetch(`${PUBLIC_URL}/dashboard/app.js`)).text()).toBe(DASHBOARD_SCRIPT);
    const style = await mf.dispatchFetch(`${PUBLIC_URL}/dashboard/app.css`);
    expect(await style.text()).toBe(readFileSync(join(ROOT, "routes/dashboard/style.css"), "utf8"));
  });

  test("GET /health answers with the version; the API needs the token (production)", async () => {
    const health = await call("/health", { token: null });
    expect(health.status).toBe(200);
    expect(health.body).toEqual({ ok: true, version: JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version });
    expect((await call("/workflows", { token: null })).status).toBe(401);
    const workflows = await call("/workflows");
    expect(workflows.body!.workflows.map((w: { id: string }) => w.id).sort()).toEqual([
      "batch_pricing",
      "customer_profile",
      "greeting",
      "order_fulfillment",
    ]);
  });

  test("a sync run of the order workflow completes, checkpointed in Redis", async () => {
    const run = await call("/workflows/order_fulfillment/executions", {
      body: { mode: "sync", executionId: "order-sync-1", input: smallOrder },
    });
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ status: "completed", executionId: "order-sync-1", output: { order_id: "W-1", status: "completed" } });
    expect(run.body!.output.tracking_number).toBeString();
    expect(await stack.redis.hget("dw:exec:order-sync-1", "status")).toBe("completed");
  });

  test("an async run is delivered by QStash to the worker's signed callback and completes", async () => {
    const started = await call("/workflows/order_fulfillment/executions", { body: { executionId: "order-async-1", input: smallOrder } });
    expect(started.status).toBe(202);
    expect(started.body).toEqual({ executionId: "order-async-1", status: "pending" });
    await qstash.waitIdle(15_000);
    const delivered = qstash.messages().filter((m) => m.kind === "message" && m.body?.includes("order-async-1"));
    expect(delivered.map((m) => [m.url, m.state])).toEqual([[`${PUBLIC_URL}/qstash`, "DELIVERED"]]);
    const execution = await call("/executions/order-async-1");
    expect(execution.body).toMatchObject({ status: "completed", result: { status: "completed", order_id: "W-1" } });
  });

  test("a large order halts for approval, is resumed (approved) through QStash and completes", async () => {
    const started = await call("/workflows/order_fulfillment/executions", { body: { executionId: "order-large-1", input: largeOrder } });
    expect(started.status).toBe(202);
    await qstash.waitIdle(15_000);
    const halted = await call("/executions/order-large-1");
    expect(halted.body).toMatchObject({ status: "halted", currentStep: "manager_approval" });
    expect(halted.body!.haltData.prompt).toBe("Approve order W-2 for 1625.99?");

    const resumed = await call("/executions/order-large-1/resume", { body: { approved: true } });
    expect(resumed.status).toBe(202);
    await qstash.waitIdle(15_000);
    const done = await call("/executions/order-large-1");
    expect(done.body).toMatchObject({ status: "completed", result: { status: "completed", order_id: "W-2", totals: { total: 1625.99 } } });
    const entries = await call("/executions/order-large-1/entries");
    expect(entries.body!.entries.map((e: { stepId: string }) => e.stepId)).toContain("manager_approval");
  });

  test("a delivery signed with another key is refused with 401 inside workerd, and nothing runs", async () => {
    const body = JSON.stringify({ workflowId: "order_fulfillment", executionId: "order-large-1", action: "resume", approved: false });
    const signature = await signDelivery({ url: `${PUBLIC_URL}/qstash`, body, key: "sig_not_the_right_key" });
    const response = await mf.dispatchFetch(`${PUBLIC_URL}/qstash`, {
      method: "POST",
      headers: { "content-type": "application/json", "upstash-signature": signature },
      body,
    });
    expect(response.status).toBe(401);
    await response.arrayBuffer();
    const unsigned = await mf.dispatchFetch(`${PUBLIC_URL}/qstash`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body,
    });
    expect(unsigned.status).toBe(401);
    await unsigned.arrayBuffer();
    expect((await call("/executions/order-large-1")).body!.status).toBe("completed");
  });

  test("the worker makes sure of its QStash sweep schedule, under the fixed id of its callback URL", async () => {
    await call("/health", { token: null });
    const client = new Client({ baseUrl: qstash.url, token: DEV_QSTASH_TOKEN, retry: false, enableTelemetry: false });
    let schedules = await client.schedules.list();
    for (let i = 0; i < 100 && schedules.length === 0; i++) schedules = await Bun.sleep(20).then(() => client.schedules.list());
    expect(schedules.map((s) => [s.scheduleId, s.destination, s.cron])).toEqual([
      [sweepScheduleIdOf(`${PUBLIC_URL}/qstash`), `${PUBLIC_URL}/qstash`, "* * * * *"],
    ]);
  });

  test("its Cron Trigger handler (scheduled) ticks inside workerd", async () => {
    // Miniflare's Fetcher type lacks scheduled(), which workerd's service bindings have.
    const worker = (await mf.getWorker()) as unknown as { scheduled(options: { cron: string }): Promise<{ outcome: string }> };
    const result = await worker.scheduled({ cron: "* * * * *" });
    expect(result.outcome).toBe("ok");
  });
});
