import { describe, expect, spyOn, test } from "bun:test";
import { safeEqual } from "../../../routes/auth.ts";
import { type AppOptions, createApp } from "../../../routes/app.ts";
import { ConfigError } from "../../../src/errors.ts";
import { MemoryStore } from "../../../src/store/memory.ts";
import { greetingWorkflow, problemOf, send, setup, smallOrder, TOKEN } from "../../support/routes.ts";

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe("with a token", () => {
  test("a request without Authorization is 401 with WWW-Authenticate: Bearer", async () => {
    const { app } = setup({ token: TOKEN });
    const response = await app.request("/workflows");
    const problem = await problemOf(response);
    expect(problem.status).toBe(401);
    expect(problem.contentType).toBe("application/problem+json");
    expect(response.headers.get("www-authenticate")).toStartWith("Bearer");
  });

  test("a wrong token is 401 with error=invalid_token", async () => {
    const { app } = setup({ token: TOKEN });
    const response = await app.request("/workflows", { headers: bearer("wrong") });
    expect(response.status).toBe(401);
    expect(response.headers.get("www-authenticate")).toContain('error="invalid_token"');
  });

  test("another scheme is 401", async () => {
    const { app } = setup({ token: TOKEN });
    expect((await app.request("/workflows", { headers: { authorization: `Basic ${btoa(`x:${TOKEN}`)}` } })).status).toBe(401);
  });

  test("the right token is let through", async () => {
    const { app } = setup({ token: TOKEN });
    expect((await app.request("/workflows", { headers: bearer(TOKEN) })).status).toBe(200);
  });

  test("the scheme is case-insensitive", async () => {
    const { app } = setup({ token: TOKEN });
    expect((await app.request("/workflows", { headers: { authorization: `bearer ${TOKEN}` } })).status).toBe(200);
  });

  test("GET /health stays open", async () => {
    const { app } = setup({ token: TOKEN });
    expect((await app.request("/health")).status).toBe(200);
  });

  test("POST /qstash is not behind the bearer token", async () => {
    const { app } = setup({ token: TOKEN });
    expect((await send(app, "POST", "/qstash", {})).status).not.toBe(401);
  });

  test("every other route needs the token", async () => {
    const { app } = setup({ token: TOKEN });
    const requests: [string, string, unknown?][] = [
      ["GET", "/openapi.json"],
      ["GET", "/workflows"],
      ["GET", "/workflows/order_fulfillment"],
      ["POST", "/workflows/order_fulfillment/executions", { input: smallOrder }],
      ["POST", "/workflows/order_fulfillment/executions/stream", { input: smallOrder }],
      ["GET", "/executions"],
      ["GET", "/executions/e-1"],
      ["GET", "/executions/e-1/entries"],
      ["GET", "/executions/e-1/events"],
      ["POST", "/executions/e-1/resume", { approved: true }],
      ["DELETE", "/executions/e-1"],
    ];
    for (const [method, path, body] of requests) {
      expect(`${method} ${path} ${(await send(app, method, path, body)).status}`).toBe(`${method} ${path} 401`);
    }
  });

  test("a request with a wrong token runs nothing", async () => {
    const { app, store } = setup({ token: TOKEN });
    await send(app, "POST", "/workflows/order_fulfillment/executions", { input: smallOrder, executionId: "x" }, bearer("nope"));
    expect(await store.load("x")).toBeNull();
  });

  test("an oversized body without a token is 401, not 413 (auth comes first)", async () => {
    const { app } = setup({ token: TOKEN, limits: { maxBodyBytes: 10 } });
    expect((await send(app, "POST", "/workflows/order_fulfillment/executions", { input: smallOrder })).status).toBe(401);
  });
});

describe("without a token", () => {
  test("every route is open", async () => {
    const { app } = setup();
    expect((await app.request("/workflows")).status).toBe(200);
    expect((await app.request("/executions")).status).toBe(200);
  });
});

describe("production mode", () => {
  const base = (): AppOptions => ({ store: new MemoryStore(), workflows: [greetingWorkflow] });

  test("createApp refuses to start without a token", () => {
    expect(() => createApp({ ...base(), production: true })).toThrow(ConfigError);
  });

  test("createApp refuses a token a client could not send after `Bearer ` (RFC 6750 b64token)", () => {
    expect(() => createApp({ ...base(), token: "two words" })).toThrow(ConfigError);
    expect(() => createApp({ ...base(), token: "abc!" })).toThrow(ConfigError);
    expect(() => createApp({ ...base(), token: "a-Z_0.9~+/==" })).not.toThrow();
  });

  test("starts with a token", () => {
    expect(() => createApp({ ...base(), production: true, token: TOKEN })).not.toThrow();
  });

  test("options from a function are checked on the first request: 500", async () => {
    const app = createApp(() => ({ ...base(), production: true }));
    const quiet = spyOn(console, "error").mockImplementation(() => {});
    try {
      expect((await app.request("/health")).status).toBe(500);
    } finally {
      quiet.mockRestore();
    }
  });
});

describe("options from the env", () => {
  test("the function gets the env bindings and is called once per env object", async () => {
    const seen: unknown[] = [];
    const app = createApp((env) => {
      seen.push(env);
      return { store: new MemoryStore(), workflows: [greetingWorkflow], version: String(env.VERSION) };
    });
    const env = { VERSION: "from-env" };
    const first = await (await app.request("/health", {}, env)).json();
    await app.request("/health", {}, env);
    await app.request("/health", {}, { VERSION: "other" });
    expect(first.version).toBe("from-env");
    expect(seen).toEqual([env, { VERSION: "other" }]);
  });

  test("a token from the env protects the routes", async () => {
    const app = createApp((env) => ({ store: new MemoryStore(), workflows: [greetingWorkflow], token: String(env.API_TOKEN) }));
    const env = { API_TOKEN: TOKEN };
    expect((await app.request("/workflows", {}, env)).status).toBe(401);
    expect((await app.request("/workflows", { headers: bearer(TOKEN) }, env)).status).toBe(200);
  });

  test("a failing options function is retried on the next request", async () => {
    let calls = 0;
    const app = createApp(async () => {
      if (++calls === 1) throw new Error("binding not ready");
      return { store: new MemoryStore(), workflows: [greetingWorkflow] };
    });
    const env = {};
    const quiet = spyOn(console, "error").mockImplementation(() => {});
    try {
      expect((await app.request("/health", {}, env)).status).toBe(500);
      expect((await app.request("/health", {}, env)).status).toBe(200);
    } finally {
      quiet.mockRestore();
    }
  });
});

describe("safeEqual", () => {
  test("is true for equal strings", async () => {
    expect(await safeEqual(TOKEN, TOKEN)).toBe(true);
  });

  test("is false for different strings of the same length", async () => {
    expect(await safeEqual("aaaa", "aaab")).toBe(false);
  });

  test("is false for a prefix", async () => {
    expect(await safeEqual(TOKEN, TOKEN.slice(0, -1))).toBe(false);
  });
});
