import { describe, expect, spyOn, test } from "bun:test";
import { createOrderServices, DECLINED_CARD } from "../../../examples/order-fulfillment/services.ts";
import { type AppOptions, createApp } from "../../../routes/app.ts";
import { WorkflowEvent } from "../../../routes/schemas.ts";
import { ConfigError, StoreError } from "../../../src/errors.ts";
import { type Job, performJob } from "../../../src/runners/jobs.ts";
import { loadWorkflow } from "../../../src/definition/load.ts";
import { MemoryStore } from "../../../src/store/memory.ts";
import { MAX_EVENTS_PER_EXECUTION } from "../../../src/store/store.ts";
import { countingStore } from "../../support/engine.ts";
import { largeOrder, orderWorkflow, problemOf, send, setup, smallOrder, start, TOKEN, unreachableStore } from "../../support/routes.ts";
import { type Frame, gatedOrderServices, jsonOf, messagesOf, SseReader, summary, trackTimers, waitFor } from "../../support/sse.ts";

/** Small intervals so that following and heartbeats take milliseconds; tests wait on conditions, not on time. */
const FAST = { pollMs: 2, heartbeatMs: 60_000 };

type App = ReturnType<typeof setup>["app"];

function postStream(
  app: App,
  input: unknown,
  extra: Record<string, unknown> = {},
  workflowId = "order_fulfillment",
  headers: Record<string, string> = {},
) {
  return send(app, "POST", `/workflows/${workflowId}/executions/stream`, { input, ...extra }, headers);
}

function getEvents(app: App, id: string, options: { lastEventId?: string; query?: string; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...options.headers };
  if (options.lastEventId !== undefined) headers["last-event-id"] = options.lastEventId;
  return app.request(`/executions/${id}/events${options.query ?? ""}`, { headers });
}

/** An order app whose shipping call waits for `shipping.open()`. */
function gatedShipping(overrides: Partial<AppOptions> = {}) {
  const { services, shipping } = gatedOrderServices();
  return { ...setup({ services, events: FAST, ...overrides }), shipping };
}

const ids = (frames: Frame[]) => frames.map((f) => f.id);
const storedIds = async (store: { events(id: string): Promise<{ seq: number }[]> }, id: string) =>
  (await store.events(id)).map((e) => `${id}:${e.seq}`);

const SMALL_ORDER_STEPS = [
  "start",
  "init",
  "validate",
  "route_validation",
  "check_inventory",
  "route_inventory",
  "calculate_totals",
  "route_total",
  "charge_payment",
  "reserve_inventory",
  "ship",
  "mark_completed",
  "finish",
];
/** 28 events: started, a pair per step, completed. The store has 1..21 while `ship` is held. */
const STORED_BEFORE_SHIP = 21;

describe("POST /workflows/:id/executions/stream", () => {
  test("answers text/event-stream with no-cache, keep-alive and X-Accel-Buffering: no", async () => {
    const { app } = setup({ events: FAST });
    const response = await postStream(app, smallOrder);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    expect(response.headers.get("cache-control")).toBe("no-cache");
    expect(response.headers.get("connection")).toBe("keep-alive");
    expect(response.headers.get("x-accel-buffering")).toBe("no");
    await response.body!.cancel();
  });

  test("streams every event of a completed order as id/event/data frames and ends after workflow.completed", async () => {
    const { app } = setup({ events: FAST });
    const frames = messagesOf(await (await postStream(app, smallOrder, { executionId: "s-1" })).text());
    expect(summary(frames)).toEqual([
      "1:workflow.started",
      ...SMALL_ORDER_STEPS.flatMap((id, i) => [`${2 + 2 * i}:step.started:${id}`, `${3 + 2 * i}:step.completed:${id}`]),
      "28:workflow.completed",
    ]);
    for (const frame of frames) {
      expect(frame.id).toBe(`s-1:${jsonOf(frame).seq}`);
      expect(frame.event).toBe(jsonOf(frame).type);
    }
  });

  test("the streamed events are the stored events", async () => {
    const { app, store } = setup({ events: FAST });
    const frames = messagesOf(await (await postStream(app, smallOrder, { executionId: "s-1" })).text());
    expect(frames.map(jsonOf)).toEqual(await store.events("s-1") as never);
  });

  test("a large order's stream ends after workflow.halted", async () => {
    const { app } = setup({ events: FAST });
    const frames = messagesOf(await (await postStream(app, largeOrder, { executionId: "big" })).text());
    expect(summary(frames).slice(-3)).toEqual([
      "18:step.started:manager_approval",
      "19:step.halted:manager_approval",
      "20:workflow.halted",
    ]);
    expect(jsonOf(frames.at(-1)!).data).toMatchObject({
      halt: { prompt: "Approve order B-1 for 1625.99?", resumeStep: "manager_approval" },
    });
  });

  test("a declined card's stream shows step.failed for charge_payment, then the on_error handler's steps", async () => {
    const { app } = setup({ events: FAST });
    const frames = messagesOf(await (await postStream(app, { ...smallOrder, payment: { card: DECLINED_CARD } })).text());
    const trace = summary(frames).map((s) => s.replace(/^\d+:/, ""));
    expect(trace.slice(trace.indexOf("step.started:charge_payment"))).toEqual([
      "step.started:charge_payment",
      "step.retrying:charge_payment",
      "step.retrying:charge_payment",
      "step.failed:charge_payment",
      "step.started:payment_failed",
      "step.completed:payment_failed",
      "step.started:finish",
      "step.completed:finish",
      "workflow.completed",
    ]);
  }, 10_000);

  test("an out-of-stock order's stream goes from route_inventory to out_of_stock", async () => {
    const { app } = setup({ events: FAST });
    const frames = messagesOf(
      await (await postStream(app, { ...smallOrder, items: [{ sku: "GIZMO", quantity: 10, price: 9.99 }] })).text(),
    );
    const trace = summary(frames).map((s) => s.replace(/^\d+:/, ""));
    expect(trace.slice(trace.indexOf("step.completed:route_inventory"))).toEqual([
      "step.completed:route_inventory",
      "step.started:out_of_stock",
      "step.completed:out_of_stock",
      "step.started:finish",
      "step.completed:finish",
      "workflow.completed",
    ]);
  });

  test("sends events while the run is still going", async () => {
    const { app, shipping } = gatedShipping();
    const reader = new SseReader(await postStream(app, smallOrder, { executionId: "live" }));
    const before = await reader.until((e) => e.type === "step.started" && e.data.stepId === "ship");
    expect(before).toHaveLength(STORED_BEFORE_SHIP + 1);
    shipping.open();
    expect(summary(await reader.rest()).at(-1)).toBe("28:workflow.completed");
  });

  test("an unknown workflow is a 404 problem, not a stream", async () => {
    const { app } = setup({ events: FAST });
    const problem = await problemOf(await postStream(app, smallOrder, {}, "nope"));
    expect(problem.status).toBe(404);
    expect(problem.contentType).toBe("application/problem+json");
    expect(problem.body.detail).toBe('Workflow "nope" is not served by this app.');
  });

  test("input that breaks the workflow's rules is a 422 problem naming the input, and nothing is stored", async () => {
    const { app, store } = setup({ events: FAST });
    const problem = await problemOf(await postStream(app, { ...smallOrder, items: "many" }, { executionId: "bad" }));
    expect(problem.status).toBe(422);
    expect(problem.contentType).toBe("application/problem+json");
    expect(problem.body.errors).toEqual([{ path: "input.items", message: expect.stringContaining("must be of type array") }]);
    expect(await store.load("bad")).toBeNull();
  });

  test("a body with an unknown key is a 400 problem", async () => {
    const { app } = setup({ events: FAST });
    const problem = await problemOf(await postStream(app, smallOrder, { mode: "sync" }));
    expect(problem.status).toBe(400);
    expect(problem.body.errors).toEqual([{ path: "mode", message: "unknown key" }]);
  });

  test("an execution id that belongs to another workflow is a 409 problem", async () => {
    const { app } = setup({ events: FAST });
    await start(app, { name: "Ada" }, { executionId: "taken", mode: "sync" }, "greeting");
    const problem = await problemOf(await postStream(app, smallOrder, { executionId: "taken" }));
    expect(problem.status).toBe(409);
  });

  test("a store that cannot be reached before the run starts is a 503 problem", async () => {
    const { app } = setup({ events: FAST, store: unreachableStore() });
    const logged = spyOn(console, "error").mockImplementation(() => {});
    const problem = await problemOf(await postStream(app, smallOrder)).finally(() => logged.mockRestore());
    expect(problem.status).toBe(503);
    expect(problem.contentType).toBe("application/problem+json");
  });

  test("a store failure in the middle of the run ends the stream with an error event carrying the problem", async () => {
    const memory = new MemoryStore();
    let commits = 0;
    const store = new Proxy(memory, {
      get(target, key) {
        if (key === "commit") {
          return (
            ...args: Parameters<MemoryStore["commit"]>
          ) => (++commits > 2 ? Promise.reject(new StoreError("Upstash unreachable")) : target.commit(...args));
        }
        const value = Reflect.get(target, key, target);
        return typeof value === "function" ? value.bind(target) : value;
      },
    });
    const { app } = setup({ events: FAST, store });
    const logged = spyOn(console, "error").mockImplementation(() => {});
    let text: string;
    try {
      text = await (await postStream(app, smallOrder)).text();
      expect(logged).toHaveBeenCalledTimes(1); // the server logs what the client only sees as a 503
    } finally {
      logged.mockRestore();
    }
    const frames = messagesOf(text);
    const last = frames.at(-1)!;
    expect(last.event).toBe("error");
    expect(last.id).toBeUndefined();
    expect(JSON.parse(last.data!)).toMatchObject({ status: 503, type: "https://durable-workflow.dev/problems/store-unavailable" });
    expect(frames.slice(0, -1).every((f) => f.event !== "error")).toBe(true);
  });

  test("starting an existing execution id again streams its stored events", async () => {
    const { app, store } = setup({ events: FAST });
    await start(app, smallOrder, { executionId: "done", mode: "sync" });
    const frames = messagesOf(await (await postStream(app, smallOrder, { executionId: "done" })).text());
    expect(ids(frames)).toEqual(await storedIds(store, "done"));
  });
});

describe("GET /executions/:id/events: replay", () => {
  test("replays a finished execution's stored events and ends", async () => {
    const { app, store } = setup({ events: FAST });
    await start(app, smallOrder, { executionId: "e-1", mode: "sync" });
    const response = await getEvents(app, "e-1");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    expect(response.headers.get("x-accel-buffering")).toBe("no");
    const frames = messagesOf(await response.text());
    expect(frames.map(jsonOf)).toEqual(await store.events("e-1") as never);
  });

  test("Last-Event-ID <executionId>:<seq> replays only the events after it", async () => {
    const { app } = setup({ events: FAST });
    await start(app, smallOrder, { executionId: "e-1", mode: "sync" });
    const frames = messagesOf(await (await getEvents(app, "e-1", { lastEventId: "e-1:25" })).text());
    expect(ids(frames)).toEqual(["e-1:26", "e-1:27", "e-1:28"]);
  });

  test("Last-Event-ID may be a bare seq", async () => {
    const { app } = setup({ events: FAST });
    await start(app, smallOrder, { executionId: "e-1", mode: "sync" });
    const frames = messagesOf(await (await getEvents(app, "e-1", { lastEventId: "26" })).text());
    expect(ids(frames)).toEqual(["e-1:27", "e-1:28"]);
  });

  test("?after= works like Last-Event-ID when the header is not sent", async () => {
    const { app } = setup({ events: FAST });
    await start(app, smallOrder, { executionId: "e-1", mode: "sync" });
    const frames = messagesOf(await (await getEvents(app, "e-1", { query: "?after=e-1:27" })).text());
    expect(ids(frames)).toEqual(["e-1:28"]);
  });

  test("Last-Event-ID wins over ?after= (an EventSource reconnecting keeps its URL)", async () => {
    const { app } = setup({ events: FAST });
    await start(app, smallOrder, { executionId: "e-1", mode: "sync" });
    const frames = messagesOf(await (await getEvents(app, "e-1", { lastEventId: "e-1:26", query: "?after=2" })).text());
    expect(ids(frames)).toEqual(["e-1:27", "e-1:28"]);
  });

  test("ids of executions whose id has a colon are parsed by the last colon", async () => {
    const { app } = setup({ events: FAST });
    await start(app, smallOrder, { executionId: "shop:o-1", mode: "sync" });
    const frames = messagesOf(await (await getEvents(app, "shop:o-1", { lastEventId: "shop:o-1:27" })).text());
    expect(ids(frames)).toEqual(["shop:o-1:28"]);
  });

  test("a Last-Event-ID that is not an event id of this execution is a 400 problem", async () => {
    const { app } = setup({ events: FAST });
    await start(app, smallOrder, { executionId: "e-1", mode: "sync" });
    for (const bad of ["other:3", "e-1:x", "-1", "e-1:"]) {
      const problem = await problemOf(await getEvents(app, "e-1", { lastEventId: bad }));
      expect(`${bad} ${problem.status}`).toBe(`${bad} 400`);
      expect(problem.body.errors).toEqual([{ path: "Last-Event-ID", message: 'must be "e-1:<seq>" or a bare <seq>' }]);
    }
  });

  test("a finished execution with nothing after Last-Event-ID answers 204, which stops an EventSource", async () => {
    const { app } = setup({ events: FAST });
    await start(app, smallOrder, { executionId: "e-1", mode: "sync" });
    const response = await getEvents(app, "e-1", { lastEventId: "e-1:28" });
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
  });

  test("a cancelled execution's stream ends after workflow.cancelled", async () => {
    const { app } = setup({ events: FAST });
    await start(app, largeOrder, { executionId: "gone", mode: "sync" });
    await app.request("/executions/gone/cancel", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ reason: "no" }),
    });
    const frames = messagesOf(await (await getEvents(app, "gone")).text());
    expect(summary(frames).at(-1)).toBe("21:workflow.cancelled");
  });

  test("a halted execution's stream ends after workflow.halted", async () => {
    const { app } = setup({ events: FAST });
    await start(app, largeOrder, { executionId: "big", mode: "sync" });
    const frames = messagesOf(await (await getEvents(app, "big")).text());
    expect(summary(frames).slice(-3)).toEqual([
      "18:step.started:manager_approval",
      "19:step.halted:manager_approval",
      "20:workflow.halted",
    ]);
  });

  test("after a resume, Last-Event-ID of the halt replays the resumed part to the end", async () => {
    const { app } = setup({ events: FAST });
    await start(app, largeOrder, { executionId: "big", mode: "sync" });
    await send(app, "POST", "/executions/big/resume", { approved: true, mode: "sync" });
    const frames = messagesOf(await (await getEvents(app, "big", { lastEventId: "big:20" })).text());
    expect(summary(frames)[0]).toBe("21:workflow.resumed");
    expect(summary(frames).at(-1)).toMatch(/:workflow\.completed$/);
  });

  test(`a replay of a run over the cap of ${MAX_EVENTS_PER_EXECUTION} events starts at the oldest event kept`, async () => {
    const many = loadWorkflow({
      id: "many",
      name: "Many steps",
      steps: [
        { id: "start", type: "start", next: "each" },
        {
          id: "each",
          type: "loop",
          over: "$input.items",
          as: "item",
          max: 1000,
          do: [{ id: "noop", type: "assign", set: { x: "$item" } }],
          next: "finish",
        },
        { id: "finish", type: "end" },
      ],
    });
    const { app, store } = setup({ events: FAST, workflows: [many] });
    await send(app, "POST", "/workflows/many/executions", {
      input: { items: Array.from({ length: 600 }, (_, i) => i) },
      executionId: "m",
      mode: "sync",
    });
    const frames = messagesOf(await (await getEvents(app, "m")).text());
    const last = (await store.load("m"))!.eventSeq;
    expect(last).toBeGreaterThan(MAX_EVENTS_PER_EXECUTION);
    expect(frames).toHaveLength(MAX_EVENTS_PER_EXECUTION);
    expect(frames[0]!.id).toBe(`m:${last - MAX_EVENTS_PER_EXECUTION + 1}`);
    expect(summary(frames).at(-1)).toBe(`${last}:workflow.completed`);
  });

  test("an unknown execution is a 404 problem", async () => {
    const { app } = setup({ events: FAST });
    const problem = await problemOf(await getEvents(app, "missing"));
    expect(problem.status).toBe(404);
    expect(problem.contentType).toBe("application/problem+json");
  });

  test("with a token, the stream needs the Authorization header, which fetch can send", async () => {
    const { app } = setup({ events: FAST, token: TOKEN });
    await send(app, "POST", "/workflows/order_fulfillment/executions", { input: smallOrder, executionId: "e-1", mode: "sync" }, {
      authorization: `Bearer ${TOKEN}`,
    });
    expect((await getEvents(app, "e-1")).status).toBe(401);
    const response = await getEvents(app, "e-1", { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(response.status).toBe(200);
    expect(messagesOf(await response.text())).toHaveLength(28);
  });
});

describe("GET /executions/:id/events: following", () => {
  test("follows an async run in progress, from another connection, until it completes", async () => {
    const { app, store, shipping } = gatedShipping();
    const accepted = start(app, smallOrder, { executionId: "a-1" }); // the inline queue runs it inside this request
    await shipping.entered;
    const reader = new SseReader(await getEvents(app, "a-1"));
    const stored = await reader.take(STORED_BEFORE_SHIP);
    shipping.open();
    const rest = await reader.rest();
    expect(summary(rest).at(-1)).toBe("28:workflow.completed");
    expect(ids([...stored, ...rest])).toEqual(await storedIds(store, "a-1"));
    expect((await accepted).status).toBe(202);
  });

  test("follows a queued execution from pending to completed when a worker performs it later", async () => {
    const jobs: Job[] = [];
    const orders = createOrderServices();
    const { app, store, options } = setup({ events: FAST, adapter: { enqueue: async (job) => void jobs.push(job) } });
    await start(app, smallOrder, { executionId: "q-1" });
    const reader = new SseReader(await getEvents(app, "q-1"));
    // Another isolate (a QStash delivery) performs the job with its own engine on the same store.
    await performJob(jobs[0]!, { store, services: orders.services, workflows: [orderWorkflow], clock: options.clock });
    const frames = await reader.rest();
    expect(ids(frames)).toEqual(await storedIds(store, "q-1"));
    expect(summary(frames).at(-1)).toBe("28:workflow.completed");
  });

  test("reconnecting with Last-Event-ID in the middle of a run loses no event and repeats none", async () => {
    const { app, store, shipping } = gatedShipping();
    const accepted = start(app, smallOrder, { executionId: "a-1" });
    await shipping.entered;
    const first = new SseReader(await getEvents(app, "a-1"));
    const head = await first.take(5);
    await first.cancel();
    shipping.open();
    await accepted; // the run went on and finished while no one was listening
    const second = new SseReader(await getEvents(app, "a-1", { lastEventId: head.at(-1)!.id! }));
    const tail = await second.rest();
    expect(ids([...head, ...tail])).toEqual(await storedIds(store, "a-1"));
  });

  test("moving from the POST stream to GET with Last-Event-ID loses no event and repeats none", async () => {
    const { app, store, shipping } = gatedShipping();
    const live = new SseReader(await postStream(app, smallOrder, { executionId: "p-1" }));
    // The POST stream is live: it is one event ahead of the store (step.started ship is not stored yet).
    const head = await live.until((e) => e.type === "step.started" && e.data.stepId === "ship");
    await live.cancel();
    const follower = new SseReader(await getEvents(app, "p-1", { lastEventId: head.at(-1)!.id! }));
    shipping.open();
    const tail = await follower.rest();
    expect(ids([...head, ...tail])).toEqual(await storedIds(store, "p-1"));
  });

  test("sends : heartbeat comments while it waits", async () => {
    const { app } = setup({ events: { pollMs: 2, heartbeatMs: 5 }, adapter: { enqueue: async () => {} } });
    await start(app, smallOrder, { executionId: "idle" });
    const reader = new SseReader(await getEvents(app, "idle"));
    const frame = await reader.next();
    expect(frame).toEqual({ comment: "heartbeat" });
    await reader.cancel();
  });

  test("a deleted execution ends the stream with a 404 error event", async () => {
    const { app } = setup({ events: FAST, adapter: { enqueue: async () => {} } });
    await start(app, smallOrder, { executionId: "gone" });
    const reader = new SseReader(await getEvents(app, "gone"));
    await send(app, "DELETE", "/executions/gone");
    const frames = await reader.rest();
    expect(frames.map((f) => f.event)).toEqual(["error"]);
    expect(JSON.parse(frames[0]!.data!)).toMatchObject({ status: 404 });
  });

  test("a client that goes away stops the polling at once and leaves no timer behind", async () => {
    const counted = countingStore(new MemoryStore());
    const { app } = setup({ store: counted.store, events: { pollMs: 1, heartbeatMs: 3 }, adapter: { enqueue: async () => {} } });
    await start(app, smallOrder, { executionId: "idle" });
    const timers = trackTimers();
    try {
      const reader = new SseReader(await getEvents(app, "idle"));
      await waitFor(() => (counted.counts.load ?? 0) >= 5, "the stream to poll");
      expect(timers.live).toBeGreaterThan(0);
      await reader.cancel();
      await waitFor(() => timers.live === 0, "every timer of the stream to be cleared");
      const reads = counted.total();
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setTimeout(resolve, 1)); // 20 poll intervals
      expect(counted.total()).toBe(reads);
    } finally {
      timers.restore();
    }
  });
});

describe("SSE routes: contract", () => {
  test("every data line is a WorkflowEvent as the OpenAPI document defines it", async () => {
    const { app } = setup({ events: FAST });
    const frames = messagesOf(await (await postStream(app, largeOrder)).text());
    for (const frame of frames) WorkflowEvent.strict().parse(JSON.parse(frame.data!));
    const doc = await (await app.request("/openapi.json")).json() as { components: { schemas: Record<string, unknown> } };
    expect(doc.components.schemas.WorkflowEvent).toMatchObject({ type: "object" });
  });

  test("the OpenAPI document lists ?after= and the 204 of GET /executions/:id/events", async () => {
    const { app } = setup({ events: FAST });
    const doc = await (await app.request("/openapi.json")).json() as {
      paths: Record<string, Record<string, { parameters: { name: string; in: string }[]; responses: Record<string, unknown> }>>;
    };
    const op = doc.paths["/executions/{id}/events"]!.get!;
    expect(op.parameters.map((p) => `${p.in}:${p.name}`)).toEqual(["path:id", "query:after", "header:Last-Event-ID"]);
    expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(["200", "204", "400", "404"]));
  });

  test("a poll or heartbeat interval that is not a positive number is refused when the app is created", () => {
    const base = setup().options;
    expect(() => createApp({ ...base, events: { pollMs: 0 } })).toThrow(ConfigError);
    expect(() => createApp({ ...base, events: { heartbeatMs: Number.NaN } })).toThrow("events.heartbeatMs must be a positive number");
  });
});
