import type { StepRegistry } from "../steps/registry.ts";
import { FINISHED } from "../steps/step.ts";
import { type GraphNode, type GraphSource, short, workflowGraph } from "./graph.ts";

/** Mermaid shapes by step type (`[open, close]`); a step type not listed (a custom one) is a rounded box. */
const SHAPES: Readonly<Record<string, readonly [string, string]>> = {
  start: ["([", "])"],
  end: ["(((", ")))"],
  call: ["[", "]"],
  assign: ["[/", "/]"],
  transform: ["[\\", "\\]"],
  router: ["{", "}"],
  loop: ["{{", "}}"],
  parallel: ["[/", "\\]"],
  halt: [">", "]"],
  approval: ["[\\", "/]"],
  workflow: ["[[", "]]"],
  wait: ["[(", ")]"],
  http: ["((", "))"],
  wait_for_event: [">", "]"],
};
const CUSTOM_SHAPE = ["(", ")"] as const;

/** The node every `__FINISHED__` target (and a top-level step without `next`) points to. */
const FINISHED_NODE = "finished";

/** Longest text of a node's detail line before it is cut with `…`. */
const MAX_DETAIL = 80;

/**
 * Mermaid `flowchart TD` text of a workflow's graph (`workflowGraph`: its nodes, edges and labels): one
 * node per step, shaped by its type, with its id and detail; labelled edges, `on_error` ones dotted; loop
 * bodies and parallel branches as subgraphs beside their step's node. Node ids are derived from step ids
 * and made safe (`end`, `graph` and friends are Mermaid keywords), every label is quoted and escaped, so
 * any definition yields a well-formed chart.
 */
export function workflowDiagram(workflow: GraphSource, options: { registry?: StepRegistry } = {}): string {
  const graph = workflowGraph(workflow, options);
  const ids = new NodeIds();
  const lines: string[] = ["flowchart TD"];
  const isFinished = (node: GraphNode) => node.id === FINISHED && node.type === "finished";

  // The members of each body (keyed by parent and body key), and each step's bodies, in definition order.
  const groupOf = (parent: string, body: string) => `${parent}\u0000${body}`;
  const members = new Map<string, GraphNode[]>();
  const bodies = new Map<string, string[]>();
  for (const node of graph.nodes) {
    if (node.parent === null) continue;
    const group = groupOf(node.parent, node.body ?? "");
    if (!members.has(group)) bodies.set(node.parent, [...(bodies.get(node.parent) ?? []), node.body ?? ""]);
    members.set(group, [...(members.get(group) ?? []), node]);
  }

  // Declares every node in definition order, each body as a subgraph right after its step (so that node
  // ids follow definition order); each node and each body once, whatever the step ids.
  const drawn = new Set<GraphNode | string>();
  const declare = (nodes: readonly GraphNode[], indent: string) => {
    for (const node of nodes) {
      if (drawn.has(node)) continue;
      drawn.add(node);
      if (isFinished(node)) {
        lines.push(`${indent}${FINISHED_NODE}((${quote("finished")}))`);
        continue;
      }
      const [open, close] = SHAPES[node.type] ?? CUSTOM_SHAPE;
      lines.push(
        `${indent}${ids.of(node.id)}${open}${
          quote(`${node.id}\n${short(node.detail, MAX_DETAIL)}${node.compensation ? `\n↺ ${short(node.compensation, MAX_DETAIL)}` : ""}`)
        }${close}`,
      );
      for (const body of bodies.get(node.id) ?? []) {
        const group = groupOf(node.id, body);
        if (drawn.has(group)) continue;
        drawn.add(group);
        lines.push(`${indent}subgraph ${ids.subgraph(`${node.id}__${body}`)} [${quote(`${node.id}: ${body}`)}]`);
        lines.push(`${indent}  direction TB`);
        declare(members.get(group)!, `${indent}  `);
        lines.push(`${indent}end`);
      }
    }
  };
  declare(graph.nodes.filter((node) => node.parent === null), "  ");

  for (const edge of graph.edges) {
    const arrow = edge.kind === "on_error" ? "-.->" : "-->";
    const label = edge.label === undefined ? "" : `|${quote(edge.label)}|`;
    lines.push(`  ${ids.of(edge.from)} ${arrow}${label} ${edge.to === FINISHED ? FINISHED_NODE : ids.of(edge.to)}`);
  }
  return lines.join("\n") + "\n";
}

/**
 * A quoted Mermaid label. Everything but letters, digits, space and a few harmless signs becomes an
 * entity code (`#35;`), so quotes, `|`, brackets, `<`, `%%` or a newline in user text cannot end the label,
 * start HTML or a comment. A newline becomes `<br/>`.
 */
export function quote(text: string): string {
  let out = "";
  for (const char of text) {
    if (char === "\n") out += "<br/>";
    else if (/[A-Za-z0-9 _.,:;!?$@=+*/-]/.test(char)) out += char;
    else out += `#${char.codePointAt(0)};`;
  }
  return `"${out}"`;
}

/** Mermaid node ids: `step_<id>` when the step id is plain, otherwise (or on a clash) `node<n>`. */
class NodeIds {
  readonly #ids = new Map<string, string>();
  readonly #used = new Set<string>([FINISHED_NODE]);
  #counter = 0;

  of(stepId: string): string {
    const known = this.#ids.get(stepId);
    if (known) return known;
    return this.#assign(stepId, `step_${stepId}`);
  }

  /** The id of a subgraph (a loop body, the branches of a parallel step). */
  subgraph(name: string): string {
    return this.#assign(`\u0000${name}`, `sub_${name}`);
  }

  #assign(key: string, preferred: string): string {
    let id = /^[A-Za-z0-9_]+$/.test(preferred) && !this.#used.has(preferred) ? preferred : "";
    while (!id) {
      const candidate = `node${++this.#counter}`;
      if (!this.#used.has(candidate)) id = candidate;
    }
    this.#used.add(id);
    this.#ids.set(key, id);
    return id;
  }
}
