// AsyncRunner with the InlineAdapter: jobs are performed in the same process, awaited.
import { describe, expect, test } from "bun:test";
import { createOrderServices } from "../../../examples/order-fulfillment/services.ts";
import { AsyncRunner, ConflictError, Engine, InlineAdapter, type Job, loadWorkflow, MemoryStore, NotFoundError } from "../../../mod.ts";
import { performJob, PermanentJobError } from "../../../src/queue.ts";
import { manualClock } from "../../support/engine.ts";
import { happyOrder, largeOrder, orderWorkflow } from "../../support/order-fulfillment.ts";

const ORDER_OUTPUT = {
  order_id: "O-1",
  status: "completed",
  totals: { subtotal: 89.48, tax: 7.16, shipping: 5.99, total: 102.63 },
  payment_id: "PAY-O-1",
  tracking_number: "TRK-O-1",
  error: null,
};

const approvalWorkflow = loadWorkflow({
  id: "ship_approval",
  name: "Ship approval",
  steps: [
    { id: "start", type: "start", next: "ask" },
    { id: "ask", type: "approval", prompt: "Ship it?", timeout: 60, on_timeout: "expired", next: "ship" },
    { id: "ship", type: "assign", set: { decision: "shipped" }, next: "finish" },
    { id: "expired", type: "assign", set: { decision: "expired" }, next: "finish" },
    { id: "finish", type: "end", result: { decision: "$decision" } },
  ],
});

function setup() {
  const store = new MemoryStore();
  const shop = createOrderServices();
  const clock = manualClock();
  const adapter = new InlineAdapter({ store, services: shop.services, clock, workflows: [orderWorkflow, approvalWorkflow] });
  return { store, shop, clock, adapter, runner: new AsyncRunner(orderWorkflow, { store, adapter, clock }) };
}

describe("AsyncRunner with the InlineAdapter", () => {
  test("run returns the execution id it was given", async () => {
    const { runner } = setup();
    expect(await runner.run(happyOrder, { executionId: "order-1" })).toBe("order-1");
  });

  test("run without an id returns a new UUID", async () => {
    const { runner } = setup();
    expect(await runner.run(happyOrder)).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
  });

  test("wait returns the completed result with the order's output", async () => {
    const { runner } = setup();
    const id = await runner.run(happyOrder, { executionId: "order-2" });
    expect(await runner.wait(id, { timeoutMs: 1000, intervalMs: 1 })).toEqual({
      status: "completed",
      executionId: id,
      output: ORDER_OUTPUT,
    });
  });

  test("a large order halts, and resume through the runner completes it", async () => {
    const { runner } = setup();
    const id = await runner.run(largeOrder, { executionId: "big" });
    expect((await runner.wait(id))?.status).toBe("halted");
    expect(await runner.resume(id, { approved: true })).toBe(id);
    expect((await runner.wait(id))?.output).toMatchObject({ status: "completed", payment_id: "PAY-O-BIG" });
  });

  test("resume of an execution that is not halted is a ConflictError", async () => {
    const { runner } = setup();
    const id = await runner.run(happyOrder, { executionId: "done" });
    await expect(runner.resume(id, { approved: true })).rejects.toBeInstanceOf(ConflictError);
  });

  test("resume of an unknown execution is a NotFoundError", async () => {
    const { runner } = setup();
    await expect(runner.resume("nope", { approved: true })).rejects.toBeInstanceOf(NotFoundError);
  });

  test("a job for a workflow the adapter does not serve runs on the definition stored when the execution started", async () => {
    const store = new MemoryStore();
    const { services } = createOrderServices();
    const runner = new AsyncRunner(orderWorkflow, { store, adapter: new InlineAdapter({ store, services, workflows: [] }) });
    await runner.run(happyOrder, { executionId: "pinned" });
    expect((await store.load("pinned"))?.status).toBe("completed");
  });

  test("a job whose workflow is neither served nor stored is refused as permanent and changes nothing", async () => {
    const store = new MemoryStore();
    const engine = new Engine(orderWorkflow, { store });
    await store.commit({
      execution: { ...(await engine.prepare(happyOrder, { executionId: "orphan" })), workflowHash: "0".repeat(64) },
      expectedRevision: 1,
    });
    const job = { workflowId: orderWorkflow.id, executionId: "orphan", action: "continue" as const };
    await expect(performJob(job, { store, workflows: [] })).rejects.toBeInstanceOf(PermanentJobError);
    expect((await store.load("orphan"))?.status).toBe("pending");
  });

  test("status of an unknown execution is unknown", async () => {
    const { runner } = setup();
    expect(await runner.status("never-started")).toBe("unknown");
  });

  test("status of an execution whose job has not run yet is pending", async () => {
    const store = new MemoryStore();
    const jobs: Job[] = [];
    const runner = new AsyncRunner(orderWorkflow, { store, adapter: { enqueue: async (job) => void jobs.push(job) } });
    const id = await runner.run(happyOrder);
    expect(await runner.status(id)).toBe("pending");
    expect(jobs).toEqual([{
      workflowId: "order_fulfillment",
      workflowVersion: "1.0",
      executionId: id,
      action: "start",
      createdAt: expect.any(String),
    }]);
  });

  test("an approval nobody answers takes on_timeout when its timer is due", async () => {
    const { store, adapter, clock } = setup();
    const runner = new AsyncRunner(approvalWorkflow, { store, adapter, clock });
    const id = await runner.run({}, { executionId: "timer" });
    expect(adapter.pendingTimers.map((t) => t.job.action)).toEqual(["wake"]);
    expect(await adapter.runDueTimers()).toBe(0);
    clock.advance(60_000);
    expect(await adapter.runDueTimers()).toBe(1);
    expect((await runner.wait(id))?.output).toEqual({ decision: "expired" });
  });

  test("a run over its time budget continues inline until it completes", async () => {
    const store = new MemoryStore();
    const shop = createOrderServices();
    const adapter = new InlineAdapter({ store, services: shop.services, workflows: [orderWorkflow], budgetMs: 0 });
    const runner = new AsyncRunner(orderWorkflow, { store, adapter });
    const id = await runner.run(happyOrder);
    expect((await runner.wait(id))?.output).toEqual(ORDER_OUTPUT);
  });
});
