/**
 * `durable-workflow dev --app <module>`: the user's app on redis-server + the bridge + qstash-dev, a run through
 * QStash, and Ctrl-C (SIGINT) stopping every child by its PID.
 */
import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../support/cli.ts";
import { alive, cleanEnv, type ServerProcess, startServer } from "../support/deploy.ts";
import { freePort, redisServerAvailable } from "../support/redis.ts";

const available = redisServerAvailable();
const dataDir = mkdtempSync(join(tmpdir(), "dw-cli-dev-"));
let stack: ServerProcess | undefined;
afterAll(async () => {
  await stack?.stop();
  rmSync(dataDir, { recursive: true, force: true });
});

test.skipIf(!available)(
  "dev runs the user's app on Redis and QStash, a run completes through QStash, and Ctrl-C stops everything",
  async () => {
    const port = freePort();
    stack = await startServer(
      [
        process.execPath,
        join(ROOT, "cli/main.ts"),
        "dev",
        "--app",
        "tests/support/dev-app.ts",
        "--port",
        String(port),
        "--data-dir",
        dataDir,
        "--quiet",
      ],
      { port, env: cleanEnv({ REDIS_SERVER: process.env.REDIS_SERVER ?? "/usr/bin/redis-server" }) },
    );
    const started = await fetch(`${stack.url}/workflows/shout/executions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ executionId: "dev-1", input: { word: "hey" } }),
    });
    expect(started.status).toBe(202);
    let execution = { status: "", result: null as unknown };
    for (let i = 0; i < 100 && execution.status !== "completed"; i++) {
      await Bun.sleep(50);
      execution = (await (await fetch(`${stack.url}/executions/dev-1`)).json()) as typeof execution;
    }
    expect(execution).toMatchObject({ status: "completed", result: { said: "hey!" } });
    expect(stack.output()).toContain(`async queue QStash (http://127.0.0.1:`);
    expect(stack.output()).toContain(`→ http://127.0.0.1:${port}/qstash`);
    expect(stack.output()).toContain("sweep schedule");

    const pids = [...stack.output().matchAll(/pid (\d+)/g)].map((m) => Number(m[1]));
    expect(pids).toHaveLength(2); // redis-server and the app
    process.kill(stack.pid, "SIGINT");
    const code = await Promise.race([stack.exited, Bun.sleep(10_000).then(() => "still running")]);
    expect(code).toBe(0);
    await stack.stop();
    stack = undefined;
    for (const pid of pids) expect(alive(pid)).toBe(false);
  },
  30_000,
);

test("dev --help says a TypeScript app runs with Bun", async () => {
  const proc = Bun.spawn([process.execPath, join(ROOT, "cli/main.ts"), "dev", "--help"], { cwd: ROOT, stdout: "pipe" });
  const text = await new Response(proc.stdout).text();
  expect(await proc.exited).toBe(0);
  expect(text).toContain("runs with Bun (npx bun <app>)");
});
