import { expect, test } from "bun:test";
import { loadWorkflow } from "../../../mod.ts";
import { ManualClock, testWorkflow } from "../../../src/testing.ts";

const ORDER = loadWorkflow(`
id: order
name: Order
inputs:
  order_id: { type: string }
  total: { type: number }
steps:
  - id: pay
    type: call
    service: PaymentService
    method: charge
    input: { order: $input.order_id, amount: $input.total }
    output: payment
    retries: 2
    retry_delay: 3600
    next: check
  - id: check
    type: router
    routes:
      - when: { field: input.total, op: gt, value: 1000 }
        then: approve
    default: notify
  - id: approve
    type: approval
    prompt: Approve a large order
    on_reject: rejected
    next: notify
  - id: notify
    type: call
    service: notify
    input: { order: $input.order_id }
    output: notice
    next: done
  - id: rejected
    type: end
    result: { status: rejected }
  - id: done
    type: end
    result: { status: paid, payment: $payment.id, notice: $notice }
`);

test("canned values answer calls with and without a method, and every call is recorded", async () => {
  const { result, calls } = await testWorkflow(ORDER, {
    input: { order_id: "A-1", total: 10 },
    services: { PaymentService: { charge: { id: "PAY-1" } }, notify: { sent: true } },
  });
  expect(result).toMatchObject({ status: "completed", output: { status: "paid", payment: "PAY-1", notice: { sent: true } } });
  expect(calls).toEqual([
    { service: "PaymentService", method: "charge", input: { order: "A-1", amount: 10 }, attempt: 1, stepId: "pay", executionId: "test-1" },
    { service: "notify", method: null, input: { order: "A-1" }, attempt: 1, stepId: "notify", executionId: "test-1" },
  ]);
});

test("a failing service is retried on the fake clock: an hour's retry delay takes no real time", async () => {
  const { result, calls, clock } = await testWorkflow(ORDER, {
    input: { order_id: "A-2", total: 10 },
    services: {
      PaymentService: {
        // Untyped parameters on purpose: the fake's type gives them theirs (strict mode, no TS7006).
        charge: (_input, { attempt }) => (attempt < 3 ? Promise.reject(new Error("card declined")) : { id: "PAY-3" }),
      },
      notify: () => "ok",
    },
  });
  expect(result.output).toMatchObject({ payment: "PAY-3" });
  expect(calls.filter((c) => c.service === "PaymentService").map((c) => c.attempt)).toEqual([1, 2, 3]);
  expect(clock.now().toISOString()).toBe("2026-01-01T03:00:00.000Z");
});

test("answers given as a list resume the approvals in order", async () => {
  const { result, entries } = await testWorkflow(ORDER, {
    input: { order_id: "A-3", total: 5000 },
    services: { PaymentService: { charge: { id: "PAY-4" } }, notify: "ok" },
    answers: [{ approved: false }],
  });
  expect(result.output).toEqual({ status: "rejected" });
  expect(entries.map((e) => `${e.stepId}:${e.action}`)).toEqual([
    "pay:completed",
    "check:completed",
    "approve:halted",
    "approve:completed",
    "rejected:completed",
  ]);
});

test("answers given as a function see the halt", async () => {
  const prompts: (string | undefined)[] = [];
  const { result } = await testWorkflow(ORDER, {
    input: { order_id: "A-4", total: 5000 },
    services: { PaymentService: { charge: { id: "PAY-5" } }, notify: "ok" },
    answers: (halt) => {
      prompts.push(halt.prompt);
      return { approved: true };
    },
  });
  expect(prompts).toEqual(["Approve a large order"]);
  expect(result.output).toEqual({ status: "paid", payment: "PAY-5", notice: "ok" });
});

test("without an answer left, the halted result is returned", async () => {
  const { result, execution } = await testWorkflow(ORDER, {
    input: { order_id: "A-5", total: 5000 },
    services: { PaymentService: { charge: { id: "PAY-6" } }, notify: "ok" },
  });
  expect(result.status).toBe("halted");
  expect(result.halt?.data).toMatchObject({ type: "approval", prompt: "Approve a large order" });
  expect(execution.currentStep).toBe("approve");
});

const REMINDER = loadWorkflow(`
id: reminder
name: Reminder
steps:
  - id: nap
    type: wait
    seconds: 172800
    next: mail_out
  - id: mail_out
    type: call
    service: mail
    method: send
    input: { note: hello }
    output: sent
  `);

test("a long wait is continued by moving the clock to its wake time", async () => {
  const { result, calls, clock, events, entries } = await testWorkflow(REMINDER, {
    start: "2026-03-01T09:00:00Z",
    services: { mail: { send: { id: "M-1" } } },
  });
  expect(result.status).toBe("completed");
  expect(entries[0]?.output).toEqual({ until: "2026-03-03T09:00:00.000Z" });
  expect(calls.map((c) => c.input)).toEqual([{ note: "hello" }]);
  expect(clock.now().toISOString()).toBe("2026-03-03T09:00:00.000Z");
  expect(events.at(-1)?.type).toBe("workflow.completed");
});

test("advanceWaits: false stops at the wait, pending with its wake time", async () => {
  const { result, calls } = await testWorkflow(REMINDER, {
    start: "2026-03-01T09:00:00Z",
    advanceWaits: false,
    services: { mail: { send: {} } },
  });
  expect(result).toMatchObject({ status: "pending", notBefore: "2026-03-03T09:00:00.000Z" });
  expect(calls).toEqual([]);
});

test("an unknown service fails the run with the engine's message", async () => {
  const { result } = await testWorkflow(REMINDER, { clock: new ManualClock(0, { autoAdvance: true }) });
  expect(result.status).toBe("failed");
  expect(result.error).toContain('Unknown service "mail"');
});

test("a plain object is a map of methods, or the value returned when the workflow calls the service without a method", async () => {
  const workflow = loadWorkflow(`
id: both
name: Both
steps:
  - id: a
    type: call
    service: svc
    method: name
    output: a
    next: b
  - id: b
    type: call
    service: whole
    output: b
  `);
  const { execution } = await testWorkflow(workflow, { services: { svc: { name: "canned" }, whole: { name: "canned" } } });
  expect(execution.ctx).toEqual({ a: "canned", b: { name: "canned" } });
});
