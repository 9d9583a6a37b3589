import { expect, test } from "bun:test";
import { exampleSources, loadExamples } from "../../../examples/index.ts";
import { createCatalogServices } from "../../../examples/batch-pricing/services.ts";
import { createProfileServices } from "../../../examples/fan-out/services.ts";
import { loadWorkflow, MemoryStore, SyncRunner } from "../../../mod.ts";
import { manualClock } from "../../support/engine.ts";

test("greeting interpolates inputs and applies the default greeting", async () => {
  const runner = new SyncRunner(loadWorkflow(exampleSources.greeting), { store: new MemoryStore(), clock: manualClock() });
  expect((await runner.run({ name: "Ada" })).output).toEqual({ message: "Hello, Ada!" });
  expect((await runner.run({ name: "Ada", greeting: "Bonjour" })).output).toEqual({ message: "Bonjour, Ada!" });
});

test("batch pricing loops over the items and transforms the quotes", async () => {
  const catalog = createCatalogServices();
  const runner = new SyncRunner(loadWorkflow(exampleSources.batch_pricing), { store: new MemoryStore(), services: catalog.services });
  const result = await runner.run({
    items: [{ sku: "GADGET", quantity: 1 }, { sku: "GIZMO", quantity: 3 }, { sku: "WIDGET", quantity: 2 }],
  });
  expect(result.output).toEqual({
    lines: [
      { sku: "WIDGET", quantity: 2, in_stock: true, line_total: 39.98 },
      { sku: "GADGET", quantity: 1, in_stock: true, line_total: 49.5 },
    ],
    skus: ["WIDGET", "GADGET"],
    total: 89.48,
  });
  expect(catalog.quoted).toEqual(["GADGET", "GIZMO", "WIDGET"]);
});

test("the fan-out merges three concurrent lookups", async () => {
  const runner = new SyncRunner(loadWorkflow(exampleSources.customer_profile), {
    store: new MemoryStore(),
    services: createProfileServices(() => Promise.resolve()),
  });
  const result = await runner.run({ customer_id: "C-9" });
  expect(result.output).toEqual({
    name: "Customer C-9",
    recent_orders: 3,
    points: 120,
    lookups: [{ name: "Customer C-9" }, { count: 3 }, { points: 120 }],
  });
});

test("every example loads and validates", () => {
  const { workflows, services } = loadExamples();
  expect(workflows.map((w) => w.id)).toEqual(["order_fulfillment", "greeting", "batch_pricing", "customer_profile"]);
  expect(Object.keys(services).sort()).toEqual([
    "Accounts",
    "Catalog",
    "InventoryService",
    "Loyalty",
    "OrderService",
    "Orders",
    "PaymentService",
    "PricingService",
    "ShippingService",
  ]);
});
