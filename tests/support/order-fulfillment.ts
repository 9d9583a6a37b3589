import { describe, expect, test } from "bun:test";
import { exampleSources } from "../../examples/index.ts";
import { createOrderServices, DECLINED_CARD } from "../../examples/order-fulfillment/services.ts";
import { Engine, loadWorkflow, type Store, SyncRunner } from "../../mod.ts";
import { manualClock, recordingSleep, sequentialIds } from "./engine.ts";

export const orderWorkflow = loadWorkflow(exampleSources.order_fulfillment);

export const happyOrder = {
  order_id: "O-1",
  customer_id: "C-1",
  items: [
    { sku: "WIDGET", quantity: 2, price: 19.99 },
    { sku: "GADGET", quantity: 1, price: 49.5 },
  ],
  payment: { card: "4242424242424242" },
};

export const largeOrder = { ...happyOrder, order_id: "O-BIG", items: [{ sku: "LAPTOP", quantity: 1, price: 1299 }] };

/** The order-fulfillment paths, on any store: the same suite runs on MemoryStore and on Redis. */
export function orderFulfillmentSuite(name: string, makeStore: () => Store | Promise<Store>) {
  const setup = async () => {
    const store = await makeStore();
    const shop = createOrderServices();
    const options = { store, services: shop.services, clock: manualClock(), ids: sequentialIds("x"), sleep: recordingSleep() };
    return { store, shop, options, runner: new SyncRunner(orderWorkflow, options) };
  };

  describe(`order fulfillment on ${name}`, () => {
    test("happy path completes with exact totals, payment id and tracking number", async () => {
      const { runner } = await setup();
      const result = await runner.run(happyOrder, { executionId: "happy" });
      expect(result).toEqual({
        status: "completed",
        executionId: "happy",
        output: {
          order_id: "O-1",
          status: "completed",
          totals: { subtotal: 89.48, tax: 7.16, shipping: 5.99, total: 102.63 },
          payment_id: "PAY-O-1",
          tracking_number: "TRK-O-1",
          error: null,
        },
      });
    });

    test("expedited shipping costs 14.99", async () => {
      const { runner } = await setup();
      const result = await runner.run({ ...happyOrder, expedited: true });
      expect((result.output as { totals: unknown }).totals).toEqual({ subtotal: 89.48, tax: 7.16, shipping: 14.99, total: 111.63 });
    });

    test("an item out of stock ends with out_of_stock and charges nothing", async () => {
      const { runner, shop } = await setup();
      const result = await runner.run({ ...happyOrder, items: [{ sku: "GIZMO", quantity: 10, price: 9.99 }] });
      expect(result.output).toMatchObject({ status: "out_of_stock", error: 'Out of stock: ["GIZMO"]', payment_id: null });
      expect(shop.charges.size).toBe(0);
    });

    test("an invalid order ends with invalid and the reason", async () => {
      const { runner } = await setup();
      const result = await runner.run({ ...happyOrder, items: [] });
      expect(result.output).toMatchObject({ status: "invalid", error: "Invalid order: the order has no items", totals: null });
    });

    test("a large order halts for approval with the total in the prompt", async () => {
      const { runner } = await setup();
      const result = await runner.run(largeOrder, { executionId: "big" });
      expect(result.status).toBe("halted");
      expect(result.halt!.prompt).toBe("Approve order O-BIG for 1408.91?");
      expect(result.halt!.data).toMatchObject({ type: "approval", approvers: ["manager"], context: { order_id: "O-BIG", total: 1408.91 } });
    });

    test("a large order approved in a second engine instance completes", async () => {
      const { runner, options, store } = await setup();
      await runner.run(largeOrder, { executionId: "big-ok" });
      const second = new Engine(orderWorkflow, { ...options, store });
      const result = await second.resume("big-ok", { approved: true });
      expect(result.output).toMatchObject({ status: "completed", payment_id: "PAY-O-BIG", totals: { total: 1408.91 } });
    });

    test("a large order rejected ends with rejected and charges nothing", async () => {
      const { runner, shop } = await setup();
      const result = await runner.runUntilComplete(largeOrder, () => ({ approved: false }));
      expect(result.output).toMatchObject({ status: "rejected", error: "Order O-BIG was not approved", payment_id: null });
      expect(shop.charges.size).toBe(0);
    });

    test("runUntilComplete answers the approval through onHalt", async () => {
      const { runner } = await setup();
      const prompts: string[] = [];
      const result = await runner.runUntilComplete(largeOrder, (halt) => (prompts.push(halt.prompt!), { approved: true }));
      expect(prompts).toEqual(["Approve order O-BIG for 1408.91?"]);
      expect(result.output).toMatchObject({ status: "completed" });
    });

    test("a declined card ends with payment_failed after the retries", async () => {
      const { runner, shop, options } = await setup();
      const result = await runner.run({ ...happyOrder, payment: { card: DECLINED_CARD } }, { executionId: "declined" });
      expect(result.output).toMatchObject({
        status: "payment_failed",
        error: "Card declined for order O-1",
        payment_id: null,
        tracking_number: null,
      });
      expect(shop.calls.filter((c) => c.service === "PaymentService.charge").map((c) => c.attempt)).toEqual([1, 2, 3]);
      expect(options.sleep.waits).toEqual([500, 1000]);
    });
  });
}
