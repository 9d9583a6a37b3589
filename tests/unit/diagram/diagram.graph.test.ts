import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { type WorkflowGraph, workflowGraph } from "../../../src/diagram/graph.ts";
import { loadWorkflow } from "../../../src/definition/load.ts";
import { StepRegistry } from "../../../src/steps/registry.ts";
import { proceed, type StepDefinition } from "../../../src/steps/step.ts";
import { allIds, batch, fanOut, order } from "../../support/diagram.ts";

const graphOf = (steps: StepDefinition[]) => workflowGraph({ steps });
const edge = (graph: WorkflowGraph, from: string, to: string) => graph.edges.filter((e) => e.from === from && e.to === to);
const kinds = (graph: WorkflowGraph, from: string, to: string) => edge(graph, from, to).map((e) => e.kind);

describe("workflowGraph", () => {
  test("every step id is a node, nested steps included", () => {
    for (const workflow of [order, batch, fanOut]) {
      const ids = workflowGraph(workflow).nodes.map((n) => n.id);
      for (const id of allIds(workflow.steps)) expect(ids).toContain(id);
    }
  });

  test("a node carries its step type and the loop or parallel step holding it", () => {
    const nodes = workflowGraph(batch).nodes;
    expect(nodes.find((n) => n.id === "quote")).toEqual({
      id: "quote",
      type: "call",
      detail: "Catalog.quote",
      parent: "price_each",
      body: "do",
    });
    expect(nodes.find((n) => n.id === "price_each")).toMatchObject({ type: "loop", detail: "loop over $input.items", parent: null });
  });

  test("next is a `next` edge", () => {
    expect(kinds(workflowGraph(order), "start", "init")).toEqual(["next"]);
  });

  test("router routes are `route` edges labelled with their condition, the default a `default` edge", () => {
    const graph = workflowGraph(order);
    expect(edge(graph, "route_total", "manager_approval")).toEqual([{
      from: "route_total",
      to: "manager_approval",
      kind: "route",
      label: "totals.total gt 1000",
    }]);
    expect(edge(graph, "route_total", "charge_payment")).toEqual([{
      from: "route_total",
      to: "charge_payment",
      kind: "default",
      label: "default",
    }]);
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
    expect(edge(graph, "manager_approval", "charge_payment")).toEqual([{
      from: "manager_approval",
      to: "charge_payment",
      kind: "next",
      label: "approved",
    }]);
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
      {
        id: "spin",
        type: "loop",
        while: { field: "go", op: "truthy" },
        do: [{ id: "tick", type: "assign", set: { a: 1 } }],
        on_exhausted: "gave_up",
        next: "done",
      },
      { id: "gave_up", type: "end" },
      { id: "done", type: "end" },
    ]);
    expect(edge(graph, "spin", "gave_up")).toEqual([{ from: "spin", to: "gave_up", kind: "on_exhausted", label: "exhausted" }]);
  });

  test("a loop has a `body` edge to the first step of its body, whose steps follow each other", () => {
    const graph = graphOf([
      {
        id: "each",
        type: "loop",
        over: "$input.xs",
        do: [{ id: "a", type: "assign", set: { x: 1 } }, { id: "b", type: "assign", set: { y: 1 } }],
        next: "done",
      },
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
    const graph = workflowGraph({
      steps: [{ id: "n", type: "notify.slack", channel: "x", next: "done", on_error: "done" }, { id: "done", type: "end" }],
    }, { registry });
    expect(kinds(graph, "n", "done")).toEqual(["next", "on_error"]);
  });
});

describe("events in the graph", () => {
  const waiting = loadWorkflow({
    id: "waiting",
    name: "Waiting",
    triggers: [{ cron: "0 9 * * mon", timezone: "Europe/Paris" }, { event: "user.signed_up" }],
    steps: [
      { id: "start", type: "start", next: "wait" },
      {
        id: "wait",
        type: "wait_for_event",
        event: ["a.b", "c:d"],
        match: { field: "event.id", value: 1 },
        timeout: 60,
        on_timeout: "late",
        next: "done",
      },
      { id: "done", type: "end" },
      { id: "late", type: "end" },
    ],
  });

  test("a wait_for_event node names its events and match; its edges are event and timeout", () => {
    const graph = workflowGraph(waiting);
    expect(graph.nodes.find((n) => n.id === "wait")!.detail).toBe("wait for a.b | c:d where event.id eq 1");
    expect(graph.edges.filter((e) => e.from === "wait").map((e) => [e.to, e.label])).toEqual([["done", "event"], ["late", "timeout"]]);
  });

  test("the triggers are shown on the first step", () => {
    expect(workflowGraph(waiting).nodes[0]!.detail).toBe("start · cron 0 9 * * mon (Europe/Paris) · on event user.signed_up");
  });
});
