/**
 * Traces inside workerd (Miniflare): the trace SDK wired in the Worker (tests/support/traced-worker.ts, bundled with
 * Bun.build for the browser target) records the execution's spans under the start request's traceparent, and the
 * `http` step sends its span's context with the Worker's fetch.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { Miniflare } from "miniflare";

const TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT = "00f067aa0ba902b7";

let mf: Miniflare;
const spans: { name: string; traceId: string; spanId: string; parentSpanId: string | null }[] = [];
const sent: (string | null)[] = [];
const server = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch: async (request) => {
    if (new URL(request.url).pathname === "/spans") {
      spans.push(...await request.json() as typeof spans);
      return new Response(null, { status: 204 });
    }
    sent.push(request.headers.get("traceparent"));
    return Response.json({ id: "me" });
  },
});

beforeAll(async () => {
  const built = await Bun.build({ entrypoints: [join(import.meta.dir, "../support/traced-worker.ts")], target: "browser", format: "esm" });
  if (!built.success) throw new Error(built.logs.join("\n"));
  mf = new Miniflare({
    // Listed, not discovered: Miniflare's module walker refuses the dynamic import() @upstash/qstash keeps.
    modules: [{ type: "ESModule", path: "worker.js", contents: await built.outputs[0]!.text() }],
    compatibilityDate: "2026-04-20",
    cf: false,
    bindings: { API_URL: `http://127.0.0.1:${server.port}`, SPANS_URL: `http://127.0.0.1:${server.port}/spans` },
  });
  await mf.ready;
}, 30_000);

afterAll(async () => {
  await mf?.dispose();
  server.stop(true);
});

test("in workerd, a run's spans form one trace under the start request's traceparent, and the http step sends its span", async () => {
  const response = await mf.dispatchFetch("http://worker.test/workflows/traced_call/executions", {
    method: "POST",
    headers: { "content-type": "application/json", traceparent: `00-${TRACE}-${PARENT}-01` },
    body: JSON.stringify({ input: {}, mode: "sync", executionId: "traced-1" }),
  });
  expect(((await response.json()) as { status: string }).status).toBe("completed");
  const byName = Object.fromEntries(spans.map((s) => [s.name, s]));
  expect(Object.keys(byName).sort()).toEqual([
    "step finish",
    "step me",
    "step start",
    "workflow.run traced_call",
    "workflow.start traced_call",
  ]);
  expect(new Set(spans.map((s) => s.traceId))).toEqual(new Set([TRACE]));
  expect(byName["workflow.start traced_call"]!.parentSpanId).toBe(PARENT);
  expect(byName["workflow.run traced_call"]!.parentSpanId).toBe(byName["workflow.start traced_call"]!.spanId);
  expect(byName["step me"]!.parentSpanId).toBe(byName["workflow.run traced_call"]!.spanId);
  expect(sent).toEqual([`00-${TRACE}-${byName["step me"]!.spanId}-01`]);
});
