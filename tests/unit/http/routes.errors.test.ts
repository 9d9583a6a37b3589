import { afterEach, beforeEach, describe, expect, spyOn, test } from "bun:test";
import { createApp } from "../../../routes/app.ts";
import { Problem } from "../../../routes/schemas.ts";
import { ConfigError } from "../../../src/errors.ts";
import { MemoryStore } from "../../../src/store/memory.ts";
import type { Store } from "../../../src/store/store.ts";
import { orderWorkflow, problemOf, send, setup, smallOrder, start, unreachableStore } from "../../support/routes.ts";

let consoleError: ReturnType<typeof spyOn>;
beforeEach(() => {
  consoleError = spyOn(console, "error").mockImplementation(() => {});
});
afterEach(() => consoleError.mockRestore());

const RUN = "/workflows/order_fulfillment/executions";

describe("problem+json", () => {
  test("every problem has type, title, status and detail, and nothing else but errors", async () => {
    const { app } = setup();
    const response = await app.request("/executions/missing");
    expect(Problem.strict().parse(await response.json())).toEqual({
      type: "https://durable-workflow.dev/problems/not-found",
      title: "Not found",
      status: 404,
      detail: 'Execution "missing" not found.',
    });
  });

  test("an unknown route is a 404 problem", async () => {
    const { app } = setup();
    const problem = await problemOf(await app.request("/no/such/route"));
    expect(problem.status).toBe(404);
    expect(problem.contentType).toBe("application/problem+json");
  });

  test("a known path with another method is a 404 problem", async () => {
    const { app } = setup();
    const problem = await problemOf(await app.request("/workflows", { method: "PUT" }));
    expect(problem.status).toBe(404);
    expect(problem.contentType).toBe("application/problem+json");
  });
});

describe("400", () => {
  test("malformed JSON", async () => {
    const { app } = setup();
    const problem = await problemOf(await send(app, "POST", RUN, '{"input": {'));
    expect(problem.status).toBe(400);
    expect(problem.contentType).toBe("application/problem+json");
    expect(problem.body.detail).toContain("Malformed JSON");
  });

  test("a body that is JSON but not an object", async () => {
    const { app } = setup();
    const problem = await problemOf(await send(app, "POST", RUN, "[1, 2]"));
    expect(problem.status).toBe(400);
    expect(problem.body.errors?.length).toBeGreaterThan(0);
  });
});

describe("415", () => {
  test("a body that is not declared JSON", async () => {
    const { app } = setup();
    const response = await app.request(RUN, {
      method: "POST",
      headers: { "content-type": "text/plain" },
      body: JSON.stringify({ input: smallOrder }),
    });
    const problem = await problemOf(response);
    expect(problem.status).toBe(415);
  });
});

describe("413", () => {
  test("a Content-Length over the limit is refused before reading", async () => {
    const { app } = setup({ limits: { maxBodyBytes: 100 } });
    const body = JSON.stringify({ input: { ...smallOrder, note: "x".repeat(200) } });
    const problem = await problemOf(await send(app, "POST", RUN, body));
    expect(problem.status).toBe(413);
    expect(problem.body.type).toBe("https://durable-workflow.dev/problems/payload-too-large");
  });

  test("a streamed body over the limit is refused while reading", async () => {
    const { app } = setup({ limits: { maxBodyBytes: 100 } });
    const chunk = new TextEncoder().encode("x".repeat(60));
    let sent = 0;
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 100) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const request = new Request("http://localhost" + RUN, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: stream,
      duplex: "half",
    } as RequestInit);
    const response = await app.request(request);
    expect(response.status).toBe(413);
    expect(sent).toBeLessThan(10);
  });

  test("the default limit is 1 MiB", async () => {
    const { app } = setup();
    const body = JSON.stringify({ input: { ...smallOrder, note: "x".repeat(1024 * 1024) } });
    expect((await send(app, "POST", RUN, body)).status).toBe(413);
  });

  test("a body under the limit goes through", async () => {
    const { app } = setup({ limits: { maxBodyBytes: 1000 } });
    expect((await start(app, smallOrder, { mode: "sync" })).status).toBe(200);
  });
});

describe("503 when the store is down", () => {
  test("answers 503 with Retry-After", async () => {
    const { app } = setup({ store: unreachableStore() });
    const response = await app.request("/executions/e-1");
    const problem = await problemOf(response);
    expect(problem.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("5");
    expect(problem.body.type).toBe("https://durable-workflow.dev/problems/store-unavailable");
  });

  test("a run against a store that is down is 503", async () => {
    const { app } = setup({ store: unreachableStore() });
    expect((await start(app, smallOrder, { mode: "sync" })).status).toBe(503);
  });

  test("the store's message is not sent", async () => {
    const { app } = setup({ store: unreachableStore() });
    const text = await (await app.request("/executions")).text();
    expect(text).not.toContain("Upstash");
  });
});

describe("500", () => {
  function brokenStore(): Store {
    const store = new MemoryStore();
    store.load = async () => {
      throw new TypeError("secret internals at /srv/app/store.ts:42");
    };
    return store;
  }

  test("an unexpected error is a generic 500 problem", async () => {
    const { app } = setup({ store: brokenStore() });
    const problem = await problemOf(await app.request("/executions/e-1"));
    expect(problem.status).toBe(500);
    expect(problem.contentType).toBe("application/problem+json");
    expect(problem.body.detail).toBe("An unexpected error occurred.");
  });

  test("an unexpected error is logged with console.error", async () => {
    const { app } = setup({ store: brokenStore() });
    await app.request("/executions/e-1");
    expect(consoleError).toHaveBeenCalled();
  });

  test("no error body carries a stack trace or the error's message", async () => {
    const { app } = setup({ store: brokenStore() });
    const text = await (await app.request("/executions/e-1")).text();
    expect(text).not.toContain("secret");
    expect(text).not.toMatch(/\bat .+:\d+/);
    expect(text).not.toContain("TypeError");
  });

  test("a ConfigError is a 500 with a safe detail", async () => {
    const app = createApp(() => {
      throw new ConfigError("UPSTASH_REDIS_REST_TOKEN=abc is wrong");
    });
    const problem = await problemOf(await app.request("/workflows"));
    expect(problem.status).toBe(500);
    expect(problem.body.detail).toBe("The server is not configured correctly.");
    expect(JSON.stringify(problem.body)).not.toContain("abc");
  });
});

describe("501", () => {
  test("POST /qstash on an app without QStash configured says so", async () => {
    const { app } = setup();
    const problem = await problemOf(
      await app.request("/qstash", { method: "POST", body: "{}", headers: { "content-type": "application/json" } }),
    );
    expect(problem.status).toBe(501);
    expect(problem.body.detail).toStartWith("QStash is not configured on this app");
  });
});

describe("no stack trace in any error body", () => {
  test("for every kind of failure", async () => {
    const { app } = setup({ limits: { maxBodyBytes: 2000 } });
    await start(app, smallOrder, { executionId: "done", mode: "sync" });
    const responses = await Promise.all([
      send(app, "POST", RUN, "{"),
      send(app, "POST", RUN, { mode: "nope" }),
      start(app, { order_id: 1 }),
      app.request("/executions/missing"),
      send(app, "POST", "/executions/done/resume", { approved: true }),
      send(app, "POST", RUN, { input: { pad: "x".repeat(3000) } }),
      app.request("/nowhere"),
      setup({ store: unreachableStore() }).app.request("/executions"),
    ]);
    expect(responses.map((r) => r.status)).toEqual([400, 400, 422, 404, 409, 413, 404, 503]);
    for (const response of responses) {
      expect(response.headers.get("content-type")).toBe("application/problem+json");
      const text = await response.text();
      expect(text).not.toMatch(/\n\s+at /);
      expect(text).not.toContain("stack");
      Problem.strict().parse(JSON.parse(text));
    }
  });
});

describe("workflow lookups", () => {
  test("a lookup function serves a workflow by id", async () => {
    const { app } = setup({ workflows: (id: string) => (id === orderWorkflow.id ? orderWorkflow : undefined) });
    expect((await app.request("/workflows/order_fulfillment")).status).toBe(200);
    expect((await app.request("/workflows/other")).status).toBe(404);
  });
});
