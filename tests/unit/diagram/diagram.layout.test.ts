import { describe, expect, test } from "bun:test";
import { type GraphEdge, workflowGraph } from "../../../src/diagram/graph.ts";
import { layoutWorkflowGraph } from "../../../src/diagram/layout.ts";
import { loadWorkflow } from "../../../src/definition/load.ts";
import { batch, fanOut, order } from "../../support/diagram.ts";

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

describe("layoutWorkflowGraph", () => {
  const overlap = (a: { x: number; y: number; width: number; height: number }, b: typeof a) =>
    a.x < b.x + b.width && b.x < a.x + a.width && a.y < b.y + b.height && b.y < a.y + a.height;

  test("no two top-level steps overlap", () => {
    const layout = layoutWorkflowGraph(workflowGraph(order));
    const top = layout.nodes.filter((n) => n.node.parent === null);
    for (const a of top) {
      for (const b of top) if (a !== b) expect(`${a.node.id}/${b.node.id} ${overlap(a, b)}`).toBe(`${a.node.id}/${b.node.id} false`);
    }
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
