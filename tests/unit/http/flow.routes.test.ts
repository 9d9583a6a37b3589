// Flow control over HTTP: GET /workflows/:id/flow, why an execution waits, `priority` on a start (issue 20).
import { describe, expect, test } from "bun:test";
import { Execution, WorkflowFlow } from "../../../routes/schemas.ts";
import { loadWorkflow } from "../../../src/definition/load.ts";
import { MemoryStore } from "../../../src/store/memory.ts";
import type { Services } from "../../../src/types.ts";
import { send, setup, start } from "../../support/routes.ts";

const limited = loadWorkflow(`
id: limited
name: Limited
concurrency: { limit: 1, key: $input.key }
rate: { limit: 100, period: 60 }
steps:
  - id: start
    type: start
    next: work
  - id: work
    type: call
    service: block
    next: finish
  - id: finish
    type: end
`);

describe("GET /workflows/:id/flow", () => {
  test("reports the limits, each key's holders and queue length, and the waiting execution says why", async () => {
    let open!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const store = new MemoryStore();
    const { app } = setup({ store, workflows: [limited], services: { block: () => gate } as unknown as Services });
    const first = start(app, { key: "C-7" }, { mode: "sync", executionId: "first" }, "limited");
    while ((await store.load("first"))?.status !== "running") await new Promise((resolve) => setTimeout(resolve, 0));
    const second = await start(app, { key: "C-7" }, { mode: "sync", executionId: "second" }, "limited");
    expect(second.status).toBe(200);
    expect(((await second.json()) as { status: string }).status).toBe("pending");

    const flow = WorkflowFlow.parse(await (await send(app, "GET", "/workflows/limited/flow")).json());
    expect(flow.concurrency).toEqual({ limit: 1, key: "$input.key" });
    expect(flow.keys).toEqual([
      { kind: "concurrency", key: "C-7", limit: 1, holders: ["first"], waiting: 1 },
      { kind: "rate", key: "*", limit: 100, period: 60, holders: ["first"], waiting: 0 },
    ]);
    const waiting = Execution.parse(await (await send(app, "GET", "/executions/second")).json());
    expect(waiting.flow?.waiting).toBe("waiting for a concurrency slot of key C-7 (1/1), position 1");
    open();
    expect((await first).status).toBe(200);
  });

  test("is 404 for an unknown workflow", async () => {
    const { app } = setup();
    expect((await send(app, "GET", "/workflows/nope/flow")).status).toBe(404);
  });

  test("a start's priority is kept on the execution", async () => {
    const store = new MemoryStore();
    const { app } = setup({ store, workflows: [limited], services: { block: () => null } as unknown as Services });
    const response = await start(app, { key: "A" }, { executionId: "urgent", priority: 7 }, "limited");
    expect(response.status).toBe(202);
    expect((await store.load("urgent"))!.flow?.priority).toBe(7);
  });
});
