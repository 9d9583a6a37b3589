/**
 * The Deno target: the three entry files type-check with `deno check`, and `deno serve main.ts` (Deno from
 * npm, as docs/deploy.md runs it) serves the example workflows.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { freePort } from "../support/redis.ts";
import { cleanEnv, ROOT, runGreeting, type ServerProcess, startServer, toolAvailable, waitForOutput } from "../support/deploy.ts";

const DENO = join(ROOT, "node_modules/.bin/deno");
const available = toolAvailable(DENO, "deno");

describe.skipIf(!available)("Deno", () => {
  let server: ServerProcess | undefined;
  afterAll(() => server?.stop());

  test("deno check mod.ts main.ts worker.ts passes", async () => {
    const proc = Bun.spawn([DENO, "check", "mod.ts", "main.ts", "worker.ts"], {
      cwd: ROOT,
      env: { ...process.env, DENO_TLS_CA_STORE: "system", NO_COLOR: "1" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [code, out, err] = await Promise.all([proc.exited, new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    if (code !== 0) console.error(out, err);
    expect(code).toBe(0);
  }, 60_000);

  test("deno serve main.ts answers /health and runs the greeting in sync mode", async () => {
    const port = freePort();
    server = await startServer([DENO, "serve", "--port", String(port), "--allow-net", "--allow-env", "main.ts"], {
      port,
      env: cleanEnv({ DENO_TLS_CA_STORE: "system", NO_COLOR: "1" }),
    });
    const health = await fetch(`${server.url}/health`);
    expect(await health.json()).toMatchObject({ ok: true });
    const run = await runGreeting(server.url, "Deno");
    expect(run.status).toBe(200);
    expect(run.body).toMatchObject({ status: "completed", output: { message: "Hello, Deno!" } });
    expect(await waitForOutput(server, `listening on http://localhost:${port}`)).toContain(`listening on http://localhost:${port}`);
    expect(server.output()).toContain("MemoryStore");
    await server.stop();
    server = undefined;
  }, 30_000);
});
