// Flow-control keys in definitions: what lint refuses, and what a valid definition keeps (issue 20).
import { describe, expect, test } from "bun:test";
import { loadWorkflow, validateWorkflow } from "../../../src/definition/load.ts";
import { workflowGraph } from "../../../src/diagram/graph.ts";

function source(flow: string, extraSteps = "", inputs = ""): string {
  return `id: flowed
name: Flowed
${inputs}${flow}
steps:
  - id: start
    type: start
    next: work
  - id: work
    type: call
    service: svc
${extraSteps}`;
}

function issues(text: string): { path: string; message: string }[] {
  return validateWorkflow(text).issues.map(({ path, message }) => ({ path, message }));
}

describe("flow-control lint", () => {
  test("a valid definition keeps concurrency, rate, priority and debounce (and they change its hash)", () => {
    const plain = loadWorkflow(source(""));
    const flowed = loadWorkflow(source(
      "concurrency: { limit: 5, key: $input.customer_id }\nrate: { limit: 100, period: 60 }\npriority: $input.urgency\ndebounce: { period: 2, key: $input.customer_id, max: 30 }",
    ));
    expect(flowed.concurrency).toEqual({ limit: 5, key: "$input.customer_id" });
    expect(flowed.rate).toEqual({ limit: 100, period: 60 });
    expect(flowed.priority).toBe("$input.urgency");
    expect(flowed.debounce).toEqual({ period: 2, key: "$input.customer_id", max: 30 });
    expect(flowed.hash).not.toBe(plain.hash);
  });

  test("a limit below 1 is refused", () => {
    expect(issues(source("concurrency: { limit: 0 }"))).toEqual([{
      path: "concurrency.limit",
      message: expect.stringContaining("at least 1"),
    }]);
  });

  test("a period of 0 is refused", () => {
    expect(issues(source("rate: { limit: 10, period: 0 }"))).toEqual([{
      path: "rate.period",
      message: expect.stringContaining("greater than 0"),
    }]);
  });

  test("a key that is not a reference is refused", () => {
    expect(issues(source("concurrency: { limit: 2, key: customer_id }"))).toEqual([
      { path: "concurrency.key", message: expect.stringContaining("reference to the run's input") },
    ]);
  });

  test("a key naming no declared input is refused", () => {
    const text = source("concurrency: { limit: 2, key: $input.customer }", "", "inputs:\n  customer_id: { type: string }\n");
    expect(issues(text)).toEqual([{
      path: "concurrency.key",
      message: '$input.customer names no declared input ("customer" is not in inputs)',
    }]);
  });

  test("a debounce on a workflow that halts is refused", () => {
    const halting = "    next: pause\n  - id: pause\n    type: halt\n    reason: check";
    expect(issues(source("debounce: { period: 5 }", halting))).toEqual([
      { path: "debounce", message: expect.stringContaining('a debounced workflow cannot halt: step "pause" is a halt step') },
    ]);
  });

  test("a step's rate is checked like the top-level one", () => {
    expect(issues(source("", "    rate: { limit: 0, period: 1 }"))).toEqual([
      { path: "steps[1].rate.limit", message: expect.stringContaining("at least 1") },
    ]);
  });
});

describe("flow control in the diagram", () => {
  test("the workflow's limits are drawn on its first step, a step's rate on that step", () => {
    const workflow = loadWorkflow(source(
      "concurrency: { limit: 5, key: $input.customer_id }\nrate: { limit: 100, period: 60 }",
      "    rate: { limit: 10, period: 1 }",
    ));
    const nodes = workflowGraph(workflow).nodes;
    expect(nodes.find((n) => n.id === "start")!.detail).toBe("start · ≤ 5 running per $input.customer_id · ≤ 100 per 60 s");
    expect(nodes.find((n) => n.id === "work")!.detail).toBe("svc · ≤ 10 per 1 s");
  });
});
