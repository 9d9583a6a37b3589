// durable-workflow-edge/client against a real app served by Bun.serve on a free port.
import { afterAll, describe, expect, test } from "bun:test";
import { createClient, type ExecutionResult, ProblemError, type WorkflowEvent } from "../../../client.ts";
import { createApp } from "../../../routes/app.ts";
import { loadWorkflow } from "../../../src/definition/load.ts";
import { MemoryStore } from "../../../src/store/memory.ts";
import type { Services } from "../../../src/types.ts";
import { greetingWorkflow, shippingWorkflow, TOKEN } from "../../support/routes.ts";

/** Fails its first call, then succeeds: a run that fails and is retried. */
const flaky = loadWorkflow({
  id: "flaky",
  name: "Flaky",
  steps: [
    { id: "go", type: "call", service: "flaky", output: "out", next: "done" },
    { id: "done", type: "end", result: "$out" },
  ],
});

/** Waits on a gate the test opens: a run that is live while the client follows it. */
const gated = loadWorkflow({
  id: "gated",
  name: "Gated",
  steps: [
    { id: "first", type: "call", service: "step", output: "a", next: "wait" },
    { id: "wait", type: "call", service: "gate", output: "b", next: "done" },
    { id: "done", type: "end", result: { a: "$a", b: "$b" } },
  ],
});

let flakyCalls = 0;
let openGate = () => {};
const gate = new Promise<void>((resolve) => (openGate = resolve));
const services = {
  flaky: () => (++flakyCalls === 1 ? Promise.reject(new Error("first call fails")) : { ok: true }),
  step: () => 1,
  gate: () => gate.then(() => 2),
} as unknown as Services;

const app = createApp({
  store: new MemoryStore(),
  workflows: [greetingWorkflow, flaky, gated, shippingWorkflow],
  services,
  token: TOKEN,
  events: { pollMs: 10 },
});
const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: app.fetch });
const baseUrl = `http://127.0.0.1:${server.port}`;
afterAll(() => server.stop(true));

interface Sent {
  method: string;
  path: string;
  lastEventId: string | null;
}

/**
 * A fetch that records every request and can cut the connection of the first event stream after `frames`
 * messages: the body errors as a dropped socket does.
 */
function cuttingFetch(frames?: number, onSend: (sent: Sent) => void = () => {}) {
  const sent: Sent[] = [];
  let cut = frames === undefined;
  const fetcher = async (url: string, init: RequestInit) => {
    const headers = new Headers(init.headers);
    sent.push({ method: init.method ?? "GET", path: new URL(url).pathname, lastEventId: headers.get("last-event-id") });
    onSend(sent.at(-1)!);
    const response = await fetch(url, init);
    if (cut || response.headers.get("content-type")?.startsWith("text/event-stream") !== true) return response;
    cut = true;
    return new Response(cutAfter(response.body!, frames!), { status: response.status, headers: response.headers });
  };
  return { sent, fetch: fetcher };
}

function cutAfter(body: ReadableStream<Uint8Array>, frames: number): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let text = "";
  let passed = 0;
  return new ReadableStream({
    async pull(controller) {
      // Errors on the pull after the last frame passed: an error drops the chunks still queued.
      if (passed >= frames) {
        await reader.cancel();
        return controller.error(new TypeError("network connection lost"));
      }
      const { done, value } = await reader.read();
      if (done) return controller.close();
      text += decoder.decode(value, { stream: true });
      for (let end = text.indexOf("\n\n"); end >= 0 && passed < frames; end = text.indexOf("\n\n")) {
        const frame = text.slice(0, end + 2);
        controller.enqueue(encoder.encode(frame));
        text = text.slice(end + 2);
        if (frame.includes("data:")) passed += 1;
      }
    },
  });
}

const client = createClient({ baseUrl, token: TOKEN });

async function collect(events: AsyncIterable<WorkflowEvent>): Promise<WorkflowEvent[]> {
  const out: WorkflowEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

const seqs = (events: WorkflowEvent[]) => events.map((e) => e.seq);

describe("durable-workflow-edge/client", () => {
  test("every request carries the token; without it the answer is a ProblemError with the problem+json", async () => {
    const error = await createClient({ baseUrl }).workflows().catch((e) => e);
    expect(error).toBeInstanceOf(ProblemError);
    expect(error.status).toBe(401);
    expect(error.problem.status).toBe(401);
    expect((await client.workflows()).map((w) => w.id)).toEqual(["greeting", "flaky", "gated", "shipping"]);
    expect((await client.workflow("greeting")).steps.map((s) => s.id)).toEqual(["start", "wait", "finish"]);
  });

  test("flow answers a workflow's flow-control limits and the keys in use", async () => {
    expect(await client.flow("greeting")).toEqual({
      workflowId: "greeting",
      concurrency: null,
      rate: null,
      priority: null,
      debounce: null,
      keys: [],
    });
    expect(await client.flow("nope").catch((e) => e.status)).toBe(404);
  });

  test("start in sync mode answers the result; async answers the id and status", async () => {
    const result: ExecutionResult = await client.start("greeting", { input: { name: "Ada" }, executionId: "c-sync", mode: "sync" });
    expect(result).toMatchObject({ status: "halted", executionId: "c-sync", halt: { prompt: "Say hello?" } });
    const accepted = await client.start("greeting", { input: { name: "Bo" }, executionId: "c-async" });
    expect(accepted.executionId).toBe("c-async");
  });

  test("a 422 names the input that breaks the rules", async () => {
    const error = await client.start("greeting", { input: { name: 5 }, mode: "sync" }).catch((e) => e);
    expect(error).toBeInstanceOf(ProblemError);
    expect(error.status).toBe(422);
    expect(error.problem.errors[0].path).toContain("name");
  });

  test("get, entries and resume (sync and async) follow one execution", async () => {
    await client.start("greeting", { input: { name: "Cy" }, executionId: "c-resume", mode: "sync" });
    expect((await client.get("c-resume")).status).toBe("halted");
    const done = await client.resume("c-resume", { response: "hi", mode: "sync" });
    expect(done).toMatchObject({ status: "completed", output: { greeting: "Hello Cy", response: "hi" } });
    expect((await client.entries("c-resume")).map((e) => e.stepId)).toEqual(["start", "wait", "finish"]);

    await client.start("greeting", { input: { name: "Di" }, executionId: "c-resume-async", mode: "sync" });
    expect((await client.resume("c-resume-async", { response: "yo" })).executionId).toBe("c-resume-async");
    const error = await client.resume("c-resume", { mode: "sync" }).catch((e) => e);
    expect(error.status).toBe(409);
  });

  test("list filters by workflow and status and pages with the cursor; listAll walks every page", async () => {
    for (const id of ["l-1", "l-2", "l-3"]) await client.start("greeting", { input: { name: id }, executionId: id, mode: "sync" });
    const first = await client.list({ workflowId: "greeting", status: "halted", limit: 2 });
    expect(first.executions).toHaveLength(2);
    expect(first.executions.every((e) => e.workflowId === "greeting" && e.status === "halted")).toBe(true);
    const second = await client.list({ workflowId: "greeting", status: "halted", limit: 2, cursor: first.cursor });
    expect(second.executions.map((e) => e.id)).not.toContain(first.executions[0]!.id);
    const all: string[] = [];
    for await (const execution of client.listAll({ workflowId: "greeting", status: "halted", limit: 2 })) all.push(execution.id);
    expect(all).toEqual(expect.arrayContaining(["l-1", "l-2", "l-3"]));
    expect(new Set(all).size).toBe(all.length);
  });

  test("list filters by label; cancelMatching cancels what a label selects, one result each", async () => {
    for (const id of ["lb-1", "lb-2"]) {
      await client.start("greeting", { input: { name: id }, executionId: id, mode: "sync", labels: { customer: "C-7" } });
    }
    await client.start("greeting", { input: { name: "x" }, executionId: "lb-3", mode: "sync", labels: { customer: "C-8" } });
    const page = await client.list({ labels: { customer: "C-7" } });
    expect(page.executions.map((e) => [e.id, e.labels])).toEqual([["lb-2", { customer: "C-7" }], ["lb-1", { customer: "C-7" }]]);
    const answer = await client.cancelMatching({ filter: { labels: { customer: "C-7" } }, max: 10 });
    expect(answer.results.map((r) => [r.executionId, r.ok, r.status])).toEqual([["lb-2", true, "cancelled"], ["lb-1", true, "cancelled"]]);
    expect((await client.get("lb-3")).status).toBe("halted");
  });

  test("sendEvent wakes the run waiting for the event once; the same id again is a duplicate", async () => {
    await client.start("shipping", { input: { order: "A-1" }, executionId: "c-parcel", mode: "sync" });
    const sent = await client.sendEvent("order:shipped", { order: "A-1", carrier: "DHL" }, { id: "ship-1" });
    expect(sent).toEqual({ id: "ship-1", delivered: 1, duplicate: false, started: [] });
    expect(await client.sendEvent("order:shipped", { order: "A-1" }, { id: "ship-1" })).toMatchObject({ delivered: 0, duplicate: true });
    expect(await client.get("c-parcel")).toMatchObject({ status: "completed", result: { order: "A-1", carrier: "DHL" } });
  });

  test("cancel ends a halted execution; retry runs a failed one again", async () => {
    await client.start("greeting", { input: { name: "Ed" }, executionId: "c-cancel", mode: "sync" });
    expect(await client.cancel("c-cancel", { reason: "no longer needed" })).toMatchObject({ status: "cancelled" });

    expect(await client.start("flaky", { executionId: "c-retry", mode: "sync" })).toMatchObject({ status: "failed" });
    expect(await client.retry("c-retry", { mode: "sync" })).toMatchObject({ status: "completed", output: { ok: true } });
  });

  test("events replays an execution's events and ends at its last one", async () => {
    const { executionId } = await client.start("greeting", { input: { name: "Fa" }, executionId: "e-replay", mode: "sync" });
    const events = await collect(client.events(executionId));
    expect(events.map((e) => e.type)).toEqual([
      "workflow.started",
      "step.started",
      "step.completed",
      "step.started",
      "step.halted",
      "workflow.halted",
    ]);
    expect(seqs(events)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  test("after a dropped connection, events reconnects with Last-Event-ID and misses or repeats nothing", async () => {
    await client.start("greeting", { input: { name: "Gu" }, executionId: "e-cut", mode: "sync" });
    const { sent, fetch } = cuttingFetch(2);
    const cutting = createClient({ baseUrl, token: TOKEN, fetch });
    const events = await collect(cutting.events("e-cut", { reconnectDelayMs: 0 }));
    expect(seqs(events)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(sent.map((s) => s.lastEventId)).toEqual([null, "e-cut:2"]);
  });

  test("a live stream cut mid-run goes on from its last event until the run completes", async () => {
    // The run waits at its second call until the client reconnects, so the reconnection follows a live run.
    const { sent, fetch } = cuttingFetch(3, (request) => request.method === "GET" && openGate());
    const cutting = createClient({ baseUrl, token: TOKEN, fetch });
    const events = await collect(cutting.stream("gated", { executionId: "s-live" }, { reconnectDelayMs: 0 }));
    expect(events.map((e) => e.type).at(-1)).toBe("workflow.completed");
    expect(seqs(events)).toEqual(events.map((_, i) => i + 1));
    expect(sent.map((s) => `${s.method} ${s.path} ${s.lastEventId}`)).toEqual([
      "POST /workflows/gated/executions/stream null",
      "GET /executions/s-live/events s-live:3",
    ]);
    expect((await client.get("s-live")).result).toEqual({ a: 1, b: 2 });
  });

  test("an execution that does not exist is a 404 ProblemError, from get and from events", async () => {
    for (const attempt of [client.get("nope"), collect(client.events("nope"))]) {
      const error = await attempt.catch((e) => e);
      expect(error).toBeInstanceOf(ProblemError);
      expect(error.status).toBe(404);
    }
  });
});
