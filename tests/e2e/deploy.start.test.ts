/**
 * `npm start` (the README's first command): package.json's start script, run as it is on a clean
 * environment — no Redis, no QStash, no token — comes up with the MemoryStore and the example workflows.
 */
import { afterAll, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadWorkflow } from "../../src/definition/load.ts";
import { AsyncRunner } from "../../src/runners/async.ts";
import { UpstashRedisStore } from "../../src/store/upstash-redis.ts";
import { freePort, redisServerAvailable, startRedisStack } from "../support/redis.ts";
import { cleanEnv, ROOT, runGreeting, type ServerProcess, startServer, toolAvailable, waitForOutput } from "../support/deploy.ts";

const BUN = join(ROOT, "node_modules/.bin/bun");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string; scripts: Record<string, string> };

let server: ServerProcess | undefined;
afterAll(() => server?.stop());

test("the start script is `bun main.ts`", () => {
  expect(pkg.scripts.start).toBe("bun main.ts");
});

test.skipIf(!toolAvailable(BUN, "bun"))(
  "npm start's command comes up on a clean environment and answers /health and a sync run",
  async () => {
    const port = freePort();
    // npm runs scripts with node_modules/.bin first on PATH, so `bun` is the project's own.
    server = await startServer([BUN, "main.ts"], { port, env: cleanEnv({ PORT: String(port) }) });
    const health = await fetch(`${server.url}/health`);
    expect(await health.json()).toEqual({ ok: true, version: pkg.version });
    const run = await runGreeting(server.url, "Ada");
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ status: "completed", output: { message: "Hello, Ada!" } });
    const printed = await waitForOutput(server, `curl http://localhost:${port}/health`);
    expect(printed).toContain("WARNING: using the MemoryStore");
    expect(printed).toContain(`curl http://localhost:${port}/health`);
    expect(printed).toContain(`/workflows/order_fulfillment/executions`);
    await server.stop();
    server = undefined;
  },
  30_000,
);

test.skipIf(!toolAvailable(BUN, "bun"))("a configuration error is one line naming it and exit code 1, not a stack trace", () => {
  const child = Bun.spawnSync([BUN, "main.ts"], { cwd: ROOT, env: cleanEnv({ DW_PRODUCTION: "true" }), stdout: "pipe", stderr: "pipe" });
  const printed = `${child.stdout.toString()}${child.stderr.toString()}`;
  expect(child.exitCode).toBe(1);
  expect(printed.trim().split("\n").at(-1)).toBe(
    "durable-workflow: DW_PRODUCTION=true requires DW_API_TOKEN (the API would be open to anyone)",
  );
  expect(printed).not.toContain("    at ");
});

test.skipIf(!toolAvailable(BUN, "bun") || !redisServerAvailable())(
  "a restarted server with no traffic still fires: main.ts sweeps at start-up and runs an execution whose job was lost",
  async () => {
    const stack = await startRedisStack();
    const store = new UpstashRedisStore({ redis: stack.redis });
    const greeting = loadWorkflow(readFileSync(join(ROOT, "examples/greeting/workflow.yaml"), "utf8"));
    // Saved pending two minutes ago by a process that died before its job ran (the job is dropped).
    const lost = new AsyncRunner(greeting, { store, adapter: { enqueue: async () => {} }, clock: () => new Date(Date.now() - 120_000) });
    await lost.run({ name: "Restart" }, { executionId: "restart-1" });
    const child = Bun.spawn([BUN, "main.ts"], {
      cwd: ROOT,
      env: cleanEnv({ PORT: String(freePort()), UPSTASH_REDIS_REST_URL: stack.restUrl, UPSTASH_REDIS_REST_TOKEN: stack.token }),
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      // No request reaches the server. A failure bound, not a timing assertion: the first tick sweeps.
      let status = "";
      for (let i = 0; i < 400 && status !== "completed"; i++) {
        await Bun.sleep(50);
        status = (await store.load("restart-1"))!.status;
      }
      expect(await store.load("restart-1")).toMatchObject({ status: "completed", result: { message: "Hello, Restart!" } });
    } finally {
      child.kill();
      await child.exited;
      await stack.stop();
    }
  },
  30_000,
);
