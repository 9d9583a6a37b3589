import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { exampleSources } from "../../../examples/index.ts";
import { quote, workflowDiagram } from "../../../src/diagram/mermaid.ts";
import { workflowGraph } from "../../../src/diagram/graph.ts";
import { loadWorkflow } from "../../../src/definition/load.ts";
import { BUILT_IN_STEP_TYPES, StepRegistry } from "../../../src/steps/registry.ts";
import { proceed, type StepDefinition, type StepType } from "../../../src/steps/step.ts";
import { httpCall } from "../../support/diagram.ts";

const diagram = (steps: StepDefinition[]) => workflowDiagram({ steps });
const lines = (text: string) => text.split("\n").map((line) => line.trim());

describe("workflowDiagram", () => {
  test("starts with a top-down flowchart header", () => {
    expect(diagram([{ id: "a", type: "start" }]).startsWith("flowchart TD\n")).toBe(true);
  });

  test("draws each step type with its own shape", () => {
    const types = ["start", "end", "call", "assign", "transform", "router", "loop", "parallel", "halt", "approval", "workflow"];
    const text = diagram(
      types.map((type) => ({ id: `s_${type}`, type, ...(type === "loop" ? { do: [] } : type === "parallel" ? { branches: [] } : {}) })),
    );
    const shapes = types.map((type) => {
      const line = lines(text).find((l) => l.startsWith(`step_s_${type}`))!;
      return line.slice(`step_s_${type}`.length).replace(/".*"/, "");
    });
    expect(new Set(shapes).size).toBe(types.length);
  });

  test("draws a custom step type as a rounded box", () => {
    expect(diagram([{ id: "x", type: "my.step" }])).toContain(`step_x(${quote("x\nmy.step")})`);
  });

  test("draws next as a plain arrow", () => {
    expect(lines(diagram([{ id: "a", type: "start", next: "b" }, { id: "b", type: "end" }]))).toContain("step_a --> step_b");
  });

  test("labels router routes with their condition and the default with `default`", () => {
    const text = diagram([
      { id: "r", type: "router", routes: [{ when: { field: "total", op: "gt", value: 1000 }, then: "big" }], default: "small" },
      { id: "big", type: "end" },
      { id: "small", type: "end" },
    ]);
    expect(lines(text)).toContain(`step_r -->|${quote("total gt 1000")}| step_big`);
    expect(lines(text)).toContain(`step_r -->|${quote("default")}| step_small`);
  });

  test("draws on_error as a dotted, labelled arrow", () => {
    const text = diagram([{ id: "c", type: "call", service: "S", next: "e", on_error: "f" }, { id: "e", type: "end" }, {
      id: "f",
      type: "end",
    }]);
    expect(lines(text)).toContain(`step_c -.->|${quote("on_error")}| step_f`);
  });

  test("labels approval outcomes: approved, rejected, timeout", () => {
    const text = lines(diagram([
      { id: "ok", type: "approval", prompt: "?", next: "yes", on_reject: "no", on_timeout: "late" },
      { id: "yes", type: "end" },
      { id: "no", type: "end" },
      { id: "late", type: "end" },
    ]));
    expect(text).toContain(`step_ok -->|${quote("approved")}| step_yes`);
    expect(text).toContain(`step_ok -->|${quote("rejected")}| step_no`);
    expect(text).toContain(`step_ok -->|${quote("timeout")}| step_late`);
  });

  test("draws a halt's resume_step as its resume edge", () => {
    const text = lines(
      diagram([{ id: "h", type: "halt", resume_step: "r", next: "n" }, { id: "r", type: "end" }, { id: "n", type: "end" }]),
    );
    expect(text).toContain(`step_h -->|${quote("resume")}| step_r`);
    expect(text).not.toContain("step_h --> step_n");
  });

  test("draws a loop body as a subgraph entered from the loop", () => {
    const text = lines(diagram([
      {
        id: "each",
        type: "loop",
        over: "$input.items",
        do: [{ id: "one", type: "call", service: "S", next: "two" }, { id: "two", type: "assign", set: {} }],
        next: "done",
        on_exhausted: "done",
      },
      { id: "done", type: "end" },
    ]));
    const open = text.indexOf(`subgraph sub_each__do [${quote("each: do")}]`);
    const close = text.indexOf("end", open);
    expect(open).toBeGreaterThan(-1);
    expect(text.slice(open, close).some((l) => l.startsWith("step_one["))).toBe(true);
    expect(text).toContain(`step_each -->|${quote("do")}| step_one`);
    expect(text).toContain("step_one --> step_two");
    expect(text).toContain(`step_each -->|${quote("exhausted")}| step_done`);
  });

  test("draws parallel branches as a subgraph with one edge per branch", () => {
    const text = lines(diagram([
      {
        id: "fan",
        type: "parallel",
        branches: [{ id: "a", type: "call", service: "A" }, { id: "b", type: "call", service: "B" }],
        next: "z",
      },
      { id: "z", type: "end" },
    ]));
    expect(text).toContain(`subgraph sub_fan__branches [${quote("fan: branches")}]`);
    expect(text).toContain(`step_fan -->|${quote("branch 1")}| step_a`);
    expect(text).toContain(`step_fan -->|${quote("branch 2")}| step_b`);
  });

  test("points __FINISHED__ and a top-level step without next to one finished node", () => {
    const text = lines(diagram([{ id: "a", type: "call", service: "S", on_error: "__FINISHED__" }]));
    expect(text).toContain("step_a --> finished");
    expect(text).toContain(`step_a -.->|${quote("on_error")}| finished`);
    expect(text.filter((l) => l.startsWith("finished(("))).toHaveLength(1);
  });

  test("never uses a step id as a bare node id, so Mermaid keywords are safe", () => {
    const text = lines(diagram([{ id: "end", type: "start", next: "graph" }, { id: "graph", type: "end" }]));
    expect(text).toContain("step_end --> step_graph");
    expect(text.some((l) => /^end\b.*-->/.test(l))).toBe(false);
  });

  test("gives ids that are not plain word characters a generated node id", () => {
    const text = lines(diagram([{ id: "check-stock", type: "start", next: "b" }, { id: "b", type: "end" }]));
    expect(text).toContain(`node1([${quote("check-stock\nstart")}])`);
    expect(text).toContain("node1 --> step_b");
  });

  test("escapes quotes, pipes, brackets, angle brackets and newlines in labels", () => {
    const label = quote('a "b" | [c] <script> %% d\ne #');
    expect(label).toBe('"a #34;b#34; #124; #91;c#93; #60;script#62; #37;#37; d<br/>e #35;"');
  });

  test("draws the nodes and edges of workflowGraph, one line each", () => {
    for (const source of Object.values(exampleSources)) {
      const workflow = loadWorkflow(source);
      const graph = workflowGraph(workflow);
      const text = lines(workflowDiagram(workflow));
      expect(text.filter((l) => / -\.?->/.test(l))).toHaveLength(graph.edges.length);
      expect(text.filter((l) => /^(step_|node\d|finished\()/.test(l) && !/ -\.?->/.test(l))).toHaveLength(graph.nodes.length);
    }
  });

  test("draws the targets and bodies of a step type from the given registry", () => {
    const escalate = {
      type: "escalate",
      schema: z.any(),
      execute: () => proceed(),
      targets: (step: StepDefinition) => [{ key: "on_escalate", target: step.on_escalate as string }],
      bodies: (step: StepDefinition) => [{ key: "steps", steps: step.steps as StepDefinition[], locals: [] }],
    } as StepType;
    const registry = new StepRegistry([...BUILT_IN_STEP_TYPES, escalate]);
    const text = lines(workflowDiagram({
      steps: [{ id: "x", type: "escalate", on_escalate: "boss", steps: [{ id: "inner", type: "assign", set: {} }], next: "boss" }, {
        id: "boss",
        type: "end",
      }],
    }, { registry }));
    expect(text).toContain(`step_x -->|${quote("on_escalate")}| step_boss`);
    expect(text).toContain(`subgraph sub_x__steps [${quote("x: steps")}]`);
    expect(text).toContain(`step_x -->|${quote("steps")}| step_inner`);
  });

  test("cuts long conditions in edge labels", () => {
    const text = diagram([{ id: "r", type: "router", routes: [{ when: { field: "f", op: "in", value: "x".repeat(500) }, then: "e" }] }, {
      id: "e",
      type: "end",
    }]);
    const edge = lines(text).find((l) => l.startsWith("step_r -->"))!;
    expect(edge.length).toBeLessThan(200);
    expect(edge).toContain("#8230;");
  });
});

test("a wait step is drawn with its own shape and says how long it waits", () => {
  const workflow = loadWorkflow(`
id: w
name: W
steps:
  - id: start
    type: start
    next: pause
  - id: pause
    type: wait
    seconds: 60
    next: finish
  - id: finish
    type: end
`);
  expect(workflowDiagram(workflow)).toContain('step_pause[("pause<br/>wait 60 s")]');
});

test("an http step is drawn with its own shape and says its method and URL", () => {
  expect(workflowDiagram(httpCall)).toContain('step_fetch(("fetch<br/>POST https://api.example.com/orders"))');
});
