import { describe, expect, test } from "bun:test";
import { Accepted, ExecutionResult, Health, WorkflowDetail, WorkflowList } from "../../../routes/schemas.ts";
import { ManualClock } from "../../../src/engine/clock.ts";
import { orderWorkflow, problemOf, send, setup, smallOrder, start } from "../../support/routes.ts";

describe("GET /health", () => {
  test("answers ok with the configured version", async () => {
    const { app } = setup();
    const response = await app.request("/health");
    expect(response.status).toBe(200);
    expect(Health.strict().parse(await response.json())).toEqual({ ok: true, version: "9.9.9-test" });
  });
});

describe("GET /workflows", () => {
  test("lists every workflow with its hash, inputs and step count", async () => {
    const { app } = setup();
    const body = WorkflowList.parse(await (await app.request("/workflows")).json());
    expect(body.workflows.map((w) => w.id)).toEqual(["order_fulfillment", "greeting"]);
    expect(body.workflows[0]).toEqual({
      id: "order_fulfillment",
      name: "Order fulfillment",
      version: "1.0",
      description: orderWorkflow.description,
      hash: orderWorkflow.hash,
      inputs: JSON.parse(JSON.stringify(orderWorkflow.inputs)),
      steps: orderWorkflow.steps.length,
    });
  });

  test("lists the workflows of a Map lookup", async () => {
    const { app } = setup({ workflows: new Map([[orderWorkflow.id, orderWorkflow]]) });
    const body = WorkflowList.parse(await (await app.request("/workflows")).json());
    expect(body.workflows.map((w) => w.id)).toEqual(["order_fulfillment"]);
  });
});

describe("GET /workflows/:id", () => {
  test("answers the definition with its hash and a diagram", async () => {
    const { app } = setup();
    const response = await app.request("/workflows/order_fulfillment");
    expect(response.status).toBe(200);
    const body = WorkflowDetail.strict().parse(await response.json());
    expect(body.hash).toBe(orderWorkflow.hash);
    expect(body.steps.map((s) => s.id)).toEqual(orderWorkflow.steps.map((s) => s.id));
    expect(body.diagram.startsWith("flowchart TD\n")).toBe(true);
  });

  test("the diagram names every step of the order workflow", async () => {
    const { app } = setup();
    const { diagram } = WorkflowDetail.parse(await (await app.request("/workflows/order_fulfillment")).json());
    for (const step of orderWorkflow.steps) expect(diagram).toContain(`step_${step.id}`);
  });

  test("the diagram has the order workflow's route edges, labelled with their conditions", async () => {
    const { app } = setup();
    const { diagram } = WorkflowDetail.parse(await (await app.request("/workflows/order_fulfillment")).json());
    expect(diagram).toContain('step_route_validation -->|"validation.valid eq true"| step_check_inventory');
    expect(diagram).toContain('step_route_validation -->|"default"| step_invalid_order');
    expect(diagram).toContain('step_route_inventory -->|"inventory.available eq true"| step_calculate_totals');
    expect(diagram).toContain('step_route_total -->|"totals.total gt 1000"| step_manager_approval');
    expect(diagram).toContain('step_route_total -->|"default"| step_charge_payment');
    expect(diagram).toContain('step_charge_payment -.->|"on_error"| step_payment_failed');
  });

  test("answers 404 for a workflow the app does not serve", async () => {
    const { app } = setup();
    const problem = await problemOf(await app.request("/workflows/nope"));
    expect(problem.status).toBe(404);
    expect(problem.contentType).toBe("application/problem+json");
    expect(problem.body.detail).toContain('"nope"');
  });

  test("answers 400 for an id that is not a workflow id", async () => {
    const { app } = setup();
    const problem = await problemOf(await app.request("/workflows/bad%20id!"));
    expect(problem.status).toBe(400);
    expect(problem.body.errors?.[0]?.path).toBe("id");
  });
});

describe("POST /workflows/:id/executions", () => {
  test("async (the default) answers 202 with the id; the inline queue has already run it", async () => {
    const { app } = setup();
    const response = await start(app, smallOrder, { executionId: "run-1" });
    expect(response.status).toBe(202);
    expect(Accepted.strict().parse(await response.json())).toEqual({ executionId: "run-1", status: "completed" });
  });

  test("async run, then GET the execution: completed with the order's result", async () => {
    const { app } = setup();
    const { executionId } = Accepted.parse(await (await start(app, smallOrder)).json());
    const execution = await (await app.request(`/executions/${executionId}`)).json();
    expect(execution.status).toBe("completed");
    expect(execution.result).toMatchObject({ order_id: "A-1", status: "completed", payment_id: "PAY-A-1", tracking_number: "TRK-A-1" });
  });

  test("async run with a queue that only records: 202 pending, nothing ran", async () => {
    const jobs: unknown[] = [];
    const { app } = setup({ adapter: { enqueue: async (job) => void jobs.push(job) } });
    const response = await start(app, smallOrder, { executionId: "queued-1" });
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ executionId: "queued-1", status: "pending" });
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ workflowId: "order_fulfillment", executionId: "queued-1", action: "start" });
  });

  test("sync runs the happy path and answers 200 with the result", async () => {
    const { app } = setup();
    const response = await start(app, smallOrder, { executionId: "sync-1", mode: "sync" });
    expect(response.status).toBe(200);
    const result = ExecutionResult.strict().parse(await response.json());
    expect(result).toEqual({
      status: "completed",
      executionId: "sync-1",
      output: {
        order_id: "A-1",
        status: "completed",
        totals: { subtotal: 20, tax: 1.6, shipping: 5.99, total: 27.59 },
        payment_id: "PAY-A-1",
        tracking_number: "TRK-A-1",
        error: null,
      },
    });
  });

  test("a new execution gets an id from the injected generator", async () => {
    const { app } = setup();
    const result = await (await start(app, smallOrder, { mode: "sync" })).json();
    expect(result.executionId).toBe("id-1");
  });

  test("starting an existing id again answers its current state and runs nothing", async () => {
    const { app, orders } = setup();
    await start(app, smallOrder, { executionId: "once", mode: "sync" });
    const calls = orders.calls.length;
    const again = await start(app, smallOrder, { executionId: "once", mode: "sync" });
    expect((await again.json()).status).toBe("completed");
    expect(orders.calls.length).toBe(calls);
  });

  test("answers 409 when the execution id belongs to another workflow", async () => {
    const { app } = setup();
    await start(app, { name: "Ada" }, { executionId: "shared", mode: "sync" }, "greeting");
    const problem = await problemOf(await start(app, smallOrder, { executionId: "shared", mode: "sync" }));
    expect(problem.status).toBe(409);
    expect(problem.body.detail).toContain("greeting");
  });

  test("answers 422 naming each input that breaks the input rules, and stores nothing", async () => {
    const { app, store } = setup();
    const problem = await problemOf(await start(app, { ...smallOrder, order_id: 42, items: undefined }, { executionId: "bad-input" }));
    expect(problem.status).toBe(422);
    expect(problem.contentType).toBe("application/problem+json");
    const paths = problem.body.errors!.map((e) => e.path);
    expect(paths.some((p) => p.includes("order_id"))).toBe(true);
    expect(paths.some((p) => p.includes("items"))).toBe(true);
    expect(await store.load("bad-input")).toBeNull();
  });

  test("an empty body is an empty input (then 422 for the required inputs)", async () => {
    const { app } = setup();
    const response = await app.request("/workflows/order_fulfillment/executions", { method: "POST" });
    expect(response.status).toBe(422);
  });

  test("answers 404 for a workflow the app does not serve", async () => {
    const { app } = setup();
    const problem = await problemOf(await start(app, smallOrder, {}, "unknown_flow"));
    expect(problem.status).toBe(404);
  });

  test("answers 400 listing each bad key of the body", async () => {
    const { app } = setup();
    const problem = await problemOf(
      await send(app, "POST", "/workflows/order_fulfillment/executions", { input: [1], mode: "later", extra: true }),
    );
    expect(problem.status).toBe(400);
    expect(problem.body.errors!.map((e) => e.path).sort()).toEqual(["extra", "input", "mode"]);
  });

  test("answers 400 for an execution id with characters the store does not allow", async () => {
    const { app } = setup();
    const problem = await problemOf(await start(app, smallOrder, { executionId: "a/b" }));
    expect(problem.status).toBe(400);
    expect(problem.body.errors).toEqual([{ path: "executionId", message: expect.any(String) }]);
  });
});

describe("an injected clock", () => {
  test("createApp takes a ManualClock: an execution and the stored definition are stamped with its time", async () => {
    const { app, store } = setup({ clock: new ManualClock("2026-05-01T00:00:00.000Z") });
    const response = await start(app, smallOrder, { executionId: "on-manual-clock", mode: "sync" });
    expect(response.status).toBe(200);
    const exec = await store.load("on-manual-clock");
    expect(exec?.createdAt).toBe("2026-05-01T00:00:00.000Z");
    const definition = await store.currentDefinition("order_fulfillment");
    expect(definition?.storedAt).toBe("2026-05-01T00:00:00.000Z");
  });
});
