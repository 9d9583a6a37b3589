import { describe, expect, test } from "bun:test";
import { renderWorkflowSvg } from "../../../src/diagram/svg.ts";
import { allIds, batch, httpCall, order } from "../../support/diagram.ts";

describe("renderWorkflowSvg", () => {
  test("is one SVG document with a node per step", () => {
    const svg = renderWorkflowSvg(order);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    for (const id of allIds(order.steps)) expect(svg).toContain(`data-step="${id}"`);
  });

  test("draws on_error edges dashed", () => {
    const svg = renderWorkflowSvg(order);
    const line = svg.split("\n").find((l) => l.includes('data-from="charge_payment" data-to="payment_failed"'))!;
    expect(line).toContain('data-kind="on_error"');
    expect(line).toContain("stroke-dasharray");
  });

  test("labels routes with their condition", () => {
    expect(renderWorkflowSvg(order)).toContain(">totals.total gt 1000</text>");
  });

  test("escapes every text taken from the definition", () => {
    const svg = renderWorkflowSvg({
      id: "x",
      name: `<b>"name"</b> & 'co'`,
      steps: [
        {
          id: "r",
          type: "router",
          routes: [{ when: { field: "a", op: "eq", value: "</text><script>alert(1)</script>" }, then: "e" }],
          default: "e",
        },
        { id: "c", type: "call", service: "<img src=x onerror=alert(1)>", method: "m", next: "e" },
        { id: "e", type: "end" },
      ],
    });
    expect(svg).not.toContain("<script");
    expect(svg).not.toContain("<img");
    expect(svg).not.toContain("<b>");
    expect(svg).toContain("&lt;/text&gt;&lt;script&gt;alert(1)&lt;/scri");
    expect(svg).toContain("&lt;b&gt;&quot;name&quot;&lt;/b&gt; &amp; &#39;co&#39;");
  });

  test("replaces control characters, which XML does not allow", () => {
    const svg = renderWorkflowSvg({ steps: [{ id: "c", type: "call", service: "bell\u0007", next: "__FINISHED__" }] });
    expect(svg).not.toContain("\u0007");
    expect(svg).toContain("bell\uFFFD");
  });

  test("is the same text for the same definition, whatever its key order", () => {
    const reordered = JSON.parse(
      JSON.stringify(order),
      (_key, value) =>
        value && typeof value === "object" && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).reverse()) : value,
    );
    expect(renderWorkflowSvg(order)).toBe(renderWorkflowSvg(order));
    expect(renderWorkflowSvg(reordered)).toBe(renderWorkflowSvg(order));
  });

  test("highlights the visited steps, the edges between them and rings the last one", () => {
    const svg = renderWorkflowSvg(order, { highlight: ["start", "init", "validate", "route_validation", "invalid_order"] });
    const node = (id: string) => svg.split("\n").find((l) => l.includes(`data-step="${id}"`))!;
    const path = (from: string, to: string) =>
      svg.split("\n").find((l) => l.startsWith("<path") && l.includes(`data-from="${from}" data-to="${to}"`))!;
    expect(node("validate")).toContain("dw-visited");
    expect(node("check_inventory")).not.toContain("dw-visited");
    expect(node("invalid_order")).toContain("dw-current");
    expect(node("validate")).not.toContain("dw-current");
    expect(path("route_validation", "invalid_order")).toContain("dw-taken");
    expect(path("route_validation", "check_inventory")).not.toContain("dw-taken");
  });

  test("highlights loop body steps given as `<loopId>:<bodyId>`", () => {
    const svg = renderWorkflowSvg(batch, { highlight: ["start", "price_each:quote", "price_each", "in_stock_only"] });
    expect(svg.split("\n").find((l) => l.includes('data-step="quote"'))).toContain("dw-visited");
  });

  test("ignores highlighted ids that are not steps", () => {
    expect(renderWorkflowSvg(order, { highlight: ["nope", "<x>"] })).toBe(renderWorkflowSvg(order));
  });

  test("uses no style attribute or element (a strict CSP would drop them)", () => {
    const svg = renderWorkflowSvg(batch, { highlight: ["start"] });
    expect(svg).not.toMatch(/\sstyle=|<style/);
  });
});

test("an http step has its own colours", () => {
  const svg = renderWorkflowSvg(httpCall);
  expect(svg).toContain("#0e7490");
  expect(svg).toContain("POST https://api.example.com/orders");
});
