import { describe, expect, test } from "bun:test";
import { loadWorkflow } from "../../../src/definition/load.ts";
import { problemOf, send, setup, shippingWorkflow as shipping, start, TOKEN } from "../../support/routes.ts";

const onSignup = loadWorkflow({
  id: "welcome",
  name: "Welcome a new user",
  triggers: [{ event: "user.signed_up", match: { field: "event.plan", value: "pro" } }],
  steps: [{ id: "start", type: "start", next: "done" }, { id: "done", type: "end", result: { user: "$input.user" } }],
});

function app() {
  return setup({ workflows: [shipping, onSignup] });
}

describe("POST /events/:name", () => {
  test("wakes the waiting run whose match holds: 202 { id, delivered }", async () => {
    const { app: a, store } = app();
    await start(a, { order: "o-1" }, { executionId: "s-1", mode: "sync" }, "shipping");
    const response = await send(a, "POST", "/events/order:shipped", { payload: { order: "o-1", carrier: "DHL" }, id: "ship-1" });
    expect([response.status, await response.json()]).toEqual([202, { id: "ship-1", delivered: 1, duplicate: false, started: [] }]);
    expect((await store.load("s-1"))!.result).toEqual({ order: "o-1", carrier: "DHL" });
  });

  test("the same id sent twice is delivered once", async () => {
    const { app: a } = app();
    await start(a, { order: "o-1" }, { executionId: "s-1", mode: "sync" }, "shipping");
    await send(a, "POST", "/events/order:shipped", { payload: { order: "o-1" }, id: "x" });
    const again = await (await send(a, "POST", "/events/order:shipped", { payload: { order: "o-1" }, id: "x" })).json();
    expect([again.delivered, again.duplicate]).toEqual([0, true]);
  });

  test("an event trigger starts a run with the payload as input, once per event id", async () => {
    const { app: a, store } = app();
    const body = { payload: { user: "ada", plan: "pro" }, id: "u-1" };
    expect((await (await send(a, "POST", "/events/user.signed_up", body)).json()).started).toEqual(["welcome:event:u-1"]);
    expect((await store.load("welcome:event:u-1"))!.result).toEqual({ user: "ada" });
    expect((await (await send(a, "POST", "/events/user.signed_up", { payload: { plan: "free" } })).json()).started).toEqual([]);
  });

  test("a bad event name is a 400 problem naming it", async () => {
    const { status, body } = await problemOf(await send(app().app, "POST", "/events/bad%20name", { payload: {} }));
    expect([status, body.errors?.[0]?.path]).toEqual([400, "name"]);
  });

  test("an unknown body field is a 400 problem naming it", async () => {
    const { status, body } = await problemOf(await send(app().app, "POST", "/events/ping", { payload: {}, extra: 1 }));
    expect(status).toBe(400);
    expect(JSON.stringify(body.errors)).toContain("extra");
  });

  test("a body over the limit is 413", async () => {
    const { app: a } = setup({ workflows: [shipping], limits: { maxBodyBytes: 100 } });
    expect((await send(a, "POST", "/events/ping", { payload: "x".repeat(200) })).status).toBe(413);
  });

  test("needs the API token like every other route", async () => {
    const { app: a } = setup({ workflows: [shipping], token: TOKEN });
    expect((await send(a, "POST", "/events/ping", { payload: {} })).status).toBe(401);
    expect((await send(a, "POST", "/events/ping", { payload: {} }, { authorization: `Bearer ${TOKEN}` })).status).toBe(202);
  });
});

describe("GET /workflows/:id with triggers", () => {
  test("lists the triggers and when each cron trigger starts next", async () => {
    const weekly = loadWorkflow({
      id: "weekly",
      name: "Weekly report",
      triggers: [{ cron: "0 9 * * mon", timezone: "Europe/Paris" }, { event: "report.requested" }],
      steps: [{ id: "start", type: "start", next: "done" }, { id: "done", type: "end" }],
    });
    const body = await (await send(setup({ workflows: [weekly] }).app, "GET", "/workflows/weekly")).json();
    expect(body.triggers).toEqual([{ cron: "0 9 * * mon", timezone: "Europe/Paris" }, { event: "report.requested" }]);
    expect(body.nextStarts).toEqual([{ cron: "0 9 * * mon", timezone: "Europe/Paris", next: "2026-01-05T08:00:00.000Z" }]);
  });
});
