// Shared by tests/routes.*.test.ts: the order-fulfillment app on a MemoryStore, deterministic time and ids.
import { createOrderServices } from "../../examples/order-fulfillment/services.ts";
import orderYaml from "../../examples/order-fulfillment/workflow.yaml" with { type: "text" };
import { loadWorkflow } from "../../src/definition/load.ts";
import type { WorkflowDefinition } from "../../src/definition/workflow.ts";
import { StoreError } from "../../src/errors.ts";
import { MemoryStore } from "../../src/store/memory.ts";
import type { Store } from "../../src/store/store.ts";
import type { Services } from "../../src/types.ts";
import { type AppOptions, createApp } from "../../routes/app.ts";

export const orderWorkflow: WorkflowDefinition = loadWorkflow(orderYaml);

export const greetingWorkflow: WorkflowDefinition = loadWorkflow({
  id: "greeting",
  name: "Greeting",
  inputs: { name: { type: "string" } },
  steps: [
    { id: "start", type: "start", next: "wait" },
    { id: "wait", type: "halt", reason: "Say hello?", next: "finish" },
    { id: "finish", type: "end", result: { greeting: "Hello $input.name", response: "$response" } },
  ],
});

/** Waits for its order to ship (wait_for_event with a match); ends with the event's payload. */
export const shippingWorkflow: WorkflowDefinition = loadWorkflow({
  id: "shipping",
  name: "Wait for the parcel",
  steps: [
    { id: "start", type: "start", next: "wait" },
    {
      id: "wait",
      type: "wait_for_event",
      event: "order:shipped",
      match: { field: "event.order", value: "$input.order" },
      output: "parcel",
      next: "done",
    },
    { id: "done", type: "end", result: "$parcel.payload" },
  ],
});

/** A clock that moves one second per reading, so every execution gets its own createdAt. */
export function tickingClock(start = "2026-01-01T00:00:00.000Z") {
  let now = Date.parse(start);
  return () => new Date(now += 1000);
}

export function sequentialIds(prefix = "id") {
  let n = 0;
  return () => `${prefix}-${++n}`;
}

export const smallOrder = {
  order_id: "A-1",
  customer_id: "C-1",
  items: [{ sku: "WIDGET", quantity: 2, price: 10 }],
  payment: { card: "4242424242424242" },
};

/** Over 1000 in total: halts at `manager_approval`. */
export const largeOrder = {
  order_id: "B-1",
  customer_id: "C-2",
  items: [{ sku: "LAPTOP", quantity: 1, price: 1500 }],
  payment: { card: "4242424242424242" },
};

export const TOKEN = "s3cret-token";

export function setup(overrides: Partial<AppOptions> = {}) {
  const store = new MemoryStore();
  const orders = createOrderServices();
  const options: AppOptions = {
    store,
    workflows: [orderWorkflow, greetingWorkflow],
    services: orders.services as unknown as Services,
    clock: tickingClock(),
    ids: sequentialIds(),
    version: "9.9.9-test",
    ...overrides,
  };
  const app = createApp(options);
  return { app, store: options.store, orders, options };
}

type App = ReturnType<typeof createApp>;

/** A JSON request; `body` is serialized unless it is already a string. */
export function send(app: App, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  return app.request(path, {
    method,
    headers: body === undefined ? headers : { "content-type": "application/json", ...headers },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
}

export function start(app: App, input: unknown, extra: Record<string, unknown> = {}, workflowId = "order_fulfillment") {
  return send(app, "POST", `/workflows/${workflowId}/executions`, { input, ...extra });
}

/** A store whose every method fails as a store that cannot be reached does. */
export function unreachableStore(): Store {
  return new Proxy({} as Store, {
    get: (_target, key) => () => Promise.reject(new StoreError(`Upstash unreachable (${String(key)})`)),
  });
}

/** A problem+json answer: its status, the parsed body, and whether the media type is right. */
export async function problemOf(response: Response) {
  const body = await response.json() as {
    type: string;
    title: string;
    status: number;
    detail: string;
    errors?: { path: string; message: string }[];
  };
  return { status: response.status, contentType: response.headers.get("content-type"), body };
}
