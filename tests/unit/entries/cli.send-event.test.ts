import { afterAll, describe, expect, test } from "bun:test";
import { createApp, loadWorkflow, MemoryStore, SyncRunner } from "../../../mod.ts";
import { cli } from "../../support/cli.ts";

const store = new MemoryStore();
const workflow = loadWorkflow({
  id: "parcel",
  name: "Parcel",
  steps: [
    { id: "start", type: "start", next: "wait" },
    { id: "wait", type: "wait_for_event", event: "order:shipped", next: "done" },
    { id: "done", type: "end", result: "$response" },
  ],
});
const server = Bun.serve({ port: 0, fetch: createApp({ store, workflows: [workflow], token: "t0k" }).fetch });
afterAll(() => server.stop(true));
const url = `http://127.0.0.1:${server.port}`;

describe("durable-workflow send-event", () => {
  test("sends the event to the app and prints its answer", async () => {
    await new SyncRunner(workflow, { store }).run({}, { executionId: "p-1" });
    const result = await cli([
      "send-event",
      "order:shipped",
      "--payload",
      '{"parcel":"P1"}',
      "--id",
      "s-1",
      "--url",
      url,
      "--token",
      "t0k",
    ]);
    expect([result.code, JSON.parse(result.stdout)]).toEqual([0, { id: "s-1", delivered: 1, duplicate: false, started: [] }]);
    expect((await store.load("p-1"))!.status).toBe("completed");
  });

  test("a refused send is one line naming the problem, exit 1", async () => {
    const result = await cli(["send-event", "bad name", "--url", url, "--token", "t0k"]);
    expect(result.code).toBe(1);
    expect(result.stderr).toStartWith("durable-workflow: the app answered 400: name ");
  });
});
