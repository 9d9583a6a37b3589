import { describe, expect, test } from "bun:test";
import { parseTokens } from "../../../routes/auth.ts";
import { ConfigError } from "../../../src/errors.ts";
import type { Logger } from "../../../src/log.ts";
import { Engine } from "../../../src/engine/engine.ts";
import { greetingWorkflow, send, setup, shippingWorkflow } from "../../support/routes.ts";

const TOKENS = "alice:alice-secret,bob:bob-secret";
const as = (secret: string) => ({ authorization: `Bearer ${secret}` });

function app(token = TOKENS) {
  const lines: Record<string, unknown>[] = [];
  const keep = (raw: string) => lines.push(JSON.parse(raw));
  const logger: Logger = { debug: keep, info: keep, warn: keep, error: keep };
  return { ...setup({ token, logger, workflows: [greetingWorkflow, shippingWorkflow] }), lines };
}

async function halted(t: ReturnType<typeof app>, secret = "alice-secret") {
  const response = await send(t.app, "POST", "/workflows/greeting/executions", { mode: "sync", input: { name: "Ada" } }, as(secret));
  expect(response.status).toBe(200);
  return ((await response.json()) as { executionId: string }).executionId;
}

describe("actors", () => {
  test("a sync resume records the token's name on the first entry after the halt and on the resumed event", async () => {
    const t = app();
    const id = await halted(t);
    expect((await send(t.app, "POST", `/executions/${id}/resume`, { mode: "sync", response: "hi" }, as("bob-secret"))).status).toBe(200);
    const entries = await t.store.entries(id);
    expect(entries.map((e) => [e.stepId, e.action, e.actor])).toEqual([
      ["start", "completed", undefined],
      ["wait", "halted", undefined],
      ["finish", "completed", "bob"],
    ]);
    const resumed = (await t.store.events(id)).filter((e) => e.type === "workflow.resumed");
    expect(resumed.map((e) => e.data.actor)).toEqual(["bob"]);
  });

  test("an async resume keeps the actor with the stored answer until the queue applies it", async () => {
    const t = app();
    const id = await halted(t);
    expect((await send(t.app, "POST", `/executions/${id}/resume`, { response: "later" }, as("alice-secret"))).status).toBe(202);
    const entries = await t.store.entries(id);
    expect(entries.map((e) => e.actor)).toEqual([undefined, undefined, "alice"]);
  });

  test("cancel and retry record who did it on their events, and each writes one operator log line", async () => {
    const t = app();
    const id = await halted(t);
    expect((await send(t.app, "POST", `/executions/${id}/cancel`, { reason: "dup" }, as("bob-secret"))).status).toBe(200);
    const cancelled = (await t.store.events(id)).find((e) => e.type === "workflow.cancelled");
    expect(cancelled?.data).toMatchObject({ reason: "dup", actor: "bob" });
    expect(t.lines.filter((l) => l.msg === "operator cancel").map((l) => [l.executionId, l.actor])).toEqual([[id, "bob"]]);
  });

  test("bulk cancel records the actor on every execution it cancels", async () => {
    const t = app();
    const ids = [await halted(t), await halted(t)];
    const answer = await send(t.app, "POST", "/executions/cancel", { filter: { workflowId: "greeting" }, max: 5 }, as("alice-secret"));
    expect(answer.status).toBe(200);
    for (const id of ids) {
      expect((await t.store.events(id)).find((e) => e.type === "workflow.cancelled")?.data.actor).toBe("alice");
    }
  });

  test("migrate records who moved the run on a workflow.migrated event", async () => {
    const t = app();
    const id = await halted(t);
    const yaml = `id: greeting\nname: Greeting\nversion: "2"\nsteps:\n  - id: start\n    type: start\n    next: wait\n` +
      `  - id: wait\n    type: halt\n    reason: Say hi?\n    next: finish\n  - id: finish\n    type: end\n`;
    expect((await send(t.app, "PUT", "/workflows/greeting", yaml, { "content-type": "application/yaml", ...as("bob-secret") })).status)
      .toBe(201);
    expect((await send(t.app, "POST", `/executions/${id}/migrate`, {}, as("bob-secret"))).status).toBe(200);
    const migrated = (await t.store.events(id)).filter((e) => e.type === "workflow.migrated");
    expect(migrated.map((e) => [e.data.fromVersion, e.data.version, e.data.actor])).toEqual([["1.0", "2", "bob"]]);
  });

  test("recover records who handed the run back on a workflow.recovered event", async () => {
    const t = app();
    await new Engine(greetingWorkflow, { store: t.store }).prepare({ name: "Ada" }, { executionId: "lost-job" });
    expect((await send(t.app, "POST", "/executions/lost-job/recover", {}, as("alice-secret"))).status).toBe(202);
    const recovered = (await t.store.events("lost-job")).filter((e) => e.type === "workflow.recovered");
    expect(recovered.map((e) => [e.data.status, e.data.actor])).toEqual([["pending", "alice"]]);
  });

  test("an event send names its sender on the woken run's event.received and in the operator log line", async () => {
    const t = app();
    const body = { mode: "sync", input: { order: "o-1" }, executionId: "parcel" };
    expect((await send(t.app, "POST", "/workflows/shipping/executions", body, as("alice-secret"))).status).toBe(200);
    expect((await send(t.app, "POST", "/events/order:shipped", { payload: { order: "o-1" }, id: "e-1" }, as("bob-secret"))).status)
      .toBe(202);
    const received = (await t.store.events("parcel")).filter((e) => e.type === "event.received");
    expect(received.map((e) => [e.data.eventId, e.data.actor])).toEqual([["e-1", "bob"]]);
    expect(t.lines.filter((l) => l.msg === "operator send event").map((l) => [l.eventId, l.actor])).toEqual([["e-1", "bob"]]);
  });

  test("PUT /workflows/:id stores who put the version", async () => {
    const t = app();
    const yaml =
      `id: greeting\nname: Greeting\nversion: "2"\nsteps:\n  - id: start\n    type: start\n    next: finish\n  - id: finish\n    type: end\n`;
    expect((await send(t.app, "PUT", "/workflows/greeting", yaml, { "content-type": "application/yaml", ...as("bob-secret") })).status)
      .toBe(201);
    const versions = (await (await send(t.app, "GET", "/workflows/greeting/versions", undefined, as("bob-secret"))).json()) as {
      versions: { version: string; storedBy?: string }[];
    };
    expect(versions.versions.map((v) => [v.version, v.storedBy])).toEqual([["1.0", undefined], ["2", "bob"]]);
  });

  test("the one unnamed token is still valid and acts as api-token", async () => {
    const t = app("plain-secret");
    const id = await halted(t, "plain-secret");
    await send(t.app, "POST", `/executions/${id}/cancel`, {}, as("plain-secret"));
    expect((await t.store.events(id)).find((e) => e.type === "workflow.cancelled")?.data.actor).toBe("api-token");
  });

  test("a wrong secret is refused whichever names exist", async () => {
    const t = app();
    expect((await send(t.app, "GET", "/executions", undefined, as("alice"))).status).toBe(401);
    expect((await send(t.app, "GET", "/executions", undefined, as("alice:alice-secret"))).status).toBe(401);
  });

  test("token lists with two unnamed tokens, a repeated name or a bad name are refused, without the secret", () => {
    expect(() => parseTokens("one,two")).toThrow(new ConfigError("Only one API token may be unnamed"));
    expect(() => parseTokens("a:x1,a:x2")).toThrow('Two API tokens are named "a"');
    expect(() => parseTokens("a b:x1")).toThrow("API token 1: its name must be 1 to 64 letters");
    expect(() => parseTokens("a:bad secret")).toThrow('API token "a": a secret may hold only');
    expect(parseTokens(" ops:s1 , s2 ")).toEqual([{ name: "ops", secret: "s1" }, { name: null, secret: "s2" }]);
  });
});
