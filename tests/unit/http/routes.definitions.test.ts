import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createApp } from "../../../routes/app.ts";
import { StoredWorkflow, WorkflowList, WorkflowVersionList } from "../../../routes/schemas.ts";
import { loadWorkflow } from "../../../src/definition/load.ts";
import { ConfigError } from "../../../src/errors.ts";
import { QStashAdapter } from "../../../src/runners/adapters/qstash.ts";
import { AsyncRunner } from "../../../src/runners/async.ts";
import { SyncRunner } from "../../../src/runners/sync.ts";
import { MemoryStore } from "../../../src/store/memory.ts";
import type { Store } from "../../../src/store/store.ts";
import { UpstashRedisStore } from "../../../src/store/upstash-redis.ts";
import type { Services } from "../../../src/types.ts";
import { countingStore } from "../../support/engine.ts";
import { redisServerAvailable, type RedisStack, startRedisStack } from "../../support/redis.ts";
import { greetingWorkflow, problemOf, send, sequentialIds, setup, start, tickingClock } from "../../support/routes.ts";

type App = ReturnType<typeof createApp>;

/** Greeting v2: steps renamed and reordered, another result. */
const GREETING_V2 = `id: greeting
name: Greeting
version: "2"
inputs:
  name: { type: string }
steps:
  - id: begin
    type: start
    next: ask
  - id: done
    type: end
    result: { greeting: "Hey $input.name", v: 2 }
  - id: ask
    type: halt
    reason: Say hey?
    next: done
`;

const put = (app: App, body: string, type = "application/yaml", id = "greeting") =>
  send(app, "PUT", `/workflows/${id}`, body, { "content-type": type });

async function haltedGreeting(app: App, id: string) {
  expect((await (await start(app, { name: "Ada" }, { executionId: id, mode: "sync" }, "greeting")).json()).status).toBe("halted");
}

async function resumeSync(app: App, id: string) {
  return await (await send(app, "POST", `/executions/${id}/resume`, { mode: "sync" })).json();
}

describe("PUT /workflows/:id", () => {
  test("answers 201 with id, version and hash when it stores a new current version", async () => {
    const { app } = setup();
    const response = await put(app, GREETING_V2);
    expect(response.status).toBe(201);
    expect(StoredWorkflow.strict().parse(await response.json())).toEqual({
      id: "greeting",
      version: "2",
      hash: loadWorkflow(GREETING_V2).hash,
    });
  });

  test("answers 200 when that definition already is the current version", async () => {
    const { app } = setup();
    await put(app, GREETING_V2);
    expect((await put(app, GREETING_V2, "text/yaml")).status).toBe(200);
  });

  test("takes JSON too", async () => {
    const { app } = setup();
    const json = JSON.stringify({ ...JSON.parse(JSON.stringify(loadWorkflow(GREETING_V2))), hash: undefined });
    expect((await put(app, json, "application/json")).status).toBe(201);
  });

  test("answers 400 for a definition that is not valid UTF-8, and stores nothing", async () => {
    const { app, store } = setup();
    const bytes = new Uint8Array([...new TextEncoder().encode(GREETING_V2.replace("Hey", "H")), 0xff]);
    const response = await app.request("/workflows/greeting", {
      method: "PUT",
      headers: { "content-type": "application/yaml" },
      body: bytes,
    });
    const problem = await problemOf(response);
    expect(problem.status).toBe(400);
    expect(problem.body.detail).toContain(`not valid UTF-8 (its first bad byte is at offset ${bytes.length - 1})`);
    expect(await store.definition(loadWorkflow(GREETING_V2.replace("Hey", "H")).hash)).toBeNull();
  });

  test("answers 400 for a run input that is not valid UTF-8", async () => {
    const { app } = setup();
    const text = JSON.stringify({ input: { name: "Ada" }, mode: "sync" });
    const bytes = new TextEncoder().encode(text);
    bytes[bytes.indexOf(0x41)] = 0xc3; // "A" → the first byte of a two-byte character, followed by "d"
    const response = await app.request("/workflows/greeting/executions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: bytes,
    });
    expect(response.status).toBe(400);
  });

  test("answers 422 for a wait of 1e13 seconds, naming the step's key", async () => {
    const { app } = setup();
    const problem = await problemOf(
      await put(app, GREETING_V2.replace("    type: halt\n    reason: Say hey?", "    type: wait\n    seconds: 1e13")),
    );
    expect(problem.status).toBe(422);
    expect(problem.body.errors).toMatchObject([{ path: "steps[2].seconds", line: 15, column: 14 }]);
    expect(problem.body.errors![0]!.message).toContain("must be at most 8640000000000");
  });

  test("answers 422 listing every problem with its line and column", async () => {
    const { app } = setup();
    const broken = GREETING_V2.replace("next: ask", "next: nowhere").replace("type: end", "type: teleport");
    const problem = await problemOf(await put(app, broken));
    expect(problem.status).toBe(422);
    expect(problem.body.errors!.length).toBeGreaterThanOrEqual(2);
    for (const issue of problem.body.errors! as { line?: number; column?: number }[]) {
      expect(issue.line).toBeGreaterThan(0);
      expect(issue.column).toBeGreaterThan(0);
    }
  });

  test("answers 409 when the body's id is not the path's", async () => {
    const { app } = setup();
    const problem = await problemOf(await put(app, GREETING_V2, "application/yaml", "other"));
    expect(problem.status).toBe(409);
    expect(problem.body.detail).toContain('"greeting"');
  });

  test("answers 409 naming the version and both hashes when another definition reuses a stored version", async () => {
    const { app } = setup();
    await put(app, GREETING_V2);
    const changed = GREETING_V2.replace('"Hey $input.name"', '"Howdy $input.name"');
    const problem = await problemOf(await put(app, changed));
    expect(problem.status).toBe(409);
    expect(problem.body.detail).toBe(
      `Version "2" of workflow "greeting" is already stored with another definition (hash ${loadWorkflow(GREETING_V2).hash}; ` +
        `this one's is ${loadWorkflow(changed).hash}): give the changed definition a new version.`,
    );
    expect(problem.body.errors).toEqual([{ path: "version", message: expect.stringContaining('version "2"') }]);
    expect((await put(app, changed.replace('version: "2"', 'version: "3"'))).status).toBe(201);
  });

  test("a code definition's version counts: PUTting another definition as its version is a 409", async () => {
    const { app } = setup({ workflows: [greetingWorkflow] });
    const same = GREETING_V2.replace('version: "2"', `version: "${greetingWorkflow.version}"`);
    expect((await problemOf(await put(app, same))).status).toBe(409);
  });

  test("answers 422 naming every service and method the app does not have", async () => {
    const { app } = setup({ services: { Known: { ok: () => 1 } } as unknown as Services, workflows: [greetingWorkflow] });
    const calls = `id: calls
name: Calls
steps:
  - id: start
    type: start
    next: each
  - id: each
    type: loop
    over: [1]
    do:
      - id: inner
        type: call
        service: Missing
        method: go
    next: known
  - id: known
    type: call
    service: Known
    method: absent
`;
    const problem = await problemOf(await put(app, calls, "application/yaml", "calls"));
    expect(problem.status).toBe(422);
    expect(problem.body.detail).toContain("Missing.go");
    expect(problem.body.detail).toContain("Known.absent");
  });

  test("answers 415 for a body that is neither YAML nor JSON", async () => {
    const { app } = setup();
    expect((await put(app, GREETING_V2, "text/plain")).status).toBe(415);
  });
});

describe("the current version", () => {
  test("new runs use the PUT version; an execution halted on v1 resumes and completes on v1", async () => {
    const { app } = setup();
    await haltedGreeting(app, "old");
    await put(app, GREETING_V2);
    await haltedGreeting(app, "new");
    expect(await resumeSync(app, "old")).toMatchObject({ status: "completed", output: { greeting: "Hello Ada" } });
    expect(await resumeSync(app, "new")).toMatchObject({ status: "completed", output: { greeting: "Hey Ada", v: 2 } });
  });

  test("GET /workflows/:id shows the current version", async () => {
    const { app } = setup();
    await put(app, GREETING_V2);
    expect(await (await app.request("/workflows/greeting")).json()).toMatchObject({
      version: "2",
      steps: [{ id: "begin" }, { id: "done" }, { id: "ask" }],
    });
  });

  test("an older code definition never overrides a newer PUT", async () => {
    const store = new MemoryStore();
    const first = setup({ store });
    await put(first.app, GREETING_V2);
    const redeployed = setup({ store });
    expect(await (await redeployed.app.request("/workflows/greeting")).json()).toMatchObject({ version: "2" });
  });

  test("a redeploy with a changed code definition becomes current", async () => {
    const store = new MemoryStore();
    await put(setup({ store }).app, GREETING_V2);
    const v3 = loadWorkflow(GREETING_V2.replace('version: "2"', 'version: "3"'));
    const redeployed = setup({ store, workflows: [v3] });
    expect(await (await redeployed.app.request("/workflows/greeting")).json()).toMatchObject({ version: "3" });
  });

  test("GET /workflows lists the code workflows, then those only in the store", async () => {
    const store = new MemoryStore();
    await put(setup({ store }).app, GREETING_V2);
    const { app } = setup({ store, workflows: [] });
    const { workflows } = WorkflowList.parse(await (await app.request("/workflows")).json());
    expect(workflows.map((w) => [w.id, w.version])).toEqual([["greeting", "2"]]);
    const both = WorkflowList.parse(await (await setup({ store }).app.request("/workflows")).json());
    expect(both.workflows.map((w) => w.id)).toEqual(["order_fulfillment", "greeting"]);
  });

  test("after its first use, a run start reads no definition: its save checks the version (Commit.currentHash)", async () => {
    const counted = countingStore(new MemoryStore());
    const { app } = setup({ store: counted.store });
    await haltedGreeting(app, "warm");
    counted.reset();
    await haltedGreeting(app, "second");
    expect(Object.keys(counted.counts).filter((name) => /definition|workflowIds/i.test(name))).toEqual([]);
    expect(counted.commits[0]!.currentHash).toBe(greetingWorkflow.hash);
  });

  test("an async start handed to QStash answers pending without reading the execution back; an existing id is read", async () => {
    const counted = countingStore(new MemoryStore());
    const published: unknown[] = [];
    const client = { publishJSON: (request: unknown) => (published.push(request), Promise.resolve({ messageId: "m", url: "" })) };
    const adapter = new QStashAdapter({ client: client as never, callbackUrl: "https://app.example/qstash" });
    const { app } = setup({ store: counted.store, adapter });
    await start(app, { name: "Ada" }, {}, "greeting"); // warm: the current version is known
    counted.reset();
    const answer = await start(app, { name: "Ada" }, {}, "greeting");
    expect(answer.status).toBe(202);
    expect(await answer.json()).toMatchObject({ status: "pending" });
    expect(counted.counts).toEqual({ commit: 1 });
    expect(published).toHaveLength(2);
    const { executionId } = await (await start(app, { name: "Ada" }, { executionId: "known" }, "greeting")).json();
    await counted.store.commit({ execution: { ...(await counted.store.load(executionId))!, status: "cancelled" } });
    expect(await (await start(app, { name: "Ada" }, { executionId: "known" }, "greeting")).json()).toMatchObject({ status: "cancelled" });
  });

  test("a version PUT by another app on the same store is the one the next start runs on, sync or async", async () => {
    const store = new MemoryStore();
    const { app } = setup({ store });
    const other = setup({ store }).app;
    await haltedGreeting(app, "warm");
    expect((await put(other, GREETING_V2)).status).toBe(201);
    expect(await (await start(app, { name: "Ada" }, { executionId: "sync", mode: "sync" }, "greeting")).json())
      .toMatchObject({ status: "halted", halt: { prompt: "Say hey?" } });
    expect((await start(app, { name: "Ada" }, { executionId: "async" }, "greeting")).status).toBe(202);
    expect((await store.load("sync"))!.workflowVersion).toBe("2");
    expect((await store.load("async"))!.workflowVersion).toBe("2");
  });
});

describe("the current version for runners used as a library", () => {
  test("a SyncRunner on the app's store runs new executions on the version made current by PUT", async () => {
    const { app, store } = setup();
    await put(app, GREETING_V2);
    const result = await new SyncRunner(greetingWorkflow, { store }).runUntilComplete({ name: "Ada" }, () => ({}));
    expect(result).toMatchObject({ status: "completed", output: { greeting: "Hey Ada", v: 2 } });
  });

  test("an AsyncRunner on the app's store starts new executions on the version made current by PUT", async () => {
    const { app, store } = setup();
    await put(app, GREETING_V2);
    const runner = new AsyncRunner(greetingWorkflow, { store });
    const id = await runner.run({ name: "Ada" });
    expect((await store.load(id))!.workflowVersion).toBe("2");
    await runner.resume(id, {});
    expect(await runner.wait(id, { timeoutMs: 1000 })).toMatchObject({ status: "completed", output: { greeting: "Hey Ada", v: 2 } });
  });

  test("a runner told to take its workflow as given ignores the store's current version", async () => {
    const { app, store } = setup();
    await put(app, GREETING_V2);
    const result = await new SyncRunner(greetingWorkflow, { store, definitions: "as-given" }).run({ name: "Ada" });
    expect((await store.load(result.executionId))!.workflowVersion).toBe(greetingWorkflow.version);
  });

  test("a runner's changed code definition becomes current for the app at its first run", async () => {
    const { app, store } = setup();
    await haltedGreeting(app, "v1");
    const v3 = loadWorkflow(GREETING_V2.replace('version: "2"', 'version: "3"'));
    await new SyncRunner(v3, { store }).run({ name: "Ada" });
    expect(await (await app.request("/workflows/greeting")).json()).toMatchObject({ version: "3" });
  });
});

describe("GET /workflows/:id/versions", () => {
  test("lists every version, oldest first, with the executions halted on each", async () => {
    const { app } = setup();
    await haltedGreeting(app, "h-1");
    await haltedGreeting(app, "h-2");
    await put(app, GREETING_V2);
    await haltedGreeting(app, "h-3");
    const { versions } = WorkflowVersionList.parse(await (await app.request("/workflows/greeting/versions")).json());
    expect(versions.map(({ version, current, halted, pending }) => ({ version, current, halted, pending }))).toEqual([
      { version: "1.0", current: false, halted: 2, pending: 0 },
      { version: "2", current: true, halted: 1, pending: 0 },
    ]);
  });

  test("counts pending executions", async () => {
    const jobs: unknown[] = [];
    const { app } = setup({ adapter: { enqueue: async (job) => void jobs.push(job) } });
    await start(app, { name: "Ada" }, { executionId: "p-1" }, "greeting");
    const { versions } = WorkflowVersionList.parse(await (await app.request("/workflows/greeting/versions")).json());
    expect(versions).toMatchObject([{ version: "1.0", current: true, halted: 0, pending: 1 }]);
  });

  test("answers 404 when no version is stored", async () => {
    const { app } = setup();
    expect((await app.request("/workflows/nothing/versions")).status).toBe(404);
  });
});

describe("createApp", () => {
  const calling = (id: string, service: string, method?: string) =>
    loadWorkflow({
      id,
      name: id,
      steps: [
        { id: "start", type: "start", next: "each" },
        { id: "each", type: "loop", over: [1], do: [{ id: "inner", type: "call", service, ...(method ? { method } : {}) }] },
      ],
    });

  test("refuses, in one ConfigError, two workflows with one id and calls to services it does not have (nested too)", () => {
    const build = () =>
      createApp({
        store: new MemoryStore(),
        workflows: [greetingWorkflow, greetingWorkflow, calling("a", "Nope", "go"), calling("b", "notify")],
        services: {},
      });
    expect(build).toThrow(ConfigError);
    expect(build).toThrow(/"greeting".*"Nope\.go".*"notify"/);
  });

  test("starts when every called service and method exists", () => {
    expect(() => createApp({ store: new MemoryStore(), workflows: [calling("a", "Svc", "go")], services: { Svc: { go: () => 1 } } })).not
      .toThrow();
  });
});

if (redisServerAvailable()) {
  describe("two apps sharing one Redis store", () => {
    let stack: RedisStack;
    beforeAll(async () => {
      stack = await startRedisStack();
    });
    afterAll(async () => {
      await stack?.stop();
    });

    const app = (prefix: string): App =>
      createApp({
        store: new UpstashRedisStore({ redis: stack.redis, prefix }) as Store,
        workflows: [greetingWorkflow],
        clock: tickingClock(),
        ids: sequentialIds(prefix),
      });

    test("a PUT on one is current for new runs on the other; a run halted on v1 completes on v1 there", async () => {
      const a = app("two");
      const b = app("two");
      await haltedGreeting(a, "v1-run");
      expect((await put(a, GREETING_V2)).status).toBe(201);
      await haltedGreeting(b, "v2-run");
      expect(await resumeSync(b, "v1-run")).toMatchObject({ status: "completed", output: { greeting: "Hello Ada" } });
      expect(await resumeSync(b, "v2-run")).toMatchObject({ status: "completed", output: { greeting: "Hey Ada", v: 2 } });
      expect((await put(b, GREETING_V2)).status).toBe(200);
    });
  });
}
