/**
 * OpenTelemetry traces and metrics with the SDK wired as an app would (in-memory exporters): one execution is one
 * trace across QStash deliveries (real @upstash/qstash Client/Receiver, qstash-dev, Redis through the Upstash
 * bridge), the start request's traceparent is the root's parent, `http` steps send their span's context.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { Engine, loadWorkflow, MemoryStore, QStashAdapter, type ServiceContext, UpstashRedisStore } from "../../../mod.ts";
import { createApp } from "../../../routes/app.ts";
import { ManualClock } from "../../../src/engine/clock.ts";
import { formatTraceparent, parseTraceparent } from "../../../src/engine/tracing.ts";
import { type AsyncStack, DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY, startAsyncStack } from "../../support/async-stack.ts";
import { manualClock } from "../../support/engine.ts";
import { redisServerAvailable } from "../../support/redis.ts";
import { type Telemetry, wireTelemetry } from "../../support/telemetry.ts";

const REQUEST_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736";
const REQUEST_SPAN = "00f067aa0ba902b7";
const REQUEST_TRACEPARENT = `00-${REQUEST_TRACE}-${REQUEST_SPAN}-01`;

let telemetry: Telemetry;
beforeAll(() => {
  telemetry = wireTelemetry();
});
afterAll(async () => {
  await telemetry.unwire();
});
beforeEach(() => telemetry.reset());

/** http (records the traceparent it is sent) → a one-day wait → a call that fails once with a 60 s retry delay. */
function threeDeliveries(apiUrl: string) {
  return loadWorkflow({
    id: "traced",
    name: "Traced",
    steps: [
      { id: "start", type: "start", next: "pay" },
      { id: "pay", type: "http", method: "POST", url: `${apiUrl}/payments`, body: { amount: 5 }, output: "payment", next: "cool_off" },
      { id: "cool_off", type: "wait", seconds: 86_400, next: "charge" },
      { id: "charge", type: "call", service: "charge", retries: 1, retry_delay: 60, output: "charge", next: "finish" },
      { id: "finish", type: "end", result: { charge: "$charge" } },
    ],
  });
}

const services = {
  charge: (_input: unknown, context: ServiceContext) => {
    if (context.attempt === 1) throw new Error("gateway unavailable");
    return { id: "CH-1" };
  },
};

/** Halts at an approval. */
const approval = loadWorkflow({
  id: "quick",
  name: "Quick",
  steps: [
    { id: "start", type: "start", next: "ask" },
    { id: "ask", type: "approval", prompt: "Ship it?", next: "finish" },
    { id: "finish", type: "end", result: "done" },
  ],
});

const named = (spans: ReadableSpan[], prefix: string) => spans.filter((s) => s.name.startsWith(prefix));
const childrenOf = (spans: ReadableSpan[], parent: ReadableSpan) =>
  spans.filter((s) => s.parentSpanContext?.spanId === parent.spanContext().spanId);

const describeStack = redisServerAvailable() ? describe : describe.skip;

describeStack("traces across QStash deliveries", () => {
  let stack: AsyncStack;
  let api: ReturnType<typeof Bun.serve>;
  const sent: (string | null)[] = [];
  /** The spans of one run started by an HTTP request with a traceparent, performed in three deliveries. */
  let spans: ReadableSpan[];
  let lags: { attributes: Record<string, unknown>; value: unknown }[];
  beforeAll(async () => {
    stack = await startAsyncStack();
    api = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request) => {
        sent.push(request.headers.get("traceparent"));
        return Response.json({ id: "P-1" });
      },
    });
    telemetry.reset();
    await telemetry.metrics();
    const workflow = threeDeliveries(`http://127.0.0.1:${api.port}`);
    const store = new UpstashRedisStore({ redis: stack.redis.redis, prefix: "trace1" });
    const clock = manualClock("2026-03-01T00:00:00.000Z");
    const adapter = new QStashAdapter({ client: stack.client, callbackUrl: stack.callbackUrl });
    const app = createApp({
      store,
      workflows: [workflow],
      services,
      adapter,
      clock,
      qstash: { currentSigningKey: DEV_CURRENT_SIGNING_KEY, nextSigningKey: DEV_NEXT_SIGNING_KEY },
    });
    stack.serve(app.fetch);
    const started = await app.request("/workflows/traced/executions", {
      method: "POST",
      headers: { "content-type": "application/json", traceparent: REQUEST_TRACEPARENT },
      body: JSON.stringify({ executionId: "t-1", input: {} }),
    });
    if (started.status !== 202) throw new Error(`start answered ${started.status}`);
    await stack.qstash.waitIdle();
    clock.advance(86_400_000);
    stack.qstash.advanceTime(86_400_000);
    await stack.qstash.waitIdle();
    clock.advance(60_000);
    stack.qstash.advanceTime(60_000);
    await stack.qstash.waitIdle();
    if ((await store.load("t-1"))?.status !== "completed") throw new Error("the traced run did not complete");
    spans = telemetry.spans();
    lags = (await telemetry.metrics())("workflow.queue.lag");
  });
  afterAll(async () => {
    api.stop(true);
    await stack.stop();
  });

  test("a run across three deliveries is one trace: segments under the start span, each linked to the one before", () => {
    expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([REQUEST_TRACE]));
    const [start] = named(spans, "workflow.start");
    expect(start!.parentSpanContext?.spanId).toBe(REQUEST_SPAN);
    const segments = named(spans, "workflow.continue");
    expect(segments.length).toBe(3);
    expect(childrenOf(spans, start!)).toEqual(segments);
    const links = segments.map((s) => s.links.map((l) => l.context.spanId));
    expect(links).toEqual([[start!.spanContext().spanId], [segments[0]!.spanContext().spanId], [segments[1]!.spanContext().spanId]]);
    const stepsOf = (segment: ReadableSpan) => childrenOf(spans, segment).map((s) => [s.name, s.attributes["step.outcome"]]);
    expect(stepsOf(segments[0]!)).toEqual([["step start", "completed"], ["step pay", "completed"], ["step cool_off", "completed"]]);
    expect(stepsOf(segments[1]!)).toEqual([["step charge", "yielded"]]);
    expect(stepsOf(segments[2]!)).toEqual([["step charge", "completed"], ["step finish", "completed"]]);
    expect(segments.map((s) => s.attributes["execution.status"])).toEqual(["pending", "pending", "completed"]);
  });

  test("a step span carries the workflow, execution, step, attempt and store requests; a retry is its span event", () => {
    const charges = named(spans, "step charge");
    expect(charges[0]!.events.map((e) => [e.name, e.attributes?.attempt, e.attributes?.delayMs])).toEqual([["step.retrying", 2, 60_000]]);
    expect(charges[1]!.attributes).toMatchObject({
      "workflow.id": "traced",
      "workflow.version": "1.0",
      "execution.id": "t-1",
      "step.id": "charge",
      "step.type": "call",
      "step.attempt": 2,
      "step.outcome": "completed",
    });
    expect(charges[0]!.attributes["store.requests"]).toBe(1);
    expect(charges[1]!.attributes["workflow.hash"]).toMatch(/^[0-9a-f]{64}$/);
  });

  test("each delivery records its queue lag, by job action", () => {
    const counts = Object.fromEntries(lags.map((p) => [p.attributes["job.action"], (p.value as { count: number }).count]));
    expect(counts).toEqual({ start: 1, continue: 2 });
  });

  test("an http step sends the traceparent of its own span", () => {
    const [pay] = named(spans, "step pay");
    expect(sent).toEqual([formatTraceparent(pay!.spanContext())]);
  });
});

describe("the start request's trace", () => {
  const workflow = approval;
  const start = async (app: ReturnType<typeof createApp>, headers: Record<string, string>) => {
    const response = await app.request("/workflows/quick/executions", {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify({ executionId: "q-1", mode: "sync" }),
    });
    expect(response.status).toBe(200);
  };

  test("a traceparent on a sync start request is the parent of the execution's start span, stored on the execution", async () => {
    const store = new MemoryStore();
    await start(createApp({ store, workflows: [workflow], clock: manualClock() }), { traceparent: REQUEST_TRACEPARENT });
    const spans = telemetry.spans();
    const [begin] = named(spans, "workflow.start");
    expect(begin!.parentSpanContext).toMatchObject({ traceId: REQUEST_TRACE, spanId: REQUEST_SPAN });
    expect((await store.load("q-1"))?.trace).toEqual({ traceparent: formatTraceparent(begin!.spanContext()) });
    const [segment] = named(spans, "workflow.run");
    expect(segment!.parentSpanContext?.spanId).toBe(begin!.spanContext().spanId);
  });

  test("a halt is an event of the segment's span", async () => {
    await start(createApp({ store: new MemoryStore(), workflows: [workflow], clock: manualClock() }), {});
    const [run] = named(telemetry.spans(), "workflow.run");
    expect(run!.events.map((e) => e.name)).toEqual(["workflow.started", "workflow.halted"]);
    expect(run!.attributes["execution.status"]).toBe("halted");
  });

  test("without a traceparent the start span is the root of a new trace", async () => {
    await start(createApp({ store: new MemoryStore(), workflows: [workflow], clock: manualClock() }), {});
    const [begin] = named(telemetry.spans(), "workflow.start");
    expect(begin!.parentSpanContext).toBeUndefined();
  });

  test("a malformed traceparent is ignored: the start span is a root", async () => {
    await start(createApp({ store: new MemoryStore(), workflows: [workflow], clock: manualClock() }), { traceparent: "00-zz-11-01" });
    const [begin] = named(telemetry.spans(), "workflow.start");
    expect(begin!.parentSpanContext).toBeUndefined();
  });
});

describe("links and nested traces", () => {
  test("a sync resume request's traceparent is linked from the segment that applies the answer", async () => {
    const app = createApp({ store: new MemoryStore(), workflows: [approval], clock: manualClock() });
    const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
      app.request(path, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
    await post("/workflows/quick/executions", { executionId: "a-1", mode: "sync" });
    const resumed = await post("/executions/a-1/resume", { approved: true, mode: "sync" }, { traceparent: REQUEST_TRACEPARENT });
    expect(resumed.status).toBe(200);
    const [segment] = named(telemetry.spans(), "workflow.resume");
    expect(segment!.links.map((l) => l.context.spanId)).toEqual([REQUEST_SPAN]);
    const [begin] = named(telemetry.spans(), "workflow.start");
    expect(segment!.parentSpanContext?.spanId).toBe(begin!.spanContext().spanId);
  });

  test("a child workflow's trace hangs under its workflow step's span", async () => {
    const child = loadWorkflow({
      id: "child",
      name: "Child",
      steps: [{ id: "start", type: "start", next: "finish" }, { id: "finish", type: "end", result: "ok" }],
    });
    const parent = loadWorkflow({
      id: "parent",
      name: "Parent",
      steps: [
        { id: "start", type: "start", next: "sub" },
        { id: "sub", type: "workflow", workflow_id: "child", next: "finish" },
        { id: "finish", type: "end", result: "done" },
      ],
    });
    const result = await new Engine(parent, {
      store: new MemoryStore(),
      clock: manualClock(),
      workflows: (id) => id === "child" ? child : undefined,
    })
      .run({}, { executionId: "p-1" });
    expect(result.status).toBe("completed");
    const spans = telemetry.spans();
    const [sub] = named(spans, "step sub");
    const [childStart] = named(spans, "workflow.start child");
    expect(childStart!.parentSpanContext?.spanId).toBe(sub!.spanContext().spanId);
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1);
  });
});

describe("operator calls", () => {
  test("cancel, migrate and retry each record one short span under the execution's start span, with their event", async () => {
    const store = new MemoryStore();
    const engine = new Engine(approval, { store, clock: manualClock() });
    await engine.run({}, { executionId: "op-1" });
    await engine.migrate("op-1");
    await engine.cancel("op-1", { reason: "not needed" });
    const failing = loadWorkflow({
      id: "flaky",
      name: "Flaky",
      steps: [{ id: "start", type: "start", next: "call" }, { id: "call", type: "call", service: "down", next: "finish" }, {
        id: "finish",
        type: "end",
        result: "ok",
      }],
    });
    const flaky = new Engine(failing, { store, clock: manualClock(), services: { down: () => Promise.reject(new Error("down")) } });
    expect((await flaky.run({}, { executionId: "op-2" })).status).toBe("failed");
    await flaky.retry("op-2");
    const spans = telemetry.spans();
    const startOf = (workflowId: string) => named(spans, `workflow.start ${workflowId}`)[0]!.spanContext().spanId;
    const operations = ["workflow.migrate quick", "workflow.cancel quick", "workflow.retry flaky"].map((name) => {
      const [span] = named(spans, name);
      return {
        name,
        parent: span!.parentSpanContext?.spanId === startOf(span!.attributes["workflow.id"] as string),
        events: span!.events.map((e) => e.name),
        status: span!.attributes["execution.status"],
        requests: span!.attributes["store.requests"],
      };
    });
    expect(operations).toEqual([
      { name: "workflow.migrate quick", parent: true, events: ["workflow.migrated"], status: "halted", requests: 1 },
      { name: "workflow.cancel quick", parent: true, events: ["workflow.cancelled"], status: "cancelled", requests: 1 },
      { name: "workflow.retry flaky", parent: true, events: ["workflow.resumed"], status: "pending", requests: 1 },
    ]);
  });
});

describe("traceparent values", () => {
  test("a W3C traceparent is read back as it was written", () => {
    expect(formatTraceparent(parseTraceparent(REQUEST_TRACEPARENT)!)).toBe(REQUEST_TRACEPARENT);
  });

  test("bad traceparents are refused: wrong version, all-zero ids, wrong lengths, not hex", () => {
    for (
      const bad of [
        `01-${REQUEST_TRACE}-${REQUEST_SPAN}-01`,
        `00-${"0".repeat(32)}-${REQUEST_SPAN}-01`,
        `00-${REQUEST_TRACE}-${"0".repeat(16)}-01`,
        `00-${REQUEST_TRACE.slice(1)}-${REQUEST_SPAN}-01`,
        `00-${REQUEST_TRACE}-${REQUEST_SPAN}-0g`,
        "",
      ]
    ) expect(parseTraceparent(bad)).toBeUndefined();
  });
});

describe("metrics", () => {
  const workflow = loadWorkflow({
    id: "metered",
    name: "Metered",
    steps: [
      { id: "start", type: "start", next: "charge" },
      { id: "charge", type: "call", service: "charge", retries: 1, retry_delay: 1, output: "charge", next: "finish" },
      { id: "finish", type: "end", result: "$charge" },
    ],
  });

  test("a run records started and finished executions, step durations and attempts by type, and store request durations", async () => {
    const clock = new ManualClock("2026-01-01T00:00:00.000Z", { autoAdvance: true });
    await telemetry.metrics();
    const result = await new Engine(workflow, { store: new MemoryStore(), services, clock }).run({});
    expect(result.status).toBe("completed");
    const points = await telemetry.metrics();
    expect(points("workflow.executions.started")).toEqual([{ attributes: { "workflow.id": "metered" }, value: 1 }]);
    expect(points("workflow.executions.finished")).toEqual([
      { attributes: { "workflow.id": "metered", "execution.status": "completed" }, value: 1 },
    ]);
    const attempts = points("workflow.step.attempts");
    expect(attempts.find((p) => p.attributes["step.type"] === "call")?.value).toMatchObject({ count: 1, sum: 2 });
    const durations = points("workflow.step.duration");
    expect(durations.map((p) => p.attributes).sort((a, b) => String(a["step.type"]).localeCompare(String(b["step.type"])))).toEqual([
      { "step.type": "call", "step.outcome": "completed" },
      { "step.type": "end", "step.outcome": "completed" },
      { "step.type": "start", "step.outcome": "completed" },
    ]);
    const store = points("workflow.store.duration");
    expect(store.map((p) => p.attributes["store.operation"])).toContain("commit");
  });
});

describe("without an SDK", () => {
  test("nothing is traced, and the start request's traceparent is stored as is for a later traced segment", async () => {
    await telemetry.unwire();
    try {
      const store = new MemoryStore();
      const workflow = loadWorkflow({
        id: "plain",
        name: "Plain",
        steps: [{ id: "start", type: "start", next: "finish" }, { id: "finish", type: "end", result: "done" }],
      });
      await new Engine(workflow, { store, clock: manualClock() }).run({}, { executionId: "p-1", traceparent: REQUEST_TRACEPARENT });
      expect((await store.load("p-1"))?.trace).toEqual({ traceparent: REQUEST_TRACEPARENT });
      expect(telemetry.spans()).toEqual([]);
    } finally {
      telemetry = wireTelemetry();
    }
  });
});
