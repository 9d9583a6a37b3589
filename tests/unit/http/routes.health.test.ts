import { describe, expect, test } from "bun:test";
import { HEALTH_PROBE_ID } from "../../../routes/health.ts";
import { MemoryStore } from "../../../src/store/memory.ts";
import { problemOf, setup, TOKEN, unreachableStore } from "../../support/routes.ts";

describe("GET /health", () => {
  test("answers ok and the version without touching the store", async () => {
    const { app } = setup({ store: unreachableStore() });
    const response = await app.request("/health");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, version: "9.9.9-test" });
  });

  test("?deep=1 loads an execution from the store and answers ok when it answers", async () => {
    const store = new MemoryStore();
    const loaded: string[] = [];
    const load = store.load.bind(store);
    store.load = (id) => (loaded.push(id), load(id));
    const { app } = setup({ store });
    const response = await app.request("/health?deep=1");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true, version: "9.9.9-test" });
    expect(loaded).toEqual([HEALTH_PROBE_ID]);
  });

  test("?deep=1 is 503 problem+json naming the store's error when the store fails", async () => {
    const { app } = setup({ store: unreachableStore() });
    const response = await app.request("/health?deep=1");
    const problem = await problemOf(response);
    expect(problem.status).toBe(503);
    expect(problem.contentType).toBe("application/problem+json");
    expect(problem.body.detail).toContain("StoreError: Upstash unreachable (load)");
    expect(response.headers.get("retry-after")).toBe("5");
  });

  test("?deep=1 needs no token", async () => {
    const { app } = setup({ token: TOKEN });
    expect((await app.request("/health?deep=1")).status).toBe(200);
  });

  test("?deep= with another value than 0 or 1 is 400", async () => {
    const { app } = setup();
    expect((await problemOf(await app.request("/health?deep=yes"))).status).toBe(400);
  });
});

describe("GET /", () => {
  test("redirects 302 to /dashboard, without the token", async () => {
    const { app } = setup({ token: TOKEN });
    const response = await app.request("/");
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/dashboard");
  });
});
