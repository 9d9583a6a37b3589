import { describe, expect, test } from "bun:test";
import { EntryList, Execution, ExecutionPage, ExecutionResult } from "../../../routes/schemas.ts";
import { SyncRunner } from "../../../src/runners/sync.ts";
import { largeOrder, orderWorkflow, problemOf, send, setup, smallOrder, start } from "../../support/routes.ts";

describe("GET /executions/:id", () => {
  test("answers the documented execution record", async () => {
    const { app } = setup();
    await start(app, smallOrder, { executionId: "e-1", mode: "sync" });
    const response = await app.request("/executions/e-1");
    expect(response.status).toBe(200);
    const execution = Execution.strict().parse(await response.json());
    expect(execution).toMatchObject({ id: "e-1", workflowId: "order_fulfillment", status: "completed", currentStep: "finish" });
  });

  test("answers 404 for an unknown execution", async () => {
    const { app } = setup();
    const problem = await problemOf(await app.request("/executions/missing"));
    expect(problem.status).toBe(404);
    expect(problem.body.type).toBe("https://durable-workflow.dev/problems/not-found");
  });
});

describe("GET /executions/:id/entries", () => {
  test("answers the history in execution order", async () => {
    const { app } = setup();
    await start(app, smallOrder, { executionId: "e-1", mode: "sync" });
    const { entries } = EntryList.parse(await (await app.request("/executions/e-1/entries")).json());
    expect(entries.map((e) => e.stepId)).toEqual([
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
    ]);
  });

  test("answers 404 for an unknown execution", async () => {
    const { app } = setup();
    expect((await app.request("/executions/missing/entries")).status).toBe(404);
  });
});

describe("GET /executions", () => {
  async function threeOrders() {
    const context = setup();
    for (const id of ["o-1", "o-2", "o-3"]) await start(context.app, { ...smallOrder, order_id: id }, { executionId: id, mode: "sync" });
    await start(context.app, { name: "Ada" }, { executionId: "g-1", mode: "sync" }, "greeting");
    return context;
  }

  test("lists executions newest first, without their data", async () => {
    const { app } = await threeOrders();
    const page = ExecutionPage.parse(await (await app.request("/executions")).json());
    expect(page.executions.map((e) => e.id)).toEqual(["g-1", "o-3", "o-2", "o-1"]);
    expect(page.executions[0]).not.toHaveProperty("ctx");
    expect(page.cursor).toBeUndefined();
  });

  test("filters by workflow and by status", async () => {
    const { app } = await threeOrders();
    const byWorkflow = ExecutionPage.parse(await (await app.request("/executions?workflowId=greeting")).json());
    expect(byWorkflow.executions.map((e) => e.id)).toEqual(["g-1"]);
    const halted = ExecutionPage.parse(await (await app.request("/executions?status=halted")).json());
    expect(halted.executions.map((e) => e.id)).toEqual(["g-1"]);
  });

  test("pages with limit and cursor until the cursor is gone", async () => {
    const { app } = await threeOrders();
    const seen: string[] = [];
    let url = "/executions?workflowId=order_fulfillment&limit=2";
    for (let pages = 0; pages < 5; pages++) {
      const page = ExecutionPage.parse(await (await app.request(url)).json());
      seen.push(...page.executions.map((e) => e.id));
      if (!page.cursor) break;
      url = `/executions?workflowId=order_fulfillment&limit=2&cursor=${encodeURIComponent(page.cursor)}`;
    }
    expect(seen).toEqual(["o-3", "o-2", "o-1"]);
  });

  test("answers 400 for a limit out of range", async () => {
    const { app } = setup();
    const problem = await problemOf(await app.request("/executions?limit=0"));
    expect(problem.status).toBe(400);
    expect(problem.body.errors?.[0]?.path).toBe("limit");
  });

  test("answers 400 for an unknown status", async () => {
    const { app } = setup();
    expect((await app.request("/executions?status=sleeping")).status).toBe(400);
  });

  test("answers 400 for a cursor that is not one", async () => {
    const { app } = setup();
    const problem = await problemOf(await app.request("/executions?cursor=garbage"));
    expect(problem.status).toBe(400);
    expect(problem.body.errors?.[0]?.path).toBe("cursor");
  });
});

describe("POST /executions/:id/resume", () => {
  test("a large order halts at the manager's approval", async () => {
    const { app } = setup();
    const result = ExecutionResult.parse(await (await start(app, largeOrder, { executionId: "big", mode: "sync" })).json());
    expect(result.status).toBe("halted");
    expect(result.halt?.data).toMatchObject({ type: "approval", prompt: "Approve order B-1 for 1625.99?" });
  });

  test("sync resume with approved: true completes the large order (200 with the result)", async () => {
    const { app } = setup();
    await start(app, largeOrder, { executionId: "big", mode: "sync" });
    const response = await send(app, "POST", "/executions/big/resume", { approved: true, mode: "sync" });
    expect(response.status).toBe(200);
    const result = ExecutionResult.parse(await response.json());
    expect(result).toMatchObject({ status: "completed", executionId: "big", output: { status: "completed", payment_id: "PAY-B-1" } });
  });

  test("async resume with approved: true answers 202; the execution is then completed", async () => {
    const { app } = setup();
    await start(app, largeOrder, { executionId: "big" });
    expect((await (await app.request("/executions/big")).json()).status).toBe("halted");
    const response = await send(app, "POST", "/executions/big/resume", { approved: true });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ executionId: "big", status: "completed" });
    const execution = await (await app.request("/executions/big")).json();
    expect(execution.result.status).toBe("completed");
  });

  test("resume with approved: false takes the rejection path", async () => {
    const { app } = setup();
    await start(app, largeOrder, { executionId: "big", mode: "sync" });
    const result = await (await send(app, "POST", "/executions/big/resume", { approved: false, mode: "sync" })).json();
    expect(result.output.status).toBe("rejected");
  });

  test("resume hands the response to the workflow", async () => {
    const { app } = setup();
    await start(app, { name: "Ada" }, { executionId: "g", mode: "sync" }, "greeting");
    const result = await (await send(app, "POST", "/executions/g/resume", { response: { mood: "fine" }, mode: "sync" })).json();
    expect(result.output).toEqual({ greeting: "Hello Ada", response: { mood: "fine" } });
  });

  test("answers 409 for an execution that is not halted", async () => {
    const { app } = setup();
    await start(app, smallOrder, { executionId: "done", mode: "sync" });
    const problem = await problemOf(await send(app, "POST", "/executions/done/resume", { approved: true, mode: "sync" }));
    expect(problem.status).toBe(409);
    expect(problem.body.type).toBe("https://durable-workflow.dev/problems/conflict");
  });

  test("answers 409 in async mode too", async () => {
    const { app } = setup();
    await start(app, smallOrder, { executionId: "done", mode: "sync" });
    expect((await send(app, "POST", "/executions/done/resume", { approved: true })).status).toBe(409);
  });

  test("answers 404 for an unknown execution", async () => {
    const { app } = setup();
    expect((await send(app, "POST", "/executions/missing/resume", { approved: true })).status).toBe(404);
  });

  test("answers 404 when the execution's workflow is neither in the app nor current in the store", async () => {
    const first = setup();
    // "as-given": the runner does not make its definition the store's current version.
    const runner = new SyncRunner(orderWorkflow, { store: first.store, services: first.options.services, definitions: "as-given" });
    await runner.run(largeOrder, { executionId: "big" });
    const { app } = setup({ store: first.store, workflows: [] });
    const problem = await problemOf(await send(app, "POST", "/executions/big/resume", { approved: true }));
    expect(problem.status).toBe(404);
    expect(problem.body.detail).toContain("order_fulfillment");
  });

  test("answers 400 for a non-boolean approved", async () => {
    const { app } = setup();
    await start(app, largeOrder, { executionId: "big", mode: "sync" });
    const problem = await problemOf(await send(app, "POST", "/executions/big/resume", { approved: "yes" }));
    expect(problem.status).toBe(400);
    expect(problem.body.errors?.[0]?.path).toBe("approved");
  });
});

describe("DELETE /executions/:id", () => {
  test("answers 204 with no body", async () => {
    const { app } = setup();
    await start(app, smallOrder, { executionId: "gone", mode: "sync" });
    const response = await app.request("/executions/gone", { method: "DELETE" });
    expect(response.status).toBe(204);
    expect(await response.text()).toBe("");
  });

  test("then the execution and its history are 404", async () => {
    const { app } = setup();
    await start(app, smallOrder, { executionId: "gone", mode: "sync" });
    await app.request("/executions/gone", { method: "DELETE" });
    expect((await app.request("/executions/gone")).status).toBe(404);
    expect((await app.request("/executions/gone/entries")).status).toBe(404);
  });

  test("answers 404 for an unknown execution", async () => {
    const { app } = setup();
    expect((await app.request("/executions/never", { method: "DELETE" })).status).toBe(404);
  });
});
