import type { ServiceContext } from "../../mod.ts";

/** A line of an order: a price per unit in currency units (e.g. 19.99). */
export interface OrderItem {
  sku: string;
  quantity: number;
  price: number;
}

/** A card number that is always declined (as in card processors' test numbers). */
export const DECLINED_CARD = "4000000000000002";

export const TAX_RATE = 0.08;
export const STANDARD_SHIPPING = 5.99;
export const EXPEDITED_SHIPPING = 14.99;

export class PaymentDeclinedError extends Error {
  override name = "PaymentDeclinedError";
}

const cents = (amount: number) => Math.round(amount * 100);
const units = (c: number) => c / 100;

/**
 * Deterministic services of the order-fulfillment example. Each call is logged in `calls`; charges are
 * deduplicated by the engine's idempotency key, as a real payment provider would.
 */
export function createOrderServices(options: { stock?: Record<string, number> } = {}) {
  const stock: Record<string, number> = { ...(options.stock ?? { WIDGET: 100, GADGET: 50, GIZMO: 5, LAPTOP: 20 }) };
  const calls: { service: string; idempotencyKey: string; attempt: number }[] = [];
  const charges = new Map<string, { id: string; amount: number }>();
  const log = (service: string, context: ServiceContext) =>
    calls.push({ service, idempotencyKey: context.idempotencyKey, attempt: context.attempt });

  const services = {
    OrderService: {
      validate_order(input: unknown, context: ServiceContext) {
        log("OrderService.validate_order", context);
        const { order_id, items } = input as { order_id?: string; items?: OrderItem[] };
        if (!order_id) return { valid: false, reason: "order_id is empty" };
        if (!Array.isArray(items) || items.length === 0) return { valid: false, reason: "the order has no items" };
        for (const [i, item] of items.entries()) {
          if (!item || typeof item.sku !== "string" || !item.sku) return { valid: false, reason: `item ${i} has no sku` };
          if (!Number.isInteger(item.quantity) || item.quantity <= 0) {
            return { valid: false, reason: `item ${i} (${item.sku}) has an invalid quantity` };
          }
          if (typeof item.price !== "number" || item.price < 0) {
            return { valid: false, reason: `item ${i} (${item.sku}) has an invalid price` };
          }
        }
        return { valid: true, reason: null };
      },
    },
    InventoryService: {
      check_availability(input: unknown, context: ServiceContext) {
        log("InventoryService.check_availability", context);
        const items = (input as { items: OrderItem[] }).items;
        const missing = items.filter((item) => (stock[item.sku] ?? 0) < item.quantity).map((item) => item.sku);
        return { available: missing.length === 0, missing };
      },
      reserve(input: unknown, context: ServiceContext) {
        log("InventoryService.reserve", context);
        const { order_id, items } = input as { order_id: string; items: OrderItem[] };
        for (const item of items) stock[item.sku] = (stock[item.sku] ?? 0) - item.quantity;
        return { reservation_id: `RES-${order_id}` };
      },
    },
    PricingService: {
      calculate_totals(input: unknown, context: ServiceContext) {
        log("PricingService.calculate_totals", context);
        const { items, expedited } = input as { items: OrderItem[]; expedited: boolean };
        const subtotal = items.reduce((sum, item) => sum + cents(item.price) * item.quantity, 0);
        const tax = Math.round(subtotal * TAX_RATE);
        const shipping = cents(expedited ? EXPEDITED_SHIPPING : STANDARD_SHIPPING);
        return { subtotal: units(subtotal), tax: units(tax), shipping: units(shipping), total: units(subtotal + tax + shipping) };
      },
    },
    PaymentService: {
      charge(input: unknown, context: ServiceContext) {
        log("PaymentService.charge", context);
        const { order_id, amount, payment } = input as { order_id: string; amount: number; payment: { card?: string } };
        if (payment?.card === DECLINED_CARD) throw new PaymentDeclinedError(`Card declined for order ${order_id}`);
        const existing = charges.get(context.idempotencyKey);
        if (existing) return existing;
        const charge = { id: `PAY-${order_id}`, amount };
        charges.set(context.idempotencyKey, charge);
        return charge;
      },
    },
    ShippingService: {
      create_shipment(input: unknown, context: ServiceContext) {
        log("ShippingService.create_shipment", context);
        const { order_id, expedited } = input as { order_id: string; expedited: boolean };
        return { tracking_number: `TRK-${order_id}`, carrier: expedited ? "express" : "ground" };
      },
    },
  };
  return { services, calls, charges, stock };
}
