import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { exampleSources } from "../examples/index.ts";
import { layoutWorkflowGraph, renderWorkflowSvg, workflowGraph, type GraphEdge, type WorkflowGraph } from "../src/diagram/graph.ts";
import { loadWorkflow } from "../src/definition/load.ts";
import { StepRegistry } from "../src/steps/registry.ts";
import { proceed, type StepDefinition } from "../src/steps/step.ts";

const order = loadWorkflow(exampleSources.order_fulfillment);
const batch = loadWorkflow(exampleSources.batch_pricing);
const fanOut = loadWorkflow(exampleSources.customer_profile);

const graphOf = (steps: StepDefinition[]) => workflowGraph({ steps });
const edge = (graph: WorkflowGraph, from: string, to: string) => graph.edges.filter((e) => e.from === from && e.to === to);
const kinds = (graph: WorkflowGraph, from: string, to: string) => edge(graph, from, to).map((e) => e.kind);
const allIds = (steps: readonly StepDefinition[]): string[] =>
  steps.flatMap((s) => [s.id, ...allIds([...((s.do ?? s.branches ?? []) as StepDefinition[])])]);

/** A workflow whose router jumps back to an earlier step. */
const retryLoop = loadWorkflow({
  id: "retry",
  name: "Retry",
  steps: [
    { id: "start", type: "start", next: "bump" },
    { id: "bump", type: "assign", set: { tries: 1 }, next: "check" },
    { id: "check", type: "router", routes: [{ when: { field: "tries", op: "lt", value: 3 }, then: "bump" }], default: "done" },
    { id: "done", type: "end" },
  ],
});

describe("workflowGraph", () => {
  test("every step id is a node, nested steps included", () => {
    for (const workflow of [order, batch, fanOut]) {
      const ids = workflowGraph(workflow).nodes.map((n) => n.id);
      for (const id of allIds(workflow.steps)) expect(ids).toContain(id);
    }
  });

  test("a node carries its step type and the loop or parallel step holding it", () => {
    const nodes = workflowGraph(batch).nodes;
    expect(nodes.find((n) => n.id === "quote")).toEqual({ id: "quote", type: "call", detail: "Catalog.quote", parent: "price_each", body: "do" });
    expect(nodes.find((n) => n.id === "price_each")).toMatchObject({ type: "loop", detail: "loop over $input.items", parent: null });
  });

  test("next is a `next` edge", () => {
    expect(kinds(workflowGraph(order), "start", "init")).toEqual(["next"]);
  });

  test("router routes are `route` edges labelled with their condition, the default a `default` edge", () => {
    const graph = workflowGraph(order);
    expect(edge(graph, "route_total", "manager_approval")).toEqual([{ from: "route_total", to: "manager_approval", kind: "route", label: "totals.total gt 1000" }]);
    expect(edge(graph, "route_total", "charge_payment")).toEqual([{ from: "route_total", to: "charge_payment", kind: "default", label: "default" }]);
  });

  test("a router has no edge but its routes and default", () => {
    const graph = workflowGraph(order);
    expect(graph.edges.filter((e) => e.from === "route_total").map((e) => e.kind)).toEqual(["route", "default"]);
  });

  test("on_error is an `on_error` edge", () => {
    expect(kinds(workflowGraph(order), "charge_payment", "payment_failed")).toEqual(["on_error"]);
  });

  test("an approval leads on by `next` labelled approved, and by on_reject and on_timeout", () => {
    const graph = workflowGraph(order);
    expect(edge(graph, "manager_approval", "charge_payment")).toEqual([{ from: "manager_approval", to: "charge_payment", kind: "next", label: "approved" }]);
    expect(kinds(graph, "manager_approval", "rejected")).toEqual(["on_reject", "on_timeout"]);
  });

  test("a halt's resume_step is a `resume` edge that replaces next", () => {
    const graph = graphOf([
      { id: "wait", type: "halt", resume_step: "after", next: "other" },
      { id: "other", type: "end" },
      { id: "after", type: "end" },
    ]);
    expect(edge(graph, "wait", "after")).toEqual([{ from: "wait", to: "after", kind: "resume", label: "resume" }]);
    expect(edge(graph, "wait", "other")).toEqual([]);
  });

  test("a loop's on_exhausted is an `on_exhausted` edge", () => {
    const graph = graphOf([
      { id: "spin", type: "loop", while: { field: "go", op: "truthy" }, do: [{ id: "tick", type: "assign", set: { a: 1 } }], on_exhausted: "gave_up", next: "done" },
      { id: "gave_up", type: "end" },
      { id: "done", type: "end" },
    ]);
    expect(edge(graph, "spin", "gave_up")).toEqual([{ from: "spin", to: "gave_up", kind: "on_exhausted", label: "exhausted" }]);
  });

  test("a loop has a `body` edge to the first step of its body, whose steps follow each other", () => {
    const graph = graphOf([
      { id: "each", type: "loop", over: "$input.xs", do: [{ id: "a", type: "assign", set: { x: 1 } }, { id: "b", type: "assign", set: { y: 1 } }], next: "done" },
      { id: "done", type: "end" },
    ]);
    expect(edge(graph, "each", "a")).toEqual([{ from: "each", to: "a", kind: "body", label: "do" }]);
    expect(kinds(graph, "a", "b")).toEqual(["next"]);
    expect(graph.edges.filter((e) => e.from === "b")).toEqual([]);
  });

  test("a parallel step has one `body` edge per branch", () => {
    const graph = workflowGraph(fanOut);
    expect(graph.edges.filter((e) => e.kind === "body")).toEqual([
      { from: "gather", to: "account", kind: "body", label: "branch 1" },
      { from: "gather", to: "orders", kind: "body", label: "branch 2" },
      { from: "gather", to: "loyalty", kind: "body", label: "branch 3" },
    ]);
  });

  test("a top-level step without next leads to __FINISHED__", () => {
    const graph = graphOf([{ id: "s", type: "start" }]);
    expect(graph.edges).toEqual([{ from: "s", to: "__FINISHED__", kind: "next" }]);
    expect(graph.nodes.at(-1)).toEqual({ id: "__FINISHED__", type: "finished", detail: "end of run", parent: null });
  });

  test("__FINISHED__ inside a body ends the body, not the run: no edge", () => {
    const graph = graphOf([
      { id: "each", type: "loop", over: "$input.xs", do: [{ id: "a", type: "assign", set: { x: 1 }, next: "__FINISHED__" }], next: "done" },
      { id: "done", type: "end" },
    ]);
    expect(graph.edges.filter((e) => e.from === "a")).toEqual([]);
    expect(graph.nodes.map((n) => n.id)).not.toContain("__FINISHED__");
  });

  test("a custom step type gets its next and on_error edges", () => {
    const registry = new StepRegistry();
    registry.register("notify.slack", { schema: z.object({ channel: z.string() }), execute: () => proceed() });
    const graph = workflowGraph({ steps: [{ id: "n", type: "notify.slack", channel: "x", next: "done", on_error: "done" }, { id: "done", type: "end" }] }, { registry });
    expect(kinds(graph, "n", "done")).toEqual(["next", "on_error"]);
  });
});

describe("layoutWorkflowGraph", () => {
  const overlap = (a: { x: number; y: number; width: number; height: number }, b: typeof a) =>
    a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

  test("no two top-level steps overlap", () => {
    const layout = layoutWorkflowGraph(workflowGraph(order));
    const top = layout.nodes.filter((n) => n.node.parent === null);
    for (const a of top) for (const b of top) if (a !== b) expect(`${a.node.id}/${b.node.id} ${overlap(a, b)}`).toBe(`${a.node.id}/${b.node.id} false`);
  });

  test("a step follows the step before it downwards", () => {
    const layout = layoutWorkflowGraph(workflowGraph(order));
    const at = (id: string) => layout.nodes.find((n) => n.node.id === id)!;
    expect(at("init").y).toBeGreaterThan(at("start").y + at("start").height);
    expect(at("finish").y).toBeGreaterThan(at("mark_completed").y + at("mark_completed").height);
  });

  test("the steps of a body lie inside the box of their loop or parallel step", () => {
    for (const workflow of [batch, fanOut]) {
      const layout = layoutWorkflowGraph(workflowGraph(workflow));
      for (const inner of layout.nodes.filter((n) => n.node.parent)) {
        const box = layout.nodes.find((n) => n.node.id === inner.node.parent)!;
        expect(box.group).toBe(true);
        expect(inner.x).toBeGreaterThanOrEqual(box.x);
        expect(inner.y).toBeGreaterThan(box.y);
        expect(inner.x + inner.width).toBeLessThanOrEqual(box.x + box.width);
        expect(inner.y + inner.height).toBeLessThanOrEqual(box.y + box.height);
      }
    }
  });

  test("a jump back to an earlier step is drawn as a back edge", () => {
    const layout = layoutWorkflowGraph(workflowGraph(retryLoop));
    expect(layout.edges.find((e) => e.from === "check" && e.to === "bump")?.back).toBe(true);
    expect(layout.edges.find((e) => e.from === "bump" && e.to === "check")?.back).toBe(false);
  });

  test("two edges between the same steps are drawn as one path", () => {
    const layout = layoutWorkflowGraph(workflowGraph(order));
    const paths = layout.edges.filter((e) => e.from === "manager_approval" && e.to === "rejected");
    expect(paths.map((p) => p.edges.map((e: GraphEdge) => e.kind))).toEqual([["on_reject", "on_timeout"]]);
  });
});

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
        { id: "r", type: "router", routes: [{ when: { field: "a", op: "eq", value: "</text><script>alert(1)</script>" }, then: "e" }], default: "e" },
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
    const reordered = JSON.parse(JSON.stringify(order), (_key, value) =>
      value && typeof value === "object" && !Array.isArray(value) ? Object.fromEntries(Object.entries(value).reverse()) : value);
    expect(renderWorkflowSvg(order)).toBe(renderWorkflowSvg(order));
    expect(renderWorkflowSvg(reordered)).toBe(renderWorkflowSvg(order));
  });

  test("highlights the visited steps, the edges between them and rings the last one", () => {
    const svg = renderWorkflowSvg(order, { highlight: ["start", "init", "validate", "route_validation", "invalid_order"] });
    const node = (id: string) => svg.split("\n").find((l) => l.includes(`data-step="${id}"`))!;
    const path = (from: string, to: string) => svg.split("\n").find((l) => l.startsWith("<path") && l.includes(`data-from="${from}" data-to="${to}"`))!;
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
