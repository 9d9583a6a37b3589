import { FINISHED, type StepDefinition } from "../steps/step.ts";

/** What the diagram needs of a workflow: its steps (a loaded `WorkflowDefinition` fits). */
export interface DiagramSource {
  readonly id?: string;
  readonly steps: readonly StepDefinition[];
}

/**
 * Mermaid shapes by step type (`[open, close]`); a step type not listed (a custom one) is a rounded box.
 * A loop's body and a parallel step's branches are drawn as subgraphs beside their step's node.
 */
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
};
const CUSTOM_SHAPE = ["(", ")"] as const;

/** The node every `__FINISHED__` target (and a top-level step without `next`) points to. */
const FINISHED_NODE = "finished";

/** Longest text of a label line before it is cut with `…`. */
const MAX_LABEL = 80;

/**
 * Mermaid `flowchart TD` text of a workflow's graph: one node per step, shaped by its type; edges for
 * `next`, router routes (labelled with their condition) and `default`, `on_error` (dotted), loop
 * `on_exhausted`, approval `on_reject` / `on_timeout`, halt `resume_step`; loop bodies and parallel
 * branches as subgraphs. Node ids are derived from step ids and made safe (`end`, `graph` and friends are
 * Mermaid keywords), every label is quoted and escaped, so any definition yields a well-formed chart.
 */
export function workflowDiagram(workflow: DiagramSource): string {
  const nodes = new NodeIds();
  const lines: string[] = ["flowchart TD"];
  const edges: string[] = [];
  let usesFinished = false;

  const target = (name: string): string => {
    if (name === FINISHED) {
      usesFinished = true;
      return FINISHED_NODE;
    }
    return nodes.of(name);
  };
  const edge = (from: string, to: string, label?: string, dotted = false) => {
    const arrow = dotted ? "-.->" : "-->";
    edges.push(`  ${nodes.of(from)} ${arrow}${label === undefined ? "" : `|${quote(label)}|`} ${target(to)}`);
  };

  // Declares every node first (subgraphs included), so that node ids follow definition order.
  const declare = (steps: readonly StepDefinition[], indent: string) => {
    for (const step of steps) {
      const [open, close] = SHAPES[step.type] ?? CUSTOM_SHAPE;
      lines.push(`${indent}${nodes.of(step.id)}${open}${quote(nodeLabel(step))}${close}`);
      for (const body of bodiesOf(step)) {
        lines.push(`${indent}subgraph ${nodes.subgraph(`${step.id}__${body.key}`)} [${quote(`${step.id}: ${body.key}`)}]`);
        lines.push(`${indent}  direction TB`);
        declare(body.steps, `${indent}  `);
        lines.push(`${indent}end`);
      }
    }
  };

  const connect = (steps: readonly StepDefinition[], nested: boolean) => {
    for (const step of steps) {
      wire(step, nested);
      for (const body of bodiesOf(step)) {
        if (step.type === "parallel") {
          body.steps.forEach((branch, i) => edge(step.id, branch.id, `branch ${i + 1}`));
        } else if (body.steps[0]) {
          edge(step.id, body.steps[0].id, body.key);
        }
        connect(body.steps, true);
      }
    }
  };

  const wire = (step: StepDefinition, nested: boolean) => {
    const str = (key: string): string | undefined => (typeof step[key] === "string" ? (step[key] as string) : undefined);
    // A top-level step without `next` ends the run; inside a body it ends the iteration or the branch.
    const next = str("next") ?? (nested ? undefined : FINISHED);
    switch (step.type) {
      case "end":
        break;
      case "router": {
        const routes = Array.isArray(step.routes) ? step.routes : [];
        for (const route of routes) {
          const r = route as { when?: unknown; then?: unknown };
          if (typeof r?.then === "string") edge(step.id, r.then, conditionLabel(r.when));
        }
        if (str("default")) edge(step.id, str("default")!, "default");
        break;
      }
      case "approval":
        if (next) edge(step.id, next, "approved");
        if (str("on_reject")) edge(step.id, str("on_reject")!, "rejected");
        if (str("on_timeout")) edge(step.id, str("on_timeout")!, "timeout");
        break;
      case "halt": {
        const resume = str("resume_step") ?? next;
        if (resume) edge(step.id, resume, "resume");
        break;
      }
      case "loop":
        if (next) edge(step.id, next);
        if (str("on_exhausted")) edge(step.id, str("on_exhausted")!, "exhausted");
        break;
      default:
        if (next) edge(step.id, next);
    }
    if (str("on_error")) edge(step.id, str("on_error")!, "on_error", true);
  };

  declare(workflow.steps, "  ");
  connect(workflow.steps, false);
  if (usesFinished) lines.push(`  ${FINISHED_NODE}((${quote("finished")}))`);
  return [...lines, ...edges].join("\n") + "\n";
}

/** `id` on the first line, the type (and what it calls or runs) on the second. */
function nodeLabel(step: StepDefinition): string {
  let detail = step.type;
  if (step.type === "call" && typeof step.service === "string") {
    detail = `call ${step.service}${typeof step.method === "string" ? `.${step.method}` : ""}`;
  } else if (step.type === "workflow" && typeof step.workflow_id === "string") {
    detail = `workflow ${step.workflow_id}`;
  } else if (step.type === "loop") {
    detail = step.while !== undefined ? `loop while ${conditionLabel(step.while)}` : `loop over ${short(step.over)}`;
  }
  return `${step.id}\n${detail}`;
}

function conditionLabel(when: unknown): string {
  if (!when || typeof when !== "object") return "?";
  const { field, op, value } = when as { field?: unknown; op?: unknown; value?: unknown };
  const operator = typeof op === "string" ? op : "eq";
  return value === undefined ? `${String(field)} ${operator}` : `${String(field)} ${operator} ${short(value)}`;
}

function short(value: unknown): string {
  const text = typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
  return text.length > MAX_LABEL ? `${text.slice(0, MAX_LABEL - 1)}…` : text;
}

function bodiesOf(step: StepDefinition): { key: string; steps: StepDefinition[] }[] {
  const list = (value: unknown) => (Array.isArray(value) ? value.filter(isStep) : []);
  if (step.type === "loop") return [{ key: "do", steps: list(step.do) }];
  if (step.type === "parallel") return [{ key: "branches", steps: list(step.branches) }];
  return [];
}

function isStep(value: unknown): value is StepDefinition {
  return !!value && typeof value === "object" && typeof (value as StepDefinition).id === "string";
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

/** Mermaid node ids: `step_<id>` when the step id is plain, otherwise (or on a clash) `step<n>`. */
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
