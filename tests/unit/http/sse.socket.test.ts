import { afterEach, describe, expect, test } from "bun:test";
import type { AppOptions } from "../../../routes/app.ts";
import { MemoryStore } from "../../../src/store/memory.ts";
import { countingStore } from "../../support/engine.ts";
import { setup, smallOrder } from "../../support/routes.ts";
import { gatedOrderServices, SseReader, summary, trackTimers, waitFor } from "../../support/sse.ts";

/** The app behind a real socket: Bun.serve on a free loopback port, read with fetch as a browser would. */
const servers: { stop(force: boolean): unknown }[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.stop(true);
});

function serve(overrides: Partial<AppOptions> = {}) {
  const { services, shipping } = gatedOrderServices();
  const context = setup({ services, events: { pollMs: 2, heartbeatMs: 60_000 }, ...overrides });
  const server = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: context.app.fetch });
  servers.push(server);
  const base = `http://127.0.0.1:${server.port}`;
  const post = (path: string, body: unknown) =>
    fetch(base + path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { ...context, shipping, base, post };
}

describe("SSE over a socket (Bun.serve + fetch)", () => {
  test("the POST stream arrives event by event while the run is still going", async () => {
    const { post, shipping } = serve();
    const response = await post("/workflows/order_fulfillment/executions/stream", { input: smallOrder, executionId: "s-1" });
    expect(response.headers.get("content-type")).toBe("text/event-stream");
    const reader = new SseReader(response);
    const head = await reader.until((e) => e.type === "step.started" && e.data.stepId === "ship");
    expect(summary(head).at(-1)).toBe("22:step.started:ship");
    shipping.open();
    expect(summary(await reader.rest()).at(-1)).toBe("28:workflow.completed");
  });

  test("GET follows an async run started by another request until it completes", async () => {
    const { base, post, shipping, store } = serve();
    const accepted = post("/workflows/order_fulfillment/executions", { input: smallOrder, executionId: "a-1" });
    await shipping.entered;
    const reader = new SseReader(await fetch(`${base}/executions/a-1/events`));
    const head = await reader.take(21);
    shipping.open();
    const tail = await reader.rest();
    expect([...head, ...tail].map((f) => f.id)).toEqual((await store.events("a-1")).map((e) => `a-1:${e.seq}`));
    expect((await accepted).status).toBe(202);
  });

  test("a client that disconnects stops the server's polling and leaves no timer behind", async () => {
    const counted = countingStore(new MemoryStore());
    const { base, post } = serve({ store: counted.store, events: { pollMs: 1, heartbeatMs: 3 }, adapter: { enqueue: async () => {} } });
    await (await post("/workflows/order_fulfillment/executions", { input: smallOrder, executionId: "idle" })).text();
    const timers = trackTimers();
    try {
      const client = new AbortController();
      const reader = new SseReader(await fetch(`${base}/executions/idle/events`, { signal: client.signal }));
      expect(await reader.next()).toEqual({ comment: "heartbeat" });
      client.abort();
      await waitFor(() => timers.live === 0, "every timer of the stream to be cleared");
      const reads = counted.total();
      for (let i = 0; i < 20; i++) await new Promise((resolve) => setTimeout(resolve, 1)); // 20 poll intervals
      expect(counted.total()).toBe(reads);
    } finally {
      timers.restore();
    }
  });
});
