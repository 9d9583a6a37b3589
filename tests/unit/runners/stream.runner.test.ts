import { describe, expect, test } from "bun:test";
import { createOrderServices, DECLINED_CARD } from "../../../examples/order-fulfillment/services.ts";
import { AsyncRunner, type Json, loadWorkflow, MemoryStore, StreamRunner, SyncRunner, WorkflowEvent } from "../../../mod.ts";
import { manualClock, recordingSleep, sequentialIds } from "../../support/engine.ts";
import { happyOrder, largeOrder, orderWorkflow } from "../../support/order-fulfillment.ts";
import { deferred, messagesOf } from "../../support/sse.ts";

const ORDER_STEPS = [
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
];

function setup(options: { services?: ReturnType<typeof createOrderServices>["services"] } = {}) {
  const store = new MemoryStore();
  const shop = createOrderServices();
  const errors: { error: unknown; event: WorkflowEvent }[] = [];
  const runnerOptions = {
    store,
    services: options.services ?? shop.services,
    clock: manualClock(),
    ids: sequentialIds("x"),
    sleep: recordingSleep(),
    onSubscriberError: (error: unknown, event: WorkflowEvent) => errors.push({ error, event }),
  };
  const runner = new StreamRunner(orderWorkflow, runnerOptions);
  const events: WorkflowEvent[] = [];
  runner.subscribe((event) => void events.push(event));
  return { store, shop, runner, events, errors, runnerOptions };
}

/** `<type>` or `<type>:<stepId>` per event. */
const trace = (events: readonly WorkflowEvent[]) => events.map((e) => (e.data.stepId ? `${e.type}:${e.data.stepId}` : e.type));

const stepPairs = (steps: string[]) => steps.flatMap((id) => [`step.started:${id}`, `step.completed:${id}`]);

describe("StreamRunner: events of the order-fulfillment paths", () => {
  test("emits step.started and step.completed for each step of a completed order, between workflow.started and workflow.completed", async () => {
    const { runner, events } = setup();
    await runner.run(happyOrder, { executionId: "happy" });
    expect(trace(events)).toEqual(["workflow.started", ...stepPairs(ORDER_STEPS), "workflow.completed"]);
  });

  test("workflow.started carries the execution id, the workflow id and the checked input (defaults applied)", async () => {
    const { runner, events } = setup();
    await runner.run(happyOrder, { executionId: "happy" });
    expect(events[0]!.data).toEqual({ executionId: "happy", workflowId: "order_fulfillment", input: { ...happyOrder, expedited: false } });
  });

  test("workflow.completed carries the output", async () => {
    const { runner, events } = setup();
    const result = await runner.run(happyOrder, { executionId: "happy" });
    expect(events.at(-1)!.data).toEqual({ executionId: "happy", output: result.output! });
  });

  test("step events carry the step id and type, and step.completed the step's output", async () => {
    const { runner, events } = setup();
    await runner.run(happyOrder, { executionId: "happy" });
    const totals = events.filter((e) => e.data.stepId === "calculate_totals");
    expect(totals.map((e) => e.data)).toEqual([
      { executionId: "happy", stepId: "calculate_totals", stepType: "call" },
      {
        executionId: "happy",
        stepId: "calculate_totals",
        stepType: "call",
        output: { subtotal: 89.48, tax: 7.16, shipping: 5.99, total: 102.63 },
      },
    ]);
  });

  test("a large order ends with step.halted and workflow.halted carrying the approval data and prompt", async () => {
    const { runner, events } = setup();
    await runner.run(largeOrder, { executionId: "big" });
    expect(trace(events).slice(-3)).toEqual(["step.started:manager_approval", "step.halted:manager_approval", "workflow.halted"]);
    const stepHalted = events.at(-2)!.data;
    expect(stepHalted).toMatchObject({ stepType: "approval", output: { type: "approval", prompt: "Approve order O-BIG for 1408.91?" } });
    const halted = events.at(-1)!.data as { halt: { data: Json; prompt: string; resumeStep: string } };
    expect(halted.halt.prompt).toBe("Approve order O-BIG for 1408.91?");
    expect(halted.halt.data).toEqual(stepHalted.output!);
    expect(halted.halt.resumeStep).toBe("manager_approval");
  });

  test("a resume emits workflow.resumed, the approval's completion and the remaining steps, numbered after the halt", async () => {
    const { runner, events } = setup();
    await runner.run(largeOrder, { executionId: "big" });
    const haltSeq = events.at(-1)!.seq!;
    events.length = 0;
    await runner.resume("big", { approved: true });
    expect(trace(events)).toEqual([
      "workflow.resumed",
      "step.started:manager_approval",
      "step.completed:manager_approval",
      ...stepPairs(["charge_payment", "reserve_inventory", "ship", "mark_completed", "finish"]),
      "workflow.completed",
    ]);
    expect(events[0]!.seq).toBe(haltSeq + 1);
  });

  test("a declined card shows step.failed for charge_payment with the error, then the on_error handler's steps", async () => {
    const { runner, events } = setup();
    await runner.run({ ...happyOrder, payment: { card: DECLINED_CARD } }, { executionId: "declined" });
    const from = trace(events).indexOf("step.started:charge_payment");
    expect(trace(events).slice(from)).toEqual([
      "step.started:charge_payment",
      "step.retrying:charge_payment",
      "step.retrying:charge_payment",
      "step.failed:charge_payment",
      ...stepPairs(["payment_failed", "finish"]),
      "workflow.completed",
    ]);
    expect(events[from + 3]!.data).toEqual({
      executionId: "declined",
      stepId: "charge_payment",
      stepType: "call",
      error: "PaymentDeclinedError: Card declined for order O-1",
    });
  });

  test("an out-of-stock order goes from check_inventory to out_of_stock and finish", async () => {
    const { runner, events } = setup();
    await runner.run({ ...happyOrder, items: [{ sku: "GIZMO", quantity: 10, price: 9.99 }] }, { executionId: "oos" });
    expect(trace(events)).toEqual([
      "workflow.started",
      ...stepPairs(["start", "init", "validate", "route_validation", "check_inventory", "route_inventory", "out_of_stock", "finish"]),
      "workflow.completed",
    ]);
  });

  test("a step error without on_error ends with step.failed and workflow.failed carrying the error", async () => {
    const shop = createOrderServices();
    const services = {
      ...shop.services,
      ShippingService: {
        create_shipment: () => {
          throw new Error("carrier down");
        },
      },
    };
    const { runner, events } = setup({ services: services as typeof shop.services });
    await runner.run(happyOrder, { executionId: "broken" });
    expect(trace(events).slice(-3)).toEqual(["step.started:ship", "step.failed:ship", "workflow.failed"]);
    expect(events.at(-2)!.data.error).toBe("Error: carrier down");
    expect(events.at(-1)!.data).toEqual({ executionId: "broken", error: "Error: carrier down" });
  });

  test("seq counts 1, 2, 3, ... and the store keeps the same events", async () => {
    const { runner, events, store } = setup();
    await runner.run(happyOrder, { executionId: "happy" });
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(await store.events("happy")).toEqual(events.map((e) => e.toStored()));
  });
});

describe("StreamRunner: steps inside loops", () => {
  const batch = loadWorkflow({
    id: "batch",
    name: "Batch",
    steps: [
      { id: "start", type: "start", next: "each" },
      {
        id: "each",
        type: "loop",
        over: "$input.items",
        as: "item",
        output: "doubled",
        next: "finish",
        do: [{ id: "double", type: "call", service: "math", input: { n: "$item" }, output: "d" }],
      },
      { id: "finish", type: "end", result: "$doubled" },
    ],
  });

  test("steps of a loop body get step events named <loopId>:<bodyId>, once per iteration", async () => {
    const events: WorkflowEvent[] = [];
    const runner = new StreamRunner(batch, { store: new MemoryStore(), services: { math: (input: { n: number }) => input.n * 2 } })
      .subscribe((event) => void events.push(event));
    await runner.run({ items: [1, 2] }, { executionId: "b" });
    expect(trace(events)).toEqual([
      "workflow.started",
      ...stepPairs(["start"]),
      "step.started:each",
      "step.started:each:double",
      "step.completed:each:double",
      "step.started:each:double",
      "step.completed:each:double",
      "step.completed:each",
      ...stepPairs(["finish"]),
      "workflow.completed",
    ]);
    expect(events.filter((e) => e.type === "step.completed" && e.data.stepId === "each:double").map((e) => e.data.output)).toEqual([2, 4]);
  });
});

describe("StreamRunner: subscribers", () => {
  test("subscribe returns the runner, so calls chain", () => {
    const runner = new StreamRunner(orderWorkflow, { store: new MemoryStore() });
    expect(runner.subscribe(() => {}).subscribe(() => {}, { events: ["workflow.completed"] })).toBe(runner);
  });

  test("a subscriber with an events filter gets only those types", async () => {
    const { runner } = setup();
    const seen: string[] = [];
    runner.subscribe((event) => void seen.push(event.type), { events: ["step.completed", "workflow.completed"] });
    await runner.run(happyOrder);
    expect(new Set(seen)).toEqual(new Set(["step.completed", "workflow.completed"]));
    expect(seen).toHaveLength(ORDER_STEPS.length + 1);
  });

  test("an unknown event type in a filter is refused when subscribing", () => {
    const runner = new StreamRunner(orderWorkflow, { store: new MemoryStore() });
    expect(() => runner.subscribe(() => {}, { events: ["step.complete"] })).toThrow('Unknown event type "step.complete"');
  });

  test("a throwing subscriber does not break the run and is reported once", async () => {
    const { runner, errors, events } = setup();
    runner.subscribe(() => {
      throw new Error("subscriber bug");
    });
    const result = await runner.run(happyOrder);
    expect(result.status).toBe("completed");
    expect(errors).toHaveLength(1);
    expect((errors[0]!.error as Error).message).toBe("subscriber bug");
    expect(errors[0]!.event.type).toBe("workflow.started");
    expect(events.at(-1)!.type).toBe("workflow.completed");
  });

  test("an async subscriber that rejects does not break the run and is reported once", async () => {
    const { runner, errors } = setup();
    runner.subscribe(async () => {
      throw new Error("async subscriber bug");
    });
    const result = await runner.run(happyOrder);
    expect(result.status).toBe("completed");
    await Promise.resolve();
    expect(errors.map((e) => (e.error as Error).message)).toEqual(["async subscriber bug"]);
  });

  test("a subscriber that never settles does not hold up the run", async () => {
    const { runner } = setup();
    const never = deferred();
    runner.subscribe(() => never.promise);
    expect((await runner.run(happyOrder)).status).toBe("completed");
  });

  test("the other subscribers get every event when one throws", async () => {
    const { runner } = setup();
    runner.subscribe(() => {
      throw new Error("first one fails");
    });
    const seen: WorkflowEvent[] = [];
    runner.subscribe((event) => void seen.push(event));
    await runner.run(happyOrder);
    expect(seen).toHaveLength(2 + 2 * ORDER_STEPS.length);
  });

  test("a subscriber that changes an event changes neither the run, the stored log nor what others see", async () => {
    const { store } = setup();
    const runner = new StreamRunner(orderWorkflow, { store, services: createOrderServices().services, sleep: recordingSleep() });
    runner.subscribe((event) => {
      try {
        (event.data.output as { total?: number }).total = 0;
      } catch {
        // frozen: the attempt itself fails
      }
    });
    const seen: Json[] = [];
    runner.subscribe((event) =>
      void (event.data.stepId === "calculate_totals" && event.type === "step.completed" && seen.push(event.data.output!))
    );
    const result = await runner.run(happyOrder, { executionId: "m" });
    expect((result.output as { totals: { total: number } }).totals.total).toBe(102.63);
    expect(seen).toEqual([{ subtotal: 89.48, tax: 7.16, shipping: 5.99, total: 102.63 }]);
    const stored = (await store.events("m")).find((e) => e.type === "step.completed" && e.data.stepId === "calculate_totals")!;
    expect((stored.data.output as { total: number }).total).toBe(102.63);
  });
});

describe("events from every runner", () => {
  test("a sync run, an async run through the InlineAdapter and a stream run emit the same events, and store them", async () => {
    const traces: string[][] = [];
    for (const kind of ["sync", "async", "stream"] as const) {
      const store = new MemoryStore();
      const events: WorkflowEvent[] = [];
      const options = {
        store,
        services: createOrderServices().services,
        sleep: recordingSleep(),
        onEvent: (e: WorkflowEvent) => void events.push(e),
      };
      if (kind === "sync") await new SyncRunner(orderWorkflow, options).run(happyOrder, { executionId: "r" });
      if (kind === "async") await new AsyncRunner(orderWorkflow, options).run(happyOrder, { executionId: "r" });
      if (kind === "stream") await new StreamRunner(orderWorkflow, options).run(happyOrder, { executionId: "r" });
      expect(await store.events("r")).toEqual(events.map((e) => e.toStored()));
      traces.push(trace(events));
    }
    expect(traces[1]).toEqual(traces[0]!);
    expect(traces[2]).toEqual(traces[0]!);
  });
});

describe("WorkflowEvent", () => {
  const event = new WorkflowEvent(
    "step.completed",
    { executionId: "e-1", stepId: "s", stepType: "call", output: { n: 1 } },
    "2026-01-01T00:00:00.000Z",
    7,
  );

  test("toSSE is an id line, an event line, one data line and a blank line", () => {
    expect(event.toSSE()).toBe(
      'id: e-1:7\nevent: step.completed\ndata: {"type":"step.completed","data":{"executionId":"e-1","stepId":"s","stepType":"call","output":{"n":1}},"timestamp":"2026-01-01T00:00:00.000Z","seq":7}\n\n',
    );
  });

  test("json() is JSON.stringify of the event, made once, for events with and without a seq and with awkward data", () => {
    const awkward = { executionId: "e-1", output: { "2": "two", "1": ["a\nb", -0, 1e21, null, "\u2028"], z: { "": true } } };
    for (
      const made of [
        event,
        new WorkflowEvent("step.completed", awkward, "2026-01-01T00:00:00.000Z", 9),
        new WorkflowEvent("workflow.resumed", awkward, new Date(0)),
      ]
    ) {
      expect(made.json()).toBe(JSON.stringify(made));
      expect(made.json()).toBe(made.json());
    }
  });

  test("toSSE has no id line when the event has no seq", () => {
    const bare = new WorkflowEvent("workflow.resumed", { executionId: "e-1" }, new Date("2026-01-01T00:00:00Z"));
    expect(bare.toSSE()).toBe(
      'event: workflow.resumed\ndata: {"type":"workflow.resumed","data":{"executionId":"e-1"},"timestamp":"2026-01-01T00:00:00.000Z"}\n\n',
    );
  });

  test("toJSON gives type, data, an ISO timestamp and seq", () => {
    const fromDate = new WorkflowEvent("workflow.started", { executionId: "e-1" }, new Date(Date.UTC(2026, 0, 2, 3, 4, 5, 6)), 1);
    expect(fromDate.toJSON()).toEqual({
      type: "workflow.started",
      data: { executionId: "e-1" },
      timestamp: "2026-01-02T03:04:05.006Z",
      seq: 1,
    });
  });

  test("values holding \\n, \\r\\n, \\r or U+2028 stay inside one data line and parse back unchanged", () => {
    const tricky = { text: "a\nb\r\nc\rd\u2028e", fake: "\n\nevent: workflow.completed\ndata: {}\n\n", key: { "x\ny": "id: evil" } };
    const sse = new WorkflowEvent("step.completed", { executionId: "e-1", output: tricky }, "2026-01-01T00:00:00.000Z", 3).toSSE();
    expect(sse.split(/\r\n|\r|\n/)).toHaveLength(5); // id, event, data, "", "" (the final blank line)
    const frames = messagesOf(sse);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.id).toBe("e-1:3");
    expect(frames[0]!.event).toBe("step.completed");
    expect(JSON.parse(frames[0]!.data!).data.output).toEqual(tricky);
  });

  test("an unknown type is refused", () => {
    expect(() => new WorkflowEvent("step.done\ndata: x" as "step.completed", { executionId: "e" }, new Date())).toThrow(
      "Unknown event type",
    );
  });

  test("an execution id with a line break is refused, so the id line cannot be split", () => {
    expect(() => new WorkflowEvent("step.completed", { executionId: "e\nevent: x" }, new Date(), 1)).toThrow(
      'must not contain "\\r" or "\\n"',
    );
  });

  test("data is a frozen copy of what it was made from", () => {
    const output = { n: 1 };
    const made = new WorkflowEvent("step.completed", { executionId: "e", output }, new Date(), 1);
    output.n = 2;
    expect(made.data.output).toEqual({ n: 1 });
    expect(Object.isFrozen(made.data.output)).toBe(true);
  });
});
