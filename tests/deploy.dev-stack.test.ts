/**
 * `npm run dev:stack`: the production path locally (redis-server → bridge → UpstashRedisStore, qstash-dev →
 * signed callback → the app), then Ctrl-C (SIGINT) stops every child by its PID.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, redisServerAvailable } from "./support/redis.ts";
import { cleanEnv, type ServerProcess, startServer } from "./support/deploy.ts";

const available = redisServerAvailable();
const dataDir = mkdtempSync(join(tmpdir(), "dw-dev-stack-"));
let stack: ServerProcess | undefined;
afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test.skipIf(!available)("dev:stack runs an async order through Redis and QStash, and Ctrl-C stops every child", async () => {
  const [port, bridgePort, qstashPort] = [freePort(), freePort(), freePort()];
  stack = await startServer(
    [process.execPath, "tools/dev-stack.ts", "--port", String(port), "--bridge-port", String(bridgePort), "--qstash-port", String(qstashPort), "--data-dir", dataDir, "--quiet"],
    { port, env: cleanEnv({ REDIS_SERVER: process.env.REDIS_SERVER ?? "/usr/bin/redis-server" }) },
  );
  const order = { order_id: "D-1", customer_id: "C-1", items: [{ sku: "WIDGET", quantity: 1, price: 5 }], payment: { card: "4242424242424242" } };
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
