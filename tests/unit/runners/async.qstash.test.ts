/**
 * Async runs through real pieces, all on loopback: AsyncRunner + QStashAdapter publish with the real
 * @upstash/qstash Client to qstash-dev, which delivers signed callbacks to the Hono app (createApp, served
 * by Bun.serve), which performs the jobs on an UpstashRedisStore talking to a real redis-server through the
 * Upstash REST bridge. No timing assertions: time moves through qstash-dev's advanceTime and a manual clock.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { Redis } from "@upstash/redis";
import { createOrderServices } from "../../../examples/order-fulfillment/services.ts";
import {
  AsyncRunner,
  ConfigError,
  ConflictError,
  type Job,
  loadWorkflow,
  NonRetryableError,
  QStashAdapter,
  type QueueAdapter,
  RetryAfterError,
  type ServiceContext,
  type Services,
  type Store,
  sweep,
  UpstashRedisStore,
  type WorkflowDefinition,
} from "../../../mod.ts";
import { createApp } from "../../../routes/app.ts";
import { jobBody } from "../../../src/runners/jobs.ts";
import {
  type AsyncStack,
  deliver,
  type Delivery,
  DEV_CURRENT_SIGNING_KEY,
  DEV_NEXT_SIGNING_KEY,
  signDelivery,
  startAsyncStack,
} from "../../support/async-stack.ts";
import { manualClock } from "../../support/engine.ts";
import { happyOrder, largeOrder, orderWorkflow } from "../../support/order-fulfillment.ts";
import { freePort, redisServerAvailable } from "../../support/redis.ts";

const available = redisServerAvailable();
const describeStack = available ? describe : describe.skip;

let stack: AsyncStack;
beforeAll(async () => {
  if (available) stack = await startAsyncStack();
});
afterAll(async () => {
  await stack?.stop();
});
beforeEach(async () => {
  if (available) await stack.reset();
});

const ORDER_OUTPUT = {
  order_id: "O-1",
  status: "completed",
  totals: { subtotal: 89.48, tax: 7.16, shipping: 5.99, total: 102.63 },
  payment_id: "PAY-O-1",
  tracking_number: "TRK-O-1",
  error: null,
};

/** start → s1 … sn (each calls `work`) → end with every step's output. */
function linear(n: number): WorkflowDefinition {
  const ids = Array.from({ length: n }, (_, i) => `s${i + 1}`);
  return loadWorkflow({
    id: `linear_${n}`,
    name: `Linear ${n}`,
    steps: [
      { id: "start", type: "start", next: ids[0] },
      ...ids.map((id, i) => ({
        id,
        type: "call",
        service: "work",
        input: { step: id },
        output: `out_${id}`,
        next: ids[i + 1] ?? "finish",
      })),
      { id: "finish", type: "end", result: Object.fromEntries(ids.map((id) => [id, `$out_${id}`])) },
    ],
  });
}

const loopWorkflow = loadWorkflow({
  id: "batch",
  name: "Batch",
  inputs: { items: { type: "array" } },
  steps: [
    { id: "start", type: "start", next: "each" },
    {
      id: "each",
      type: "loop",
      over: "$input.items",
      as: "item",
      do: [{ id: "handle", type: "call", service: "handle", input: { item: "$item" } }],
      output: "handled",
      next: "finish",
    },
    { id: "finish", type: "end", result: { handled: "$handled" } },
  ],
});

/** An approval with a one-day timeout: `shipped` when approved, `expired` on timeout or rejection. */
const approvalWorkflow = loadWorkflow({
  id: "ship_approval",
  name: "Ship approval",
  steps: [
    { id: "start", type: "start", next: "ask" },
    { id: "ask", type: "approval", prompt: "Ship it?", timeout: 86_400, on_timeout: "expired", on_reject: "expired", next: "ship" },
    { id: "ship", type: "assign", set: { decision: "shipped" }, next: "finish" },
    { id: "expired", type: "assign", set: { decision: "expired" }, next: "finish" },
    { id: "finish", type: "end", result: { decision: "$decision" } },
  ],
});

/** Waits three days between two steps. */
const waitWorkflow = loadWorkflow({
  id: "three_days",
  name: "Three days",
  steps: [
    { id: "start", type: "start", next: "s1" },
    { id: "s1", type: "call", service: "work", input: { step: "s1" }, next: "cool_off" },
    { id: "cool_off", type: "wait", seconds: 259_200, next: "s2" },
    { id: "s2", type: "call", service: "work", input: { step: "s2" }, next: "finish" },
    { id: "finish", type: "end", result: "done" },
  ],
});

/** A call with retries left whose service refuses for good (NonRetryableError) or asks for a wait (RetryAfterError). */
const refusedWorkflow = loadWorkflow({
  id: "refused_charge",
  name: "Refused charge",
  steps: [
    { id: "start", type: "start", next: "charge" },
    { id: "charge", type: "call", service: "refuse", retries: 3, output: "charge", next: "finish" },
    { id: "finish", type: "end", result: { charge: "$charge" } },
  ],
});

const rateLimitedWorkflow = loadWorkflow({
  id: "rate_limited_charge",
  name: "Rate-limited charge",
  steps: [
    { id: "start", type: "start", next: "charge" },
    { id: "charge", type: "call", service: "limited", retries: 2, retry_delay: 1, output: "charge", next: "finish" },
    { id: "finish", type: "end", result: { charge: "$charge" } },
  ],
});

const retryWorkflow = loadWorkflow({
  id: "flaky_charge",
  name: "Flaky charge",
  steps: [
    { id: "start", type: "start", next: "charge" },
    { id: "charge", type: "call", service: "charge", retries: 1, retry_delay: 60, output: "charge", next: "finish" },
    { id: "finish", type: "end", result: { charge: "$charge" } },
  ],
});

/** Records every service call as `<stepId>` or `<stepId>[<item>]`, with its attempt. */
function recordingServices() {
  const calls: { step: string; attempt: number; key: string }[] = [];
  const log = (step: string, context: ServiceContext) => calls.push({ step, attempt: context.attempt, key: context.idempotencyKey });
  const services: Services = {
    work: async (input: { step: string }, context: ServiceContext) => {
      log(input.step, context);
      await new Promise((resolve) => setTimeout(resolve, 2));
      return `did ${input.step}`;
    },
    handle: (input: { item: number }, context: ServiceContext) => {
      log(`handle[${input.item}]`, context);
      return input.item * 10;
    },
    refuse: (_input: unknown, context: ServiceContext) => {
      log("refuse", context);
      throw new NonRetryableError("card declined");
    },
    limited: (_input: unknown, context: ServiceContext) => {
      log("limited", context);
      if (context.attempt === 1) throw new RetryAfterError(120, "rate limited");
      return { id: "CH-2", attempt: context.attempt };
    },
    charge: (_input: unknown, context: ServiceContext) => {
      log("charge", context);
      if (context.attempt === 1) throw new Error("gateway unavailable");
      return { id: "CH-1", attempt: context.attempt };
    },
  };
  return { services, calls };
}

/** Sends the store's calls to an unreachable Redis while `down` is set: the store's own StoreError path. */
function switchableStore(store: Store) {
  const dead = new UpstashRedisStore({
    redis: new Redis({ url: `http://127.0.0.1:${freePort()}`, token: "x", retry: false, enableTelemetry: false }),
    prefix: "dead",
  });
  const state = { down: false };
  const wrapped = new Proxy(store, {
    get(target, key) {
      const source = state.down ? dead : target;
      const value = Reflect.get(source, key, source);
      return typeof value === "function" ? value.bind(source) : value;
    },
  });
  return { store: wrapped, state };
}

let prefixes = 0;

/** A Redis store of its own, the app on it (served by the stack), and a runner factory. */
function setup(options: {
  workflows?: WorkflowDefinition[];
  services?: Services;
  budgetMs?: number;
  retries?: number;
  leaseMs?: number;
  wrap?: (store: Store) => Store;
} = {}) {
  const prefix = `aq${++prefixes}`;
  const redisStore = new UpstashRedisStore({ redis: stack.redis.redis, prefix });
  const store = options.wrap ? options.wrap(redisStore) : redisStore;
  const clock = manualClock("2026-03-01T00:00:00.000Z");
  const shop = createOrderServices();
  const recorded = recordingServices();
  const services = options.services ?? { ...shop.services, ...recorded.services };
  const workflows = options.workflows ?? [
    orderWorkflow,
    linear(3),
    loopWorkflow,
    retryWorkflow,
    approvalWorkflow,
    waitWorkflow,
    refusedWorkflow,
    rateLimitedWorkflow,
  ];
  const adapter = new QStashAdapter({ client: stack.client, callbackUrl: stack.callbackUrl, retries: options.retries ?? 3 });
  const app = createApp({
    store,
    workflows,
    services,
    adapter,
    clock,
    ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
    qstash: {
      currentSigningKey: DEV_CURRENT_SIGNING_KEY,
      nextSigningKey: DEV_NEXT_SIGNING_KEY,
      ...(options.budgetMs !== undefined ? { budgetMs: options.budgetMs } : {}),
    },
  });
  stack.serve(app.fetch);
  const runner = (workflow: WorkflowDefinition, queue: QueueAdapter = adapter) =>
    new AsyncRunner(workflow, { store: redisStore, adapter: queue, clock, workflows });
  /** A runner whose jobs are kept here instead of published: the execution stays pending. */
  const holding = (workflow: WorkflowDefinition) => {
    const jobs: Job[] = [];
    return { jobs, runner: runner(workflow, { enqueue: async (job) => void jobs.push(job) }) };
  };
  return {
    prefix,
    store: redisStore,
    clock,
    shop,
    calls: recorded.calls,
    adapter,
    runner,
    holding,
    id: (name: string) => `${prefix}-${name}`,
  };
}

/** A message's delay in whole seconds (qstash-dev stamps createdAt a moment after it computes notBefore). */
const delaySeconds = (m: { notBefore: number; createdAt: number }) => Math.round((m.notBefore - m.createdAt) / 1000);
const callbacks = () => stack.deliveries.filter((d) => d.path === "/qstash");
const answer = (d: Delivery) => JSON.parse(d.answer) as Record<string, unknown>;
const settle = async (runner: AsyncRunner, id: string) => {
  await stack.qstash.waitIdle();
  return runner.wait(id, { timeoutMs: 2000, intervalMs: 5 });
};

/** A pending execution and its start job, signed for the callback URL. */
async function pendingStart(t: ReturnType<typeof setup>, workflow: WorkflowDefinition, input: unknown, name: string) {
  const { jobs, runner } = t.holding(workflow);
  const id = await runner.run(input, { executionId: t.id(name) });
  const body = JSON.stringify(jobBody(jobs[0]!));
  return { id, body, signature: await signDelivery({ url: stack.callbackUrl, body }) };
}

describeStack("async runs through QStash", () => {
  test("a run started through AsyncRunner is performed by the callback and wait returns its output", async () => {
    const t = setup();
    const runner = t.runner(orderWorkflow);
    const id = await runner.run(happyOrder, { executionId: t.id("happy") });
    expect(id).toBe(t.id("happy"));
    expect(await settle(runner, id)).toEqual({ status: "completed", executionId: id, output: ORDER_OUTPUT });
    expect(callbacks().map((d) => [d.status, answer(d)])).toEqual([[200, { executionId: id, status: "completed", duplicate: false }]]);
  });

  test("a large order halts at the approval, and resume through the runner completes it", async () => {
    const t = setup();
    const runner = t.runner(orderWorkflow);
    const id = await runner.run(largeOrder, { executionId: t.id("big") });
    const halted = await settle(runner, id);
    expect(halted?.status).toBe("halted");
    expect(halted?.halt?.prompt).toBe("Approve order O-BIG for 1408.91?");
    await runner.resume(id, { approved: true });
    const done = await settle(runner, id);
    expect(done?.output).toMatchObject({ status: "completed", payment_id: "PAY-O-BIG", totals: { total: 1408.91 } });
  });

  test("two answers to one halt are one message: the first wins, the second is a ConflictError", async () => {
    const t = setup();
    const runner = t.runner(orderWorkflow);
    const id = await runner.run(largeOrder, { executionId: t.id("two-answers") });
    await settle(runner, id);
    await runner.resume(id, { approved: false });
    await expect(runner.resume(id, { approved: true })).rejects.toBeInstanceOf(ConflictError);
    const done = await settle(runner, id);
    expect(done?.output).toMatchObject({ status: "rejected", payment_id: null });
    expect(stack.qstash.messages().filter((m) => m.body?.includes('"resume"'))).toHaveLength(1);
  });

  test("the same delivery replayed is answered 200 duplicate and calls no service again", async () => {
    const t = setup();
    const runner = t.runner(orderWorkflow);
    const id = await runner.run(happyOrder, { executionId: t.id("replay") });
    await settle(runner, id);
    const calls = t.shop.calls.length;
    const [first] = callbacks();
    const replay = await deliver(stack.callbackUrl, first!.body, first!.headers.get("upstash-signature")!);
    expect(replay.status).toBe(200);
    expect(await replay.json()).toEqual({ executionId: id, status: "completed", duplicate: true });
    expect(t.shop.calls.length).toBe(calls);
  });

  test("two deliveries of one job racing call each service once", async () => {
    const t = setup();
    const { id, body, signature } = await pendingStart(t, linear(3), {}, "race");
    const answers = await Promise.all([deliver(stack.callbackUrl, body, signature), deliver(stack.callbackUrl, body, signature)]);
    const results = await Promise.all(answers.map(async (r) => ({ status: r.status, body: await r.json() as Record<string, unknown> })));
    expect(t.calls.map((c) => c.step).sort()).toEqual(["s1", "s2", "s3"]);
    const winners = results.filter((r) => r.body.status === "completed" && r.body.duplicate === false);
    expect(winners).toEqual([{ status: 200, body: { executionId: id, status: "completed", duplicate: false } }]);
    // The other one lost the claim or came after the run ended (a duplicate), or found it running under the
    // winner's live lease (busy: it enqueued a continue for the lease's expiry, which will find the run done).
    const loser = results.find((r) => r !== winners[0])!;
    const duplicate = { executionId: id, status: expect.stringMatching(/^(running|completed)$/), duplicate: true };
    const busy = { executionId: id, status: "running", duplicate: false, busyUntil: expect.any(String), enqueued: ["continue"] };
    expect(loser.status).toBe(200);
    expect(loser.body).toEqual(loser.body.duplicate ? duplicate : busy);
    expect((await t.store.load(id))?.status).toBe("completed");
  });
});

describeStack("the callback's signature check", () => {
  const refused = async (t: ReturnType<typeof setup>, id: string, response: Response) => {
    expect(response.status).toBe(401);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
    const exec = await t.store.load(id);
    expect([exec?.status, exec?.revision]).toEqual(["pending", 1]);
    expect(await t.store.entries(id)).toEqual([]);
    expect(t.calls).toEqual([]);
  };

  test("a delivery without a signature is refused with 401 and nothing runs", async () => {
    const t = setup();
    const { id, body } = await pendingStart(t, linear(3), {}, "unsigned");
    await refused(t, id, await deliver(stack.callbackUrl, body));
  });

  test("a signature made with another key is refused with 401 and nothing runs", async () => {
    const t = setup();
    const { id, body } = await pendingStart(t, linear(3), {}, "forged");
    await refused(
      t,
      id,
      await deliver(stack.callbackUrl, body, await signDelivery({ url: stack.callbackUrl, body, key: "sig_not_the_key" })),
    );
  });

  test("an expired signature is refused with 401 and nothing runs", async () => {
    const t = setup();
    const { id, body } = await pendingStart(t, linear(3), {}, "expired");
    await refused(t, id, await deliver(stack.callbackUrl, body, await signDelivery({ url: stack.callbackUrl, body, expiresIn: -10 })));
  });

  test("a body changed after signing is refused with 401 and nothing runs", async () => {
    const t = setup();
    const { id, body, signature } = await pendingStart(t, linear(3), {}, "tampered");
    const changed = body.replace('"start"', '"continue"');
    await refused(t, id, await deliver(stack.callbackUrl, changed, signature));
  });

  test("a signature made for another URL is refused with 401 even when Host claims that URL", async () => {
    const t = setup();
    const { id, body } = await pendingStart(t, linear(3), {}, "other-url");
    const signature = await signDelivery({ url: "https://evil.example/qstash", body });
    await refused(t, id, await deliver(stack.callbackUrl, body, signature, { host: "evil.example" }));
  });

  test("a delivery signature is refused by the failure route (it is signed for another URL)", async () => {
    const t = setup();
    const { id, body, signature } = await pendingStart(t, linear(3), {}, "wrong-route");
    await refused(t, id, await deliver(`${stack.callbackUrl}/failure`, body, signature));
  });

  test("a signed body that is not a job is answered 489, which QStash does not retry", async () => {
    setup();
    const body = JSON.stringify({ hello: "world" });
    const response = await deliver(stack.callbackUrl, body, await signDelivery({ url: stack.callbackUrl, body }));
    expect(response.status).toBe(489);
    expect(response.headers.get("upstash-nonretryable-error")).toBe("true");
  });

  test("a wake job that names no halt (no wakeAt, no revision) is answered 489 naming wakeAt", async () => {
    setup();
    const body = JSON.stringify({ workflowId: "linear", executionId: "no-halt", action: "wake" });
    const response = await deliver(stack.callbackUrl, body, await signDelivery({ url: stack.callbackUrl, body }));
    expect(response.status).toBe(489);
    expect(JSON.stringify(await response.json())).toContain("wakeAt");
  });

  test("a job with an action this version does not know (a newer instance's) is answered 503, which QStash retries", async () => {
    setup();
    const body = JSON.stringify({ workflowId: "linear", executionId: "newer", action: "compensate" });
    const response = await deliver(stack.callbackUrl, body, await signDelivery({ url: stack.callbackUrl, body }));
    expect(response.status).toBe(503);
    expect(response.headers.get("upstash-nonretryable-error")).toBeNull();
    expect(((await response.json()) as { detail: string }).detail).toContain(`does not know the job action "compensate"`);
  });
});

describeStack("transient failures and QStash's retries", () => {
  test("a delivery while the store is down is answered 503 and QStash's retry completes the run", async () => {
    let switched!: ReturnType<typeof switchableStore>;
    const t = setup({ wrap: (store) => (switched = switchableStore(store)).store });
    switched.state.down = true;
    stack.onAnswer((d) => {
      if (d.path === "/qstash") switched.state.down = false;
    });
    const runner = t.runner(linear(3));
    const id = await runner.run({}, { executionId: t.id("store-down") });
    expect((await settle(runner, id))?.status).toBe("completed");
    expect(callbacks().map((d) => d.status)).toEqual([503, 200]);
    expect(t.calls.map((c) => c.step)).toEqual(["s1", "s2", "s3"]);
  });

  test("QStash giving up while the store is down fails nothing: the execution stays pending and the sweeper completes it", async () => {
    let switched!: ReturnType<typeof switchableStore>;
    const t = setup({ retries: 3, wrap: (store) => (switched = switchableStore(store)).store });
    switched.state.down = true;
    stack.onAnswer(() => {
      // The store comes back after the 4th and last attempt, in time for the failure callback.
      if (callbacks().length === 4) switched.state.down = false;
    });
    const runner = t.runner(linear(3));
    const id = await runner.run({}, { executionId: t.id("gave-up") });
    await stack.qstash.waitIdle();
    expect(callbacks().map((d) => d.status)).toEqual([503, 503, 503, 503]);
    const failure = stack.deliveries.filter((d) => d.path === "/qstash/failure").map(answer);
    expect(failure).toEqual([{ executionId: id, abandoned: false, recoveredBy: "sweeper" }]);
    expect((await t.store.load(id))?.status).toBe("pending");
    t.clock.advance(60_000);
    const report = await sweep({ store: t.store, adapter: t.adapter, clock: t.clock });
    expect(report.enqueued.map((item) => item.id)).toEqual([id]);
    expect((await settle(runner, id))?.status).toBe("completed");
    expect(t.calls.map((c) => c.step)).toEqual(["s1", "s2", "s3"]);
  });

  test("a sweep job delivered by a QStash schedule runs the sweeper", async () => {
    const t = setup();
    const { id } = await pendingStart(t, linear(3), {}, "orphan");
    t.clock.advance(60_000);
    const body = JSON.stringify({ action: "sweep" });
    const response = await deliver(stack.callbackUrl, body, await signDelivery({ url: stack.callbackUrl, body }));
    expect(await response.json()).toEqual({ swept: 1, failed: 0, triggered: 0 });
    const runner = t.runner(linear(3));
    expect((await settle(runner, id))?.status).toBe("completed");
  });
});

describeStack("leases", () => {
  /** A pending execution that a worker claimed (status running, a 60 s lease) and then left: it crashed mid-run. */
  async function crashedMidRun(t: ReturnType<typeof setup>, name: string) {
    const start = await pendingStart(t, linear(3), {}, name);
    const exec = (await t.store.load(start.id))!;
    const leaseUntil = new Date(t.clock().getTime() + 60_000).toISOString();
    await t.store.save({ ...exec, status: "running", leaseUntil }, { expectedRevision: exec.revision });
    return { ...start, leaseUntil };
  }

  test("a delivery finding a live lease answers 200 and publishes one continue for the lease's expiry", async () => {
    const t = setup();
    const { id, body, signature, leaseUntil } = await crashedMidRun(t, "busy");
    for (let i = 0; i < 2; i++) {
      const response = await deliver(stack.callbackUrl, body, signature);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({
        executionId: id,
        status: "running",
        duplicate: false,
        busyUntil: leaseUntil,
        enqueued: ["continue"],
      });
    }
    const wakes = stack.qstash.messages().filter((m) => m.body?.includes(`"${id}"`) && m.body.includes('"continue"'));
    expect(wakes.map(delaySeconds)).toEqual([60]);
    expect(t.calls).toEqual([]);
  });

  test("a delivery after the lease has expired takes the execution over and completes it", async () => {
    const t = setup();
    const { id, body, signature } = await crashedMidRun(t, "stale");
    t.clock.advance(60_000);
    const response = await deliver(stack.callbackUrl, body, signature);
    expect(await response.json()).toEqual({ executionId: id, status: "completed", duplicate: false, takenOver: true });
    expect(t.calls.map((c) => c.step)).toEqual(["s1", "s2", "s3"]);
  });
});

describeStack("time budget and continuations", () => {
  test("a run longer than the budget continues in further callbacks and completes", async () => {
    const t = setup({ budgetMs: 0 });
    const runner = t.runner(linear(3));
    const id = await runner.run({}, { executionId: t.id("budget") });
    const result = await settle(runner, id);
    expect(result?.output).toEqual({ s1: "did s1", s2: "did s2", s3: "did s3" });
    expect(t.calls.map((c) => c.step)).toEqual(["s1", "s2", "s3"]);
    const answers = callbacks().map(answer);
    // One delivery per call step: the budget is checked before side effects only, so the pure start and end take none.
    expect(answers.length).toBe(3);
    expect(answers.slice(0, -1).every((a) => a.status === "pending" && (a.enqueued as string[]).includes("continue"))).toBe(true);
    expect(answers.at(-1)).toEqual({ executionId: id, status: "completed", duplicate: false });
  });

  test("a loop longer than the budget continues at its next iteration, never repeating one", async () => {
    const t = setup({ budgetMs: 0 });
    const runner = t.runner(loopWorkflow);
    const items = [1, 2, 3, 4];
    const id = await runner.run({ items }, { executionId: t.id("loop") });
    const result = await settle(runner, id);
    expect(result?.output).toEqual({ handled: [10, 20, 30, 40] });
    expect(t.calls.map((c) => c.step)).toEqual(["handle[1]", "handle[2]", "handle[3]", "handle[4]"]);
    // One callback per iteration: the run yielded inside the loop (the pure start and end steps take none of their own).
    expect(callbacks().length).toBe(items.length);
  });

  test("a call whose retry wait is long is scheduled as a delayed continuation and completes", async () => {
    const t = setup();
    const runner = t.runner(retryWorkflow);
    const id = await runner.run({}, { executionId: t.id("retry") });
    await stack.qstash.waitIdle();
    expect(await runner.status(id)).toBe("pending");
    const continuation = stack.qstash.messages().find((m) => m.body?.includes('"continue"'))!;
    expect(delaySeconds(continuation)).toBe(60);
    t.clock.advance(60_000);
    stack.qstash.advanceTime(60_000);
    const result = await settle(runner, id);
    expect(result).toEqual({ status: "completed", executionId: id, output: { charge: { id: "CH-1", attempt: 2 } } });
    expect(t.calls.map((c) => c.attempt)).toEqual([1, 2]);
  });
});

describeStack("errors services throw, through QStash", () => {
  test("a NonRetryableError fails the step at its first attempt: no retry, no continuation", async () => {
    const t = setup();
    const runner = t.runner(refusedWorkflow);
    const id = await runner.run({}, { executionId: t.id("refused") });
    expect(await settle(runner, id)).toEqual({ status: "failed", executionId: id, error: "NonRetryableError: card declined" });
    expect(t.calls).toEqual([{ step: "refuse", attempt: 1, key: `${id}:charge:1` }]);
    expect(stack.qstash.messages().filter((m) => m.body?.includes('"continue"'))).toEqual([]);
  });

  test("a RetryAfterError's wait becomes a delayed continuation of that many seconds, and the next attempt completes", async () => {
    const t = setup();
    const runner = t.runner(rateLimitedWorkflow);
    const id = await runner.run({}, { executionId: t.id("rate-limited") });
    await stack.qstash.waitIdle();
    expect(await t.store.load(id)).toMatchObject({
      status: "pending",
      wakeAt: "2026-03-01T00:02:00.000Z",
      retry: { stepId: "charge", attempt: 2 },
    });
    const continuation = stack.qstash.messages().find((m) => m.body?.includes('"continue"'))!;
    expect(delaySeconds(continuation)).toBe(120);
    t.clock.advance(120_000);
    stack.qstash.advanceTime(120_000);
    const result = await settle(runner, id);
    expect(result).toEqual({ status: "completed", executionId: id, output: { charge: { id: "CH-2", attempt: 2 } } });
    expect(t.calls.map((c) => [c.attempt, c.key])).toEqual([[1, `${id}:charge:1`], [2, `${id}:charge:1`]]);
  });
});

describeStack("http steps through QStash", () => {
  test("a 429 with Retry-After becomes a delayed continuation, and the retry re-sends the same request under the same key", async () => {
    const seen: { key: string | null; body: string }[] = [];
    const api = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: async (request) => {
        seen.push({ key: request.headers.get("idempotency-key"), body: await request.text() });
        return seen.length === 1
          ? new Response("slow down", { status: 429, headers: { "retry-after": "90" } })
          : Response.json({ id: "P-1" });
      },
    });
    try {
      const workflow = loadWorkflow({
        id: "http_charge",
        name: "HTTP charge",
        steps: [
          { id: "start", type: "start", next: "pay" },
          {
            id: "pay",
            type: "http",
            method: "POST",
            url: `http://127.0.0.1:${api.port}/payments`,
            body: { amount: "$input.amount", at: "$now" },
            retries: 1,
            output: "payment",
            next: "finish",
          },
          { id: "finish", type: "end", result: "$payment.body" },
        ],
      });
      const t = setup({ workflows: [workflow] });
      const runner = t.runner(workflow);
      const id = await runner.run({ amount: 5 }, { executionId: t.id("http-429") });
      await stack.qstash.waitIdle();
      const continuation = stack.qstash.messages().find((m) => m.body?.includes('"continue"'))!;
      expect(delaySeconds(continuation)).toBe(90);
      t.clock.advance(90_000);
      stack.qstash.advanceTime(90_000);
      expect(await settle(runner, id)).toEqual({ status: "completed", executionId: id, output: { id: "P-1" } });
      expect(seen.map((r) => r.key)).toEqual([`${id}:pay:1`, `${id}:pay:1`]);
      expect(seen[1]!.body).toBe(seen[0]!.body);
    } finally {
      api.stop(true);
    }
  });
});

describeStack("wait steps", () => {
  test("a wait of three days costs one delayed message and completes when the clocks reach it", async () => {
    const t = setup();
    const runner = t.runner(waitWorkflow);
    const id = await runner.run({}, { executionId: t.id("three-days") });
    await stack.qstash.waitIdle();
    expect(await t.store.load(id)).toMatchObject({ status: "pending", wakeAt: "2026-03-04T00:00:00.000Z", recoverTo: "s2" });
    const wake = stack.qstash.messages().filter((m) => m.body?.includes('"continue"') && m.body.includes(id));
    expect(wake.map(delaySeconds)).toEqual([259_200]);
    expect(t.calls.map((c) => c.step)).toEqual(["s1"]);
    t.clock.advance(259_200_000);
    stack.qstash.advanceTime(259_200_000);
    expect((await settle(runner, id))?.status).toBe("completed");
    expect(t.calls.map((c) => c.step)).toEqual(["s1", "s2"]);
  });
});

describeStack("approval timers", () => {
  const DAY_MS = 86_400_000;

  test("an approval nobody answers takes its on_timeout path when the delayed wake job arrives", async () => {
    const t = setup();
    const runner = t.runner(approvalWorkflow);
    const id = await runner.run({}, { executionId: t.id("timeout") });
    expect((await settle(runner, id))?.status).toBe("halted");
    const wake = stack.qstash.messages().find((m) => m.body?.includes('"wake"'))!;
    expect(delaySeconds(wake)).toBe(86_400);
    t.clock.advance(DAY_MS);
    stack.qstash.advanceTime(DAY_MS);
    expect(await settle(runner, id)).toEqual({ status: "completed", executionId: id, output: { decision: "expired" } });
  });

  test("a wake that arrives before the engine's clock reaches the timeout leaves the approval waiting and is set again", async () => {
    const t = setup();
    const runner = t.runner(approvalWorkflow);
    const id = await runner.run({}, { executionId: t.id("early-wake") });
    await settle(runner, id);
    const before = (await t.store.load(id))!;
    stack.qstash.advanceTime(DAY_MS); // the queue's clock runs an hour ahead of the engine's
    t.clock.advance(DAY_MS - 3_600_000);
    await stack.qstash.waitIdle();
    const after = (await t.store.load(id))!;
    expect([after.status, after.revision]).toEqual(["halted", before.revision]);
    const wakes = stack.qstash.messages().filter((m) => m.body?.includes('"wake"'));
    expect(wakes.map((w) => [w.state, delaySeconds(w)])).toEqual([["DELIVERED", 86_400], ["CREATED", 3_600]]);
    t.clock.advance(3_600_000);
    stack.qstash.advanceTime(3_600_000);
    expect((await settle(runner, id))?.output).toEqual({ decision: "expired" });
  });

  test("an approval answered before its timeout ignores the wake job when it arrives", async () => {
    const t = setup();
    const runner = t.runner(approvalWorkflow);
    const id = await runner.run({}, { executionId: t.id("answered") });
    await settle(runner, id);
    await runner.resume(id, { approved: true });
    expect((await settle(runner, id))?.output).toEqual({ decision: "shipped" });
    t.clock.advance(DAY_MS);
    stack.qstash.advanceTime(DAY_MS);
    await stack.qstash.waitIdle();
    expect(answer(callbacks().at(-1)!)).toEqual({ executionId: id, status: "completed", duplicate: true });
    expect((await t.store.load(id))?.result).toEqual({ decision: "shipped" });
  });
});

describeStack("flow control through QStash", () => {
  const oneAtATime = loadWorkflow({
    id: "one_at_a_time",
    name: "One at a time",
    concurrency: { limit: 1, key: "$input.account" },
    steps: [
      { id: "start", type: "start", next: "charge" },
      { id: "charge", type: "call", service: "charge", input: { n: "$input.n" }, next: "finish" },
      { id: "finish", type: "end" },
    ],
  });

  test("start jobs carry QStash flow control (key, parallelism); the continuation a released slot publishes does not", async () => {
    let open = () => {};
    const gate = new Promise<void>((resolve) => (open = resolve));
    const charged: number[] = [];
    const services = { charge: async (input: { n: number }) => (charged.push(input.n), input.n === 1 && await gate, input) };
    const t = setup({ workflows: [oneAtATime], services });
    const runner = t.runner(oneAtATime);
    const first = await runner.run({ account: "A 1", n: 1 }, { executionId: t.id("first") });
    while (!charged.includes(1)) await new Promise((resolve) => setTimeout(resolve, 5));
    const second = await runner.run({ account: "A 1", n: 2 }, { executionId: t.id("second") });
    while ((await t.store.load(second))?.flow?.waiting === undefined) await new Promise((resolve) => setTimeout(resolve, 5));
    open();
    expect((await settle(runner, first))?.status).toBe("completed");
    expect((await settle(runner, second))?.status).toBe("completed");
    const published = stack.qstash.messages().filter((m) => m.kind === "message").map((m) => ({
      job: JSON.parse(m.body!) as Job,
      flowControl: m.flowControl,
    }));
    const starts = published.filter((m) => m.job.action === "start");
    const continues = published.filter((m) => m.job.action === "continue");
    expect(starts.map((m) => m.flowControl)).toEqual([
      { key: "one_at_a_time.A_201", parallelism: 1 },
      { key: "one_at_a_time.A_201", parallelism: 1 },
    ]);
    expect(continues.map((m) => [m.job.executionId, m.flowControl])).toEqual([[second, undefined]]);
    expect(published.every((m) => !("flowControl" in m.job))).toBe(true);
  });
});

describeStack("QStashAdapter", () => {
  const job = (executionId: string): Job => ({
    workflowId: "linear_3",
    workflowVersion: "1.0",
    executionId,
    action: "start",
    createdAt: "2026-03-01T00:00:00.000Z",
  });

  test("a job enqueued twice is one QStash message", async () => {
    const adapter = new QStashAdapter({ client: stack.client, callbackUrl: "http://127.0.0.1:1/qstash" });
    await adapter.enqueue(job("twice"));
    await adapter.enqueue(job("twice"));
    expect(stack.qstash.messages().filter((m) => m.kind === "message")).toHaveLength(1);
  });

  test("the message is the small job, never the execution's state", async () => {
    const adapter = new QStashAdapter({ client: stack.client, callbackUrl: "http://127.0.0.1:1/qstash" });
    await adapter.enqueue({ ...job("small"), action: "resume", revision: 4, approved: true, response: { note: "ok" }, priority: 5 });
    const [message] = stack.qstash.messages();
    expect(JSON.parse(message!.body!)).toEqual({
      workflowId: "linear_3",
      workflowVersion: "1.0",
      executionId: "small",
      action: "resume",
      revision: 4,
      approved: true,
      response: { note: "ok" },
      createdAt: "2026-03-01T00:00:00.000Z",
    });
    expect(message!.failureCallback).toBe("http://127.0.0.1:1/qstash/failure");
    expect(message!.maxRetries).toBe(3);
  });

  test("delaySeconds becomes the message's delay, rounded up to whole seconds", async () => {
    const adapter = new QStashAdapter({ client: stack.client, callbackUrl: "http://127.0.0.1:1/qstash" });
    await adapter.enqueue({ ...job("later"), action: "continue" }, { delaySeconds: 29.2, key: "k" });
    const [message] = stack.qstash.messages();
    expect(delaySeconds(message!)).toBe(30);
  });

  test("a job with a queue is enqueued in that QStash queue", async () => {
    const adapter = new QStashAdapter({ client: stack.client, callbackUrl: "http://127.0.0.1:1/qstash" });
    await adapter.enqueue({ ...job("queued"), queue: "orders" });
    expect(stack.qstash.messages().map((m) => m.queueName)).toEqual(["orders"]);
  });

  test("deduplication ids contain only letters, digits, - _ and . even for child and loop ids", async () => {
    const adapter = new QStashAdapter({ client: stack.client, callbackUrl: "http://127.0.0.1:1/qstash" });
    await adapter.enqueue(job("parent:child[0].x"));
    await adapter.enqueue({ ...job("parent:child[0].x"), action: "wake", haltedAt: "2026-03-01T00:00:00.000Z" }, { key: "1772323200000" });
    const ids = stack.qstash.messages().map((m) => m.deduplicationId);
    expect(ids).toEqual(["parent_3achild_5b0_5d_2ex.start.1772323200000", "parent_3achild_5b0_5d_2ex.wake.1772323200000.1772323200000"]);
  });

  test("a callbackUrl that is not an absolute http(s) URL is a ConfigError", () => {
    expect(() => new QStashAdapter({ client: stack.client, callbackUrl: "/qstash" })).toThrow(ConfigError);
  });
});

describeStack("compensation through QStash", () => {
  const saga = loadWorkflow({
    id: "saga",
    name: "Saga",
    steps: [
      { id: "start", type: "start", next: "book" },
      {
        id: "book",
        type: "call",
        service: "work",
        input: { step: "book" },
        output: "b",
        compensate: { service: "undo", input: { undo: "$b" } },
        next: "pay",
      },
      {
        id: "pay",
        type: "call",
        service: "work",
        input: { step: "pay" },
        output: "p",
        compensate: { service: "undo", input: { undo: "$p" } },
        next: "ship",
      },
      { id: "ship", type: "call", service: "refuse", next: "finish" },
      { id: "finish", type: "end" },
    ],
  });

  test("a worker that dies mid-compensation is taken over after its lease and the rest is undone under the same keys", async () => {
    let switched!: ReturnType<typeof switchableStore>;
    const undone: { undo: string; key: string }[] = [];
    const recorded = recordingServices();
    const services: Services = {
      ...recorded.services,
      undo: (input: { undo: string }, context: ServiceContext) => {
        undone.push({ undo: input.undo, key: context.idempotencyKey });
        // The worker's store goes away after the first compensation: its checkpoint fails and the delivery ends 503.
        if (undone.length === 1) switched.state.down = true;
        return "undone";
      },
    };
    // A short lease: Redis decides a takeover by its own clock, so the lease must also run out in real time.
    const t = setup({ workflows: [saga], services, leaseMs: 200, wrap: (store) => (switched = switchableStore(store)).store });
    stack.onAnswer((d) => {
      if (d.path === "/qstash") switched.state.down = false;
    });
    const runner = t.runner(saga);
    const id = await runner.run({}, { executionId: t.id("saga") });
    await stack.qstash.waitIdle();
    expect(callbacks().map((d) => [d.status, d.status === 200 ? answer(d).status : null])).toEqual([[503, null], [200, "running"]]);
    expect(await t.store.load(id)).toMatchObject({ status: "running", compensating: { status: "failed" } });
    await Bun.sleep(250);
    t.clock.advance(1_000);
    stack.qstash.advanceTime(1_000);
    expect(await settle(runner, id)).toMatchObject({ status: "failed", error: "NonRetryableError: card declined", compensated: true });
    expect(undone).toEqual([
      { undo: "did pay", key: `${id}:pay:1:compensate` },
      { undo: "did pay", key: `${id}:pay:1:compensate` },
      { undo: "did book", key: `${id}:book:1:compensate` },
    ]);
  });
});
