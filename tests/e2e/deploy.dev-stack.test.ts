/**
 * `npm run dev:stack`: the production path locally (redis-server → bridge → UpstashRedisStore, qstash-dev →
 * signed callback → the app, a QStash schedule that sweeps), then Ctrl-C (SIGINT) stops every child by its PID.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEV_QSTASH_TOKEN } from "durable-workflow-edge-dev/qstash";
import { freePort, redisServerAvailable } from "../support/redis.ts";
import { alive, cleanEnv, type ServerProcess, startServer } from "../support/deploy.ts";

const available = redisServerAvailable();
const dataDir = mkdtempSync(join(tmpdir(), "dw-dev-stack-"));
let stack: ServerProcess | undefined;
afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

const redisEnv = { REDIS_SERVER: process.env.REDIS_SERVER ?? "/usr/bin/redis-server" };

/** The schedules qstash-dev holds (its REST API, as the SDK reads them). */
async function schedules(qstashPort: number): Promise<{ destination: string; cron: string; body?: string }[]> {
  const response = await fetch(`http://127.0.0.1:${qstashPort}/v2/schedules`, { headers: { authorization: `Bearer ${DEV_QSTASH_TOKEN}` } });
  return (await response.json()) as { destination: string; cron: string; body?: string }[];
}

test.skipIf(!available)("dev:stack runs an async order through Redis and QStash on $PORT, and Ctrl-C stops every child", async () => {
  const [port, bridgePort, qstashPort] = [freePort(), freePort(), freePort()];
  stack = await startServer(
    [
      process.execPath,
      "tools/dev-stack.ts",
      "--bridge-port",
      String(bridgePort),
      "--qstash-port",
      String(qstashPort),
      "--data-dir",
      dataDir,
      "--quiet",
    ],
    { port, env: cleanEnv({ ...redisEnv, PORT: String(port) }) },
  );
  const order = {
    order_id: "D-1",
    customer_id: "C-1",
    items: [{ sku: "WIDGET", quantity: 1, price: 5 }],
    payment: { card: "4242424242424242" },
  };
  const started = await fetch(`${stack.url}/workflows/order_fulfillment/executions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ executionId: "dev-stack-1", input: order }),
  });
  expect(started.status).toBe(202);
  let status = "";
  for (let i = 0; i < 100 && status !== "completed"; i++) {
    await Bun.sleep(50);
    status = ((await (await fetch(`${stack.url}/executions/dev-stack-1`)).json()) as { status: string }).status;
  }
  expect(status).toBe("completed");
  // By now the app's startup lines have come through the stack's relay.
  expect(stack.output()).toContain(`export UPSTASH_REDIS_REST_URL=http://127.0.0.1:${bridgePort}`);
  expect(stack.output()).toContain(`async queue QStash (http://127.0.0.1:${qstashPort}) → http://127.0.0.1:${port}/qstash`);

  expect(stack.output()).toContain("export DW_SWEEP_SECONDS=0");
  expect(await schedules(qstashPort)).toEqual([
    expect.objectContaining({
      destination: `http://127.0.0.1:${port}/qstash`,
      cron: "* * * * *",
      body: JSON.stringify({ action: "sweep" }),
    }),
  ]);

  const pids = [...stack.output().matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
  expect(pids).toHaveLength(2); // redis-server and the app
  process.kill(stack.pid, "SIGINT");
  const code = await Promise.race([stack.exited, Bun.sleep(10_000).then(() => "still running")]);
  expect(code).toBe(0);
  expect(stack.output()).toContain("dev-stack: stopped");
  await stack.stop();
  stack = undefined;
  for (const pid of pids) expect(alive(pid)).toBe(false);
}, 30_000);

test.skipIf(!available)(
  "dev:stack --no-app starts Redis, the bridge, qstash-dev and the sweep schedule, and Ctrl-C stops them",
  async () => {
    const [port, bridgePort, qstashPort] = [freePort(), freePort(), freePort()];
    const proc = Bun.spawn(
      [
        process.execPath,
        "tools/dev-stack.ts",
        "--no-app",
        "--port",
        String(port),
        "--bridge-port",
        String(bridgePort),
        "--qstash-port",
        String(qstashPort),
        "--data-dir",
        dataDir,
        "--quiet",
      ],
      { cwd: join(import.meta.dir, "../.."), env: cleanEnv(redisEnv), stdout: "pipe", stderr: "pipe" },
    );
    try {
      const output = new Response(proc.stdout).text();
      for (let i = 0; i < 200 && (await schedules(qstashPort).catch(() => [])).length === 0; i++) await Bun.sleep(50);
      expect(await schedules(qstashPort)).toEqual([expect.objectContaining({ destination: `http://127.0.0.1:${port}/qstash` })]);
      const health = await fetch(`http://127.0.0.1:${bridgePort}/`, {
        method: "POST",
        headers: { authorization: "Bearer dev-token" },
        body: JSON.stringify(["PING"]),
      });
      expect(health.status).toBe(200);
      process.kill(proc.pid, "SIGINT");
      expect(await Promise.race([proc.exited, Bun.sleep(10_000).then(() => "still running")])).toBe(0);
      expect(await output).toContain("app               not started (--no-app)");
      const pid = Number(/pid (\d+)/.exec(await output)?.[1]);
      expect(alive(pid)).toBe(false);
    } finally {
      if (proc.exitCode === null) proc.kill("SIGKILL");
    }
  },
  30_000,
);
