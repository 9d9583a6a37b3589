/** A deterministic catalog: prices in cents, a few SKUs out of stock. */
export const CATALOG: Record<string, { price: number; inStock: boolean }> = {
  WIDGET: { price: 1999, inStock: true },
  GADGET: { price: 4950, inStock: true },
  GIZMO: { price: 999, inStock: false },
};

export function createCatalogServices() {
  const quoted: string[] = [];
  return {
    quoted,
    services: {
      Catalog: {
        quote(input: unknown) {
          const { sku, quantity } = input as { sku: string; quantity: number };
          quoted.push(sku);
          const entry = CATALOG[sku];
          if (!entry) throw new Error(`Unknown SKU ${sku}`);
          return { sku, quantity, in_stock: entry.inStock, line_total: (entry.price * quantity) / 100 };
        },
      },
    },
  };
}
