import { describe, expect, test } from "bun:test";
import { Accepted, Execution, ExecutionResult } from "../../../routes/schemas.ts";
import { loadWorkflow } from "../../../src/definition/load.ts";
import { type Job, performJob } from "../../../src/runners/jobs.ts";
import type { Services } from "../../../src/types.ts";
import { greetingWorkflow, problemOf, send, sequentialIds, setup, start, tickingClock } from "../../support/routes.ts";

/** A queue that only records what it is given. */
function recordingQueue() {
  const jobs: { job: Job; options: { delaySeconds?: number; key?: string } }[] = [];
  return { jobs, adapter: { enqueue: async (job: Job, options = {}) => void jobs.push({ job, options }) } };
}

const chargeWorkflow = loadWorkflow({
  id: "charge",
  name: "Charge",
  steps: [
    { id: "start", type: "start", next: "charge" },
    { id: "charge", type: "call", service: "Payments", method: "charge", output: "receipt", next: "finish" },
    { id: "finish", type: "end", result: "$receipt" },
  ],
});

/** The charge workflow with a Payments.charge that runs `impl`. */
function chargeApp(impl: () => unknown, extra: Record<string, unknown> = {}) {
  const services = { Payments: { charge: impl } } as unknown as Services;
  return setup({ workflows: [chargeWorkflow, greetingWorkflow], services, ...extra });
}

async function greetingHalted(app: ReturnType<typeof setup>["app"], id = "g-1") {
  const response = await start(app, { name: "Ada" }, { executionId: id, mode: "sync" }, "greeting");
  expect((await response.json()).status).toBe("halted");
}

describe("POST /executions/:id/cancel", () => {
  test("cancels a halted execution with the reason given", async () => {
    const { app } = setup();
    await greetingHalted(app);
    const response = await send(app, "POST", "/executions/g-1/cancel", { reason: "customer left" });
    expect(response.status).toBe(200);
    expect(ExecutionResult.strict().parse(await response.json())).toEqual({
      status: "cancelled",
      executionId: "g-1",
      error: "Cancelled: customer left",
    });
  });

  test("cancels a pending execution; its queued start job then does nothing", async () => {
    const queue = recordingQueue();
    const { app, store, options } = chargeApp(() => "paid", { adapter: queue.adapter });
    await start(app, {}, { executionId: "c-1" }, "charge");
    expect((await send(app, "POST", "/executions/c-1/cancel")).status).toBe(200);
    const outcome = await performJob(queue.jobs[0]!.job, { store, services: options.services, workflows: [chargeWorkflow] });
    expect(outcome).toMatchObject({ kind: "duplicate", result: { status: "cancelled" } });
    expect((await store.load("c-1"))!.stepsExecuted).toBe(0);
  });

  test("cancels a running execution: the service that cancels it mid-run stops it at its next checkpoint", async () => {
    // deno-lint-ignore prefer-const -- assigned once, after the services that use it
    let app!: ReturnType<typeof setup>["app"];
    let answer: Response | undefined;
    const context = chargeApp(async () => {
      answer = await send(app, "POST", "/executions/c-2/cancel", { reason: "stop" });
      return "paid";
    });
    app = context.app;
    await start(app, {}, { executionId: "c-2", mode: "sync" }, "charge");
    expect(answer!.status).toBe(200);
    const stored = await context.store.load("c-2");
    expect(stored).toMatchObject({ status: "cancelled", error: "Cancelled: stop" });
  });

  test("cancels a halted execution whose workflow compensates: the answer says compensated", async () => {
    const refunded: unknown[] = [];
    const services = {
      Payments: { charge: () => ({ id: "ch-1" }), refund: (input: unknown) => void refunded.push(input) },
    } as unknown as Services;
    const workflow = loadWorkflow({
      id: "charge_then_ask",
      name: "Charge then ask",
      steps: [
        { id: "start", type: "start", next: "charge" },
        {
          id: "charge",
          type: "call",
          service: "Payments",
          method: "charge",
          output: "receipt",
          compensate: { service: "Payments", method: "refund", input: { id: "$receipt.id" } },
          next: "ask",
        },
        { id: "ask", type: "approval", prompt: "ok?", next: "finish" },
        { id: "finish", type: "end" },
      ],
    });
    const { app } = setup({ workflows: [workflow], services });
    await start(app, {}, { executionId: "s-1", mode: "sync" }, "charge_then_ask");
    const response = await send(app, "POST", "/executions/s-1/cancel", { reason: "changed my mind" });
    expect(ExecutionResult.strict().parse(await response.json())).toEqual({
      status: "cancelled",
      executionId: "s-1",
      error: "Cancelled: changed my mind",
      compensated: true,
    });
    expect(refunded).toEqual([{ id: "ch-1" }]);
    const execution = Execution.parse(await (await send(app, "GET", "/executions/s-1")).json());
    expect([execution.compensated, execution.compensating, execution.compensations]).toEqual([true, null, []]);
  });

  test("answers 409 for an execution that has already ended", async () => {
    const { app } = chargeApp(() => "paid");
    await start(app, {}, { executionId: "c-3", mode: "sync" }, "charge");
    const problem = await problemOf(await send(app, "POST", "/executions/c-3/cancel"));
    expect(problem.status).toBe(409);
    expect(problem.body.detail).toContain("already completed");
  });

  test("answers 404 for an unknown execution", async () => {
    const { app } = setup();
    expect((await send(app, "POST", "/executions/nope/cancel")).status).toBe(404);
  });

  test("answers 400 for a reason over 500 characters", async () => {
    const { app } = setup();
    await greetingHalted(app);
    expect((await send(app, "POST", "/executions/g-1/cancel", { reason: "x".repeat(501) })).status).toBe(400);
  });
});

describe("POST /executions/:id/retry", () => {
  function flaky() {
    let calls = 0;
    return () => {
      if (++calls === 1) throw new Error("card declined");
      return "paid";
    };
  }

  test("async (the default): reopens a failed call that now succeeds and queues it (202)", async () => {
    const { app } = chargeApp(flaky());
    expect((await (await start(app, {}, { executionId: "r-1", mode: "sync" }, "charge")).json()).status).toBe("failed");
    const response = await send(app, "POST", "/executions/r-1/retry");
    expect(response.status).toBe(202);
    expect(Accepted.parse(await response.json())).toEqual({ executionId: "r-1", status: "completed" });
  });

  test("async with a queue that only records: a continue job for the reopened execution", async () => {
    const queue = recordingQueue();
    const { app, store } = chargeApp(flaky(), { adapter: queue.adapter });
    await start(app, {}, { executionId: "r-2", mode: "sync" }, "charge");
    expect(await (await send(app, "POST", "/executions/r-2/retry", { mode: "async" })).json()).toEqual({
      executionId: "r-2",
      status: "pending",
    });
    expect(queue.jobs.map(({ job }) => job)).toEqual([{ workflowId: "charge", executionId: "r-2", action: "continue" }]);
    expect((await store.load("r-2"))!.status).toBe("pending");
  });

  test("sync: runs the failed call again and answers the result", async () => {
    const { app } = chargeApp(flaky());
    await start(app, {}, { executionId: "r-3", mode: "sync" }, "charge");
    const response = await send(app, "POST", "/executions/r-3/retry", { mode: "sync" });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: "completed", executionId: "r-3", output: "paid" });
  });

  test("answers 409 unless the execution failed", async () => {
    const { app } = setup();
    await greetingHalted(app);
    const problem = await problemOf(await send(app, "POST", "/executions/g-1/retry"));
    expect(problem.status).toBe(409);
    expect(problem.body.detail).toContain("only a failed execution");
  });
});

describe("POST /executions/:id/recover", () => {
  test("answers 409 with the lease's expiry while a worker holds it", async () => {
    // deno-lint-ignore prefer-const -- assigned once, after the services that use it
    let app!: ReturnType<typeof setup>["app"];
    let problem: Awaited<ReturnType<typeof problemOf>> | undefined;
    const context = chargeApp(async () => {
      problem = await problemOf(await send(app, "POST", "/executions/v-1/recover"));
      return "paid";
    });
    app = context.app;
    await start(app, {}, { executionId: "v-1", mode: "sync" }, "charge");
    expect(problem!.status).toBe(409);
    expect(problem!.body.detail).toMatch(/live lease until \d{4}-\d\d-\d\dT/);
  });

  test("hands a pending execution whose job was lost back to the queue (202)", async () => {
    const queue = recordingQueue();
    const { app } = chargeApp(() => "paid", { adapter: queue.adapter });
    await start(app, {}, { executionId: "v-2" }, "charge");
    const response = await send(app, "POST", "/executions/v-2/recover");
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({ executionId: "v-2", status: "pending" });
    expect(queue.jobs.map(({ job }) => job.action)).toEqual(["start", "continue"]);
  });

  test("hands back a running execution whose lease has expired (202), with the app's leaseMs", async () => {
    const queue = recordingQueue();
    const { app, store } = chargeApp(() => "paid", { adapter: queue.adapter, leaseMs: 5_000 });
    await start(app, {}, { executionId: "v-3" }, "charge");
    const exec = (await store.load("v-3"))!;
    await store.save({ ...exec, status: "running", leaseUntil: null, updatedAt: "2025-01-01T00:00:00.000Z" }, {
      expectedRevision: exec.revision,
    });
    expect((await send(app, "POST", "/executions/v-3/recover")).status).toBe(202);
    expect(queue.jobs.at(-1)!.job).toMatchObject({ executionId: "v-3", action: "continue" });
  });

  test("answers 409 for a run waiting until a time still ahead, naming that time, and queues nothing", async () => {
    const queue = recordingQueue();
    const waiting = loadWorkflow({
      id: "eleven_days",
      name: "Eleven days",
      steps: [
        { id: "start", type: "start", next: "pause" },
        { id: "pause", type: "wait", seconds: 11 * 86_400, next: "finish" },
        { id: "finish", type: "end" },
      ],
    });
    const { app } = setup({ workflows: [waiting], adapter: queue.adapter });
    const started = await (await start(app, {}, { executionId: "w-11", mode: "sync" }, "eleven_days")).json();
    expect(started.status).toBe("pending");
    const queued = queue.jobs.length;
    const problem = await problemOf(await send(app, "POST", "/executions/w-11/recover"));
    expect(problem.status).toBe(409);
    expect(problem.body.detail).toContain(`is not stuck: it waits until ${started.notBefore}`);
    expect(queue.jobs).toHaveLength(queued);
  });

  test("answers 409 for a halted execution, 404 for an unknown one", async () => {
    const { app } = setup();
    await greetingHalted(app);
    expect((await send(app, "POST", "/executions/g-1/recover")).status).toBe(409);
    expect((await send(app, "POST", "/executions/nope/recover")).status).toBe(404);
  });
});

describe("a sync run that waits long", () => {
  test("ends pending with notBefore and leaves a delayed continue job keyed by that time", async () => {
    const queue = recordingQueue();
    const sleepy = loadWorkflow({
      id: "sleepy",
      name: "Sleepy",
      steps: [
        { id: "start", type: "start", next: "nap" },
        { id: "nap", type: "wait", seconds: 3600, next: "finish" },
        { id: "finish", type: "end", result: "rested" },
      ],
    });
    const { app } = setup({ workflows: [sleepy], adapter: queue.adapter, clock: tickingClock(), ids: sequentialIds() });
    const result = ExecutionResult.parse(await (await start(app, {}, { executionId: "s-1", mode: "sync" }, "sleepy")).json());
    expect(result.status).toBe("pending");
    const at = Date.parse(result.notBefore!);
    expect(queue.jobs).toHaveLength(1);
    expect(queue.jobs[0]!.job).toEqual({ workflowId: "sleepy", executionId: "s-1", action: "continue" });
    expect(queue.jobs[0]!.options.key).toBe(`at-${at}`);
    expect(queue.jobs[0]!.options.delaySeconds).toBeGreaterThan(3500);
  });
});

describe("POST /workflows/:id/executions with an existing id", () => {
  test("answers 409 naming the id when the input differs", async () => {
    const { app } = setup();
    await greetingHalted(app, "same");
    const problem = await problemOf(await start(app, { name: "Bob" }, { executionId: "same", mode: "sync" }, "greeting"));
    expect(problem.status).toBe(409);
    expect(problem.body.detail).toContain('"same"');
  });
});

describe("resume and run refuse unsafe keys and deep values, as sent", () => {
  const deep = `${"[".repeat(9000)}${"]".repeat(9000)}`;
  const bodies = {
    "a constructor key": ['{"response":{"constructor":1}}', "response.constructor"],
    "a nested prototype key": ['{"response":{"a":{"prototype":1}}}', "response.a.prototype"],
    "a __proto__ key": ['{"response":{"__proto__":{}}}', "response.__proto__"],
    "a response 9 000 levels deep": [`{"response":${deep}}`, "response[0]"],
  } as const;

  for (const [what, [body, path]] of Object.entries(bodies)) {
    test(`sync resume with ${what} is 422 naming the path; the execution stays halted`, async () => {
      const { app, store } = setup();
      await greetingHalted(app);
      const problem = await problemOf(await send(app, "POST", "/executions/g-1/resume", body.replace("{", '{"mode":"sync",')));
      expect(problem.status).toBe(422);
      expect(problem.body.errors!.some((e) => e.path.startsWith(path))).toBe(true);
      expect((await store.load("g-1"))!.status).toBe("halted");
    });

    test(`async resume with ${what} is 422 and enqueues nothing`, async () => {
      const queue = recordingQueue();
      const { app, store } = setup({ adapter: queue.adapter });
      await greetingHalted(app);
      const problem = await problemOf(await send(app, "POST", "/executions/g-1/resume", body));
      expect(problem.status).toBe(422);
      expect(queue.jobs).toHaveLength(0);
      expect((await store.load("g-1"))!.status).toBe("halted");
    });
  }

  test("a run input with a __proto__ key is 422 naming it, never a silent drop", async () => {
    const { app, store } = setup();
    const problem = await problemOf(
      await send(
        app,
        "POST",
        "/workflows/greeting/executions",
        '{"mode":"sync","executionId":"p-1","input":{"name":"Ada","__proto__":{"x":1}}}',
      ),
    );
    expect(problem.status).toBe(422);
    expect(problem.body.errors!.map((e) => e.path)).toContain("input.__proto__");
    expect(await store.load("p-1")).toBeNull();
  });

  test("a run input with a constructor key or 9 000 levels deep is 422", async () => {
    const { app } = setup();
    for (const input of ['{"name":"Ada","constructor":1}', `{"name":${deep}}`]) {
      expect((await send(app, "POST", "/workflows/greeting/executions", `{"input":${input}}`)).status).toBe(422);
    }
  });

  test("the body-size limit still comes first (413)", async () => {
    const { app } = setup({ limits: { maxBodyBytes: 100 } });
    await greetingHalted(app);
    expect((await send(app, "POST", "/executions/g-1/resume", `{"response":${deep}}`)).status).toBe(413);
  });
});

describe("POST /executions/:id/migrate", () => {
  const v2 = `id: greeting
name: Greeting
version: "2"
inputs:
  name: { type: string }
steps:
  - id: start
    type: start
    next: wait
  - id: wait
    type: halt
    reason: Say hello?
    next: finish
  - id: finish
    type: end
    result: { greeting: "Hi $input.name" }
`;

  test("moves a halted execution onto the current version", async () => {
    const { app } = setup();
    await greetingHalted(app);
    const put = await send(app, "PUT", "/workflows/greeting", v2, { "content-type": "application/yaml" });
    expect(put.status).toBe(201);
    const { hash } = await put.json();
    const response = await send(app, "POST", "/executions/g-1/migrate");
    expect(response.status).toBe(200);
    expect(Execution.parse(await response.json())).toMatchObject({ id: "g-1", workflowVersion: "2", workflowHash: hash, status: "halted" });
    const resumed = await send(app, "POST", "/executions/g-1/resume", { mode: "sync" });
    expect((await resumed.json()).output).toEqual({ greeting: "Hi Ada" });
  });

  test("answers 409 naming the steps the current version lacks", async () => {
    const { app } = setup();
    await greetingHalted(app);
    const renamed = v2.replaceAll("wait", "pause");
    expect((await send(app, "PUT", "/workflows/greeting", renamed, { "content-type": "application/yaml" })).status).toBe(201);
    const problem = await problemOf(await send(app, "POST", "/executions/g-1/migrate"));
    expect(problem.status).toBe(409);
    expect(problem.body.detail).toContain('"wait"');
  });

  test("answers 404 for an unknown execution", async () => {
    const { app } = setup();
    expect((await send(app, "POST", "/executions/nope/migrate")).status).toBe(404);
  });
});
