/**
 * The `http` step inside workerd (Miniflare): the Worker's fetch, `redirect: "manual"`, a retried 503, a secret from a
 * binding sent and redacted. The Worker (tests/support/http-worker.ts) is bundled with Bun.build for the browser target.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { Miniflare } from "miniflare";

let mf: Miniflare;
const seen: { auth: string | null; key: string | null }[] = [];
const api = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: (request) => {
    seen.push({ auth: request.headers.get("authorization"), key: request.headers.get("idempotency-key") });
    if (seen.length === 1) return new Response("busy", { status: 503 });
    return Response.json({ auth: request.headers.get("authorization") });
  },
});

beforeAll(async () => {
  const built = await Bun.build({ entrypoints: [join(import.meta.dir, "../support/http-worker.ts")], target: "browser", format: "esm" });
  if (!built.success) throw new Error(built.logs.join("\n"));
  mf = new Miniflare({
    // Listed, not discovered: Miniflare's module walker refuses the dynamic import() @upstash/qstash keeps.
    modules: [{ type: "ESModule", path: "worker.js", contents: await built.outputs[0]!.text() }],
    compatibilityDate: "2026-04-20",
    cf: false,
    bindings: { API_URL: `http://127.0.0.1:${api.port}`, DW_SECRET_TOKEN: "worker-secret" },
  });
  await mf.ready;
}, 30_000);

afterAll(async () => {
  await mf?.dispose();
  api.stop(true);
});

test("an http step runs inside workerd: a 503 is retried under the same key, the binding's secret is sent and redacted", async () => {
  const response = await mf.dispatchFetch("http://worker.test/workflows/call_api/executions", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ input: {}, mode: "sync", executionId: "in-workerd" }),
  });
  const result = await response.json() as { status: string; output: { status: number; body: unknown } };
  expect(result.status).toBe("completed");
  expect(result.output).toMatchObject({ status: 200, body: { auth: "Bearer [redacted]" } });
  expect(seen).toEqual([
    { auth: "Bearer worker-secret", key: "in-workerd:me:1" },
    { auth: "Bearer worker-secret", key: "in-workerd:me:1" },
  ]);
});
