import { defaultStepRegistry, type StepRegistry } from "../steps/registry.ts";
import { FINISHED, type StepDefinition } from "../steps/step.ts";

/** What the graph needs of a workflow: its steps (a loaded `WorkflowDefinition` fits). */
export interface GraphSource {
  readonly id?: string;
  readonly name?: string;
  readonly steps: readonly StepDefinition[];
  /** Shown on the first step's node: what starts runs by itself. */
  readonly triggers?: readonly ({ cron: string; timezone?: string } | { event: string })[];
  /** Flow control: drawn on the first step (the run's entry), a step's `rate` on that step. */
  readonly concurrency?: { readonly limit: number; readonly key?: string };
  readonly rate?: { readonly limit: number; readonly period: number; readonly key?: string };
}

/** How one step leads to another. `body` goes from a loop or parallel step into its nested steps. */
export type GraphEdgeKind =
  | "next"
  | "route"
  | "default"
  | "on_error"
  | "body"
  | "on_reject"
  | "on_timeout"
  | "resume"
  | "on_exhausted";

export interface GraphNode {
  /** The step id, or `__FINISHED__` for the end of the run. */
  id: string;
  /** The step type, or `finished` for the end of the run. */
  type: string;
  /** What the step does in a few words: `call OrderService.validate_order`, `loop over $input.items`. */
  detail: string;
  /** The loop or parallel step whose body holds this step; null at the top level. */
  parent: string | null;
  /** Which of the parent's bodies holds this step (`do`, `branches`); absent at the top level. */
  body?: string;
  /** What undoes the step (`compensate:`) in a few words, like `detail`; absent without one. */
  compensation?: string;
}

export interface GraphEdge {
  from: string;
  to: string;
  kind: GraphEdgeKind;
  /** A route's condition, `default`, `approved`, `rejected`, `timeout`, `resume`, `exhausted`, `on_error`, `branch 2`. */
  label?: string;
}

export interface WorkflowGraph {
  /** In definition order (a body's steps right after their loop or parallel step), then `__FINISHED__` if used. */
  nodes: GraphNode[];
  edges: GraphEdge[];
}

/** Longest text of a label before it is cut with `…`. */
const MAX_LABEL = 40;

const TARGET_KINDS: Readonly<Record<string, { kind: GraphEdgeKind; label: string }>> = {
  default: { kind: "default", label: "default" },
  on_reject: { kind: "on_reject", label: "rejected" },
  on_timeout: { kind: "on_timeout", label: "timeout" },
  resume_step: { kind: "resume", label: "resume" },
  on_exhausted: { kind: "on_exhausted", label: "exhausted" },
};

/**
 * The graph of a workflow: one node per step (nested ones included) and one edge per way a step leads to
 * another. The edges come from the step types themselves (`StepType.targets()` and `bodies()` of the
 * registry), plus `next` and `on_error`. A top-level step without `next` (other than `end`) leads to
 * `__FINISHED__`; inside a loop body a step without `next` leads to the body's following step.
 */
export function workflowGraph(workflow: GraphSource, options: { registry?: StepRegistry } = {}): WorkflowGraph {
  const registry = options.registry ?? defaultStepRegistry;
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  let usesFinished = false;

  const add = (from: string, to: string, kind: GraphEdgeKind, label: string | undefined, nested: boolean) => {
    if (to === FINISHED) {
      // Inside a body `__FINISHED__` ends the iteration or the branch, not the run.
      if (nested) return;
      usesFinished = true;
    }
    edges.push(label === undefined ? { from, to, kind } : { from, to, kind, label });
  };

  const visit = (steps: readonly StepDefinition[], parent: string | null, bodyKey: string | null) => {
    steps.forEach((step, index) => {
      const type = registry.get(step.type);
      const nested = parent !== null;
      const compensate = step.compensate && typeof step.compensate === "object" ? step.compensate : undefined;
      nodes.push({
        id: step.id,
        type: step.type,
        detail: detailOf(step),
        parent,
        ...(bodyKey === null ? {} : { body: bodyKey }),
        ...(compensate ? { compensation: detailOf({ ...compensate, id: step.id, type: step.type }) } : {}),
      });
      const str = (key: string) => (typeof step[key] === "string" ? (step[key] as string) : undefined);

      // A router always leaves by a route or its default; `end` ends the run.
      let next = step.type === "router" ? undefined : str("next");
      if (next === undefined && step.type !== "end" && step.type !== "router") {
        if (!nested) next = FINISHED;
        else if (bodyKey === "do" && steps[index + 1]) next = steps[index + 1]!.id;
      }
      if (next !== undefined && !(step.type === "halt" && str("resume_step"))) {
        const label = step.type === "approval"
          ? "approved"
          : step.type === "halt"
          ? "resume"
          : step.type === "wait_for_event"
          ? "event"
          : undefined;
        add(step.id, next, "next", label, nested);
      }

      for (const { key, target } of safe(() => type?.targets?.(step as never))) {
        const route = /^routes\[(\d+)\]\.then$/.exec(key);
        if (route) {
          const routes = step.routes as { when?: unknown }[];
          add(step.id, target, "route", short(conditionLabel(routes[Number(route[1])]?.when)), nested);
        } else {
          const known = TARGET_KINDS[key];
          add(step.id, target, known?.kind ?? "route", known?.label ?? key, nested);
        }
      }

      if (str("on_error")) add(step.id, str("on_error")!, "on_error", "on_error", nested);

      for (const body of safe(() => type?.bodies?.(step as never))) {
        const list = (Array.isArray(body.steps) ? body.steps : []).filter(isStep);
        if (body.key === "branches") list.forEach((branch, i) => add(step.id, branch.id, "body", `branch ${i + 1}`, true));
        else if (list[0]) add(step.id, list[0].id, "body", body.key, true);
        visit(list, step.id, body.key);
      }
    });
  };

  visit(workflow.steps, null, null);
  if (usesFinished) nodes.push({ id: FINISHED, type: "finished", detail: "end of run", parent: null });
  // The run's entry (the first step) shows what starts runs and the workflow's limits.
  const entry = nodes.find((node) => node.parent === null);
  const notes = [
    ...(workflow.triggers ?? []).map(triggerLabel),
    workflow.concurrency ? `≤ ${workflow.concurrency.limit} running${perKey(workflow.concurrency.key)}` : "",
    workflow.rate ? rateLabel(workflow.rate) : "",
  ].filter(Boolean);
  if (entry && notes.length) entry.detail = [entry.detail, ...notes].join(" · ");
  return { nodes, edges };
}

function safe<T>(read: () => T[] | undefined): T[] {
  try {
    return read() ?? [];
  } catch {
    return [];
  }
}

function isStep(value: unknown): value is StepDefinition {
  return !!value && typeof value === "object" && typeof (value as StepDefinition).id === "string";
}

function perKey(key: string | undefined): string {
  return key ? ` per ${key}` : "";
}

function rateLabel(rate: { limit: number; period: number; key?: string }): string {
  return `≤ ${rate.limit} per ${rate.period} s${perKey(rate.key)}`;
}

function detailOf(step: StepDefinition): string {
  const quota = step.rate && typeof step.rate === "object" ? ` · ${rateLabel(step.rate as { limit: number; period: number })}` : "";
  return baseDetailOf(step) + quota;
}

function baseDetailOf(step: StepDefinition): string {
  const str = (key: string) => (typeof step[key] === "string" ? (step[key] as string) : undefined);
  switch (step.type) {
    case "call":
      return str("service") ? `${str("service")}${str("method") ? `.${str("method")}` : ""}` : "call";
    case "workflow":
      return str("workflow_id") ? `workflow ${str("workflow_id")}` : "workflow";
    case "loop":
      return step.while !== undefined ? `loop while ${conditionLabel(step.while)}` : `loop over ${text(step.over)}`;
    case "parallel":
      return `parallel, wait ${text(step.wait ?? "all")}`;
    case "http":
      return `${str("method") ?? "GET"} ${text(step.url)}`;
    case "wait":
      return step.seconds !== undefined
        ? `wait ${text(step.seconds)}${typeof step.seconds === "number" ? " s" : ""}`
        : `wait until ${text(step.until)}`;
    case "wait_for_event": {
      const events = Array.isArray(step.event) ? (step.event as string[]).join(" | ") : text(step.event);
      return `wait for ${events}${step.match ? ` where ${conditionLabel(step.match)}` : ""}`;
    }
    default:
      return step.type;
  }
}

function triggerLabel(trigger: { cron: string; timezone?: string } | { event: string }): string {
  if ("event" in trigger) return `on event ${trigger.event}`;
  return `cron ${trigger.cron}${trigger.timezone && trigger.timezone !== "UTC" ? ` (${trigger.timezone})` : ""}`;
}

function conditionLabel(when: unknown): string {
  if (!when || typeof when !== "object") return "?";
  const { field, op, value } = when as { field?: unknown; op?: unknown; value?: unknown };
  const operator = typeof op === "string" ? op : "eq";
  return value === undefined ? `${text(field)} ${operator}` : `${text(field)} ${operator} ${text(value)}`;
}

function text(value: unknown): string {
  return typeof value === "string" ? value : JSON.stringify(value) ?? String(value);
}

/** `value`, cut to `max` characters with `…` when longer. */
export function short(value: string, max = MAX_LABEL): string {
  const chars = [...value];
  return chars.length > max ? `${chars.slice(0, max - 1).join("")}…` : value;
}
