import { defaultStepRegistry, type StepRegistry } from "../steps/registry.ts";
import { FINISHED, type StepDefinition } from "../steps/step.ts";

/** What the graph needs of a workflow: its steps (a loaded `WorkflowDefinition` fits). */
export interface GraphSource {
  readonly id?: string;
  readonly name?: string;
  readonly steps: readonly StepDefinition[];
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

export const FINISHED_NODE = FINISHED;

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
      nodes.push({ id: step.id, type: step.type, detail: detailOf(step), parent, ...(bodyKey === null ? {} : { body: bodyKey }) });
      const str = (key: string) => (typeof step[key] === "string" ? (step[key] as string) : undefined);

      // A router always leaves by a route or its default; `end` ends the run.
      let next = step.type === "router" ? undefined : str("next");
      if (next === undefined && step.type !== "end" && step.type !== "router") {
        if (!nested) next = FINISHED;
        else if (bodyKey === "do" && steps[index + 1]) next = steps[index + 1]!.id;
      }
      if (next !== undefined && !(step.type === "halt" && str("resume_step"))) {
        const label = step.type === "approval" ? "approved" : step.type === "halt" ? "resume" : undefined;
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

function detailOf(step: StepDefinition): string {
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
    default:
      return step.type;
  }
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

// ---------------------------------------------------------------------------------------------------------
// Layout: layered, top to bottom (Sugiyama-style, kept small). Each scope (the top level, a loop body, the
// branches of a parallel step) is laid out on its own; a loop or parallel step is a box holding its body.
//  1. back edges are found by a depth-first walk from the scope's first step and left out of the layering;
//  2. layers by longest path; an edge spanning several layers gets a waypoint in each layer it crosses;
//  3. order within a layer by the barycenter of the nodes above (then below), ties by definition order;
//  4. x by a few passes towards the neighbours' mean, with the minimum gaps kept exactly (isotonic regression).
// Everything depends only on the definition: the same workflow always gives the same drawing.
// ---------------------------------------------------------------------------------------------------------

const NODE_HEIGHT = 44;
const FINISHED_SIZE = { width: 92, height: 30 };
const LAYER_GAP = 52;
const NODE_GAP = 26;
const PAD = 14;
const HEADER = 46;
/** Room between a group's header and its body, for the arrows into the body. */
const BODY_GAP = 16;
const MARGIN = 16;
const BACK_EDGE_ROOM = 44;
const ID_CHAR = 7.3;
const DETAIL_CHAR = 6.3;
const MAX_ID = 34;
const MAX_DETAIL = 38;

export interface LaidOutNode {
  node: GraphNode;
  /** Top-left corner and size, in SVG user units. */
  x: number;
  y: number;
  width: number;
  height: number;
  /** True for a loop or parallel step drawn as a box around its body. */
  group: boolean;
}

export interface LaidOutEdge {
  /** One or more graph edges with the same ends, drawn as one path. */
  edges: GraphEdge[];
  from: string;
  to: string;
  /** SVG path data. */
  path: string;
  /** Where the label goes (the middle of the first segment). */
  labelAt: { x: number; y: number } | null;
  back: boolean;
}

export interface WorkflowLayout {
  width: number;
  height: number;
  nodes: LaidOutNode[];
  edges: LaidOutEdge[];
}

interface Box {
  width: number;
  height: number;
  /** Positions relative to the box's top-left (children of this scope, and deeper descendants). */
  place: Map<string, { x: number; y: number; width: number; height: number }>;
  /** Paths of the edges inside the scope, with points relative to the box. */
  routes: { key: string; points: [number, number][]; back: boolean }[];
}

/** Positions every node and edge of the graph. */
export function layoutWorkflowGraph(graph: WorkflowGraph): WorkflowLayout {
  const byId = new Map(graph.nodes.map((n) => [n.id, n]));
  const order = new Map(graph.nodes.map((n, i) => [n.id, i]));
  const children = new Map<string | null, GraphNode[]>();
  for (const node of graph.nodes) {
    const list = children.get(node.parent) ?? [];
    list.push(node);
    children.set(node.parent, list);
  }
  // The ancestor of `id` that is a direct child of `scope` (or undefined when `id` is outside it).
  const liftTo = (id: string, scope: string | null): string | undefined => {
    let node = byId.get(id);
    while (node && node.parent !== scope) node = node.parent === null ? undefined : byId.get(node.parent);
    return node?.id;
  };
  // Distinct (from, to) pairs in edge order, merged: one path per pair.
  const pairs = new Map<string, GraphEdge[]>();
  for (const edge of graph.edges) {
    if (!byId.has(edge.from) || !byId.has(edge.to)) continue;
    const key = pairKey(edge.from, edge.to);
    pairs.set(key, [...(pairs.get(key) ?? []), edge]);
  }

  const layoutScope = (scope: string | null): Box => {
    const members = children.get(scope) ?? [];
    const sizes = new Map<string, { width: number; height: number; box?: Box }>();
    for (const node of members) {
      if (children.has(node.id)) {
        const box = layoutScope(node.id);
        const width = Math.max(box.width + 2 * PAD, labelWidth(node));
        sizes.set(node.id, { width, height: HEADER + BODY_GAP + box.height + PAD, box });
      } else {
        sizes.set(node.id, node.type === "finished" ? FINISHED_SIZE : { width: labelWidth(node), height: NODE_HEIGHT });
      }
    }

    // Edges of this scope: both ends are members (or inside members) and not the same member.
    const local: { key: string; from: string; to: string }[] = [];
    const seen = new Set<string>();
    for (const [key, [edge]] of pairs) {
      if (edge!.kind === "body") continue;
      const from = liftTo(edge!.from, scope);
      const to = liftTo(edge!.to, scope);
      if (from === undefined || to === undefined) continue;
      const direct = from === edge!.from && to === edge!.to;
      const lifted = pairKey(from, to);
      if (!direct && (from === to || seen.has(lifted))) continue;
      seen.add(lifted);
      local.push({ key: direct ? key : lifted, from, to });
    }

    // 1. Back edges by a depth-first walk, members in definition order.
    const out = new Map<string, string[]>();
    for (const e of local) out.set(e.from, [...(out.get(e.from) ?? []), e.to]);
    const state = new Map<string, 1 | 2>();
    const back = new Set<string>();
    const post: string[] = [];
    const walk = (id: string) => {
      state.set(id, 1);
      for (const to of out.get(id) ?? []) {
        if (state.get(to) === 1) back.add(pairKey(id, to));
        else if (!state.has(to)) walk(to);
      }
      state.set(id, 2);
      post.push(id);
    };
    for (const node of members) if (!state.has(node.id)) walk(node.id);

    // 2. Layers by longest path over the forward edges.
    const forward = local.filter((e) => !back.has(pairKey(e.from, e.to)) && e.from !== e.to);
    const layer = new Map<string, number>(members.map((n) => [n.id, 0]));
    for (const id of [...post].reverse()) {
      for (const e of forward) if (e.from === id) layer.set(e.to, Math.max(layer.get(e.to)!, layer.get(id)! + 1));
    }
    const depth = Math.max(0, ...layer.values()) + 1;
    const rows: string[][] = Array.from({ length: depth }, () => []);
    for (const node of members) rows[layer.get(node.id)!]!.push(node.id);

    // Waypoints: an edge crossing layers gets a zero-size node in each layer between its ends.
    const chains = new Map<string, string[]>();
    const up = new Map<string, string[]>();
    const down = new Map<string, string[]>();
    const link = (a: string, b: string) => {
      down.set(a, [...(down.get(a) ?? []), b]);
      up.set(b, [...(up.get(b) ?? []), a]);
    };
    for (const e of forward) {
      const chain = [e.from];
      for (let l = layer.get(e.from)! + 1; l < layer.get(e.to)!; l++) {
        const waypoint = `\u0000${e.key}\u0000${l}`;
        rows[l]!.push(waypoint);
        layer.set(waypoint, l);
        chain.push(waypoint);
      }
      chain.push(e.to);
      for (let i = 1; i < chain.length; i++) link(chain[i - 1]!, chain[i]!);
      chains.set(e.key, chain);
    }
    const widthOf = (id: string) => sizes.get(id)?.width ?? 0;
    const heightOf = (id: string) => sizes.get(id)?.height ?? 0;
    const rank = (id: string) => order.get(id) ?? order.get(id.split("\u0000")[1]!.split("\u0001")[0]!) ?? 0;

    // 3. Order within layers: down, up, down by barycenters; a node's out-edges fan out in edge order.
    const position = new Map<string, number>();
    rows.forEach((row) => {
      row.sort((a, b) => rank(a) - rank(b));
      row.forEach((id, i) => position.set(id, i));
    });
    const barycenter = (id: string, neighbours: Map<string, string[]>, fan: Map<string, string[]>) => {
      const list = neighbours.get(id) ?? [];
      if (list.length === 0) return undefined;
      let sum = 0;
      for (const n of list) {
        const siblings = fan.get(n) ?? [id];
        const k = siblings.indexOf(id);
        sum += position.get(n)! + (k - (siblings.length - 1) / 2) * 0.01;
      }
      return sum / list.length;
    };
    const sweep = (from: number, to: number, step: number, neighbours: Map<string, string[]>, fan: Map<string, string[]>) => {
      for (let l = from; l !== to; l += step) {
        const row = rows[l]!;
        const keys = new Map(row.map((id) => [id, barycenter(id, neighbours, fan) ?? position.get(id)!]));
        row.sort((a, b) => keys.get(a)! - keys.get(b)! || rank(a) - rank(b));
        row.forEach((id, i) => position.set(id, i));
      }
    };
    sweep(1, depth, 1, up, down);
    sweep(depth - 2, -1, -1, down, up);
    sweep(1, depth, 1, up, down);

    // 4. x: centres pulled towards the neighbours' mean, gaps kept.
    const centre = new Map<string, number>();
    for (const row of rows) {
      let x = 0;
      for (const id of row) {
        centre.set(id, x + widthOf(id) / 2);
        x += widthOf(id) + NODE_GAP;
      }
    }
    const gap = (a: string, b: string) => (widthOf(a) + widthOf(b)) / 2 + (a.startsWith("\u0000") || b.startsWith("\u0000") ? NODE_GAP / 2 : NODE_GAP);
    const settle = (neighbours: Map<string, string[]>, l: number) => {
      const row = rows[l]!;
      const desired = row.map((id) => {
        const list = neighbours.get(id) ?? [];
        return list.length ? list.reduce((s, n) => s + centre.get(n)!, 0) / list.length : centre.get(id)!;
      });
      place(row, desired, gap).forEach((x, i) => centre.set(row[i]!, x));
    };
    for (let pass = 0; pass < 4; pass++) {
      for (let l = 1; l < depth; l++) settle(up, l);
      for (let l = depth - 2; l >= 0; l--) settle(down, l);
    }
    for (let l = 1; l < depth; l++) settle(up, l);

    let left = Infinity;
    let right = -Infinity;
    for (const [id, x] of centre) {
      left = Math.min(left, x - widthOf(id) / 2);
      right = Math.max(right, x + widthOf(id) / 2);
    }
    if (!Number.isFinite(left)) left = right = 0;
    const hasBack = back.size > 0 || local.some((e) => e.from === e.to);
    const width = right - left + (hasBack ? BACK_EDGE_ROOM : 0);

    // y: each layer as tall as its tallest member, members centred in it.
    const top: number[] = [];
    let y = 0;
    for (const row of rows) {
      top.push(y);
      y += Math.max(0, ...row.map(heightOf)) + LAYER_GAP;
    }
    const height = Math.max(0, y - LAYER_GAP);
    const rowHeight = (l: number) => Math.max(0, ...rows[l]!.map(heightOf));

    const place2 = new Map<string, { x: number; y: number; width: number; height: number }>();
    const routesOut: Box["routes"] = [];
    const at = (id: string) => {
      const l = layer.get(id)!;
      return { x: centre.get(id)! - left, y: top[l]! + rowHeight(l) / 2 };
    };
    for (const node of members) {
      const { x: cx, y: cy } = at(node.id);
      const size = sizes.get(node.id)!;
      const box = { x: cx - size.width / 2, y: cy - size.height / 2, width: size.width, height: size.height };
      place2.set(node.id, box);
      if (!size.box) continue;
      // The body, centred under the header; its places and waypoints move with the box.
      const dx = box.x + (size.width - size.box.width) / 2;
      const dy = box.y + HEADER + BODY_GAP;
      for (const [id, p] of size.box.place) place2.set(id, { ...p, x: p.x + dx, y: p.y + dy });
      for (const r of size.box.routes) routesOut.push({ ...r, points: r.points.map(([px, py]) => [px + dx, py + dy] as [number, number]) });
    }
    for (const e of local) {
      if (!pairs.has(e.key)) continue;
      const chain = chains.get(e.key);
      const points: [number, number][] = chain
        ? chain.slice(1, -1).map((id) => [at(id).x, at(id).y] as [number, number])
        : [];
      routesOut.push({ key: e.key, points, back: !chain });
    }
    return { width, height, place: place2, routes: routesOut };
  };

  const root = layoutScope(null);
  const nodes: LaidOutNode[] = graph.nodes.map((node) => {
    const p = root.place.get(node.id) ?? { x: 0, y: 0, width: 0, height: 0 };
    return { node, x: p.x + MARGIN, y: p.y + MARGIN, width: p.width, height: p.height, group: children.has(node.id) };
  });
  const where = new Map(nodes.map((n) => [n.node.id, n]));
  const waypoints = new Map(root.routes.map((r) => [r.key, r]));

  // Ports: a node's outgoing paths leave its bottom spread in the order of their first waypoint's x;
  // incoming paths enter its top spread in the order of their last waypoint's x.
  const drawn = [...pairs.entries()].map(([key, edges]) => {
    const route = waypoints.get(key);
    const from = where.get(edges[0]!.from)!;
    const to = where.get(edges[0]!.to)!;
    const inner = (route?.points ?? []).map(([x, y]) => [x + MARGIN, y + MARGIN] as [number, number]);
    const back = route ? route.back : to.y <= from.y && !isInside(to, from);
    return { key, edges, from, to, inner, back, body: edges[0]!.kind === "body" };
  });
  const ports = (side: "out" | "in") => {
    const groups = new Map<string, typeof drawn>();
    for (const d of drawn) {
      if (d.back || d.body) continue;
      const id = side === "out" ? d.from.node.id : d.to.node.id;
      groups.set(id, [...(groups.get(id) ?? []), d]);
    }
    const result = new Map<string, number>();
    for (const [, list] of groups) {
      const toward = (d: (typeof drawn)[number]) => {
        const p = side === "out" ? d.inner[0] ?? centreOf(d.to) : d.inner.at(-1) ?? centreOf(d.from);
        return p[0];
      };
      const sorted = [...list].sort((a, b) => toward(a) - toward(b));
      sorted.forEach((d, i) => {
        const node = side === "out" ? d.from : d.to;
        const span = Math.min(node.width * 0.6, 28 * (sorted.length - 1));
        result.set(d.key, node.x + node.width / 2 + (sorted.length === 1 ? 0 : -span / 2 + (span * i) / (sorted.length - 1)));
      });
    }
    return result;
  };
  const outPort = ports("out");
  const inPort = ports("in");

  const edges: LaidOutEdge[] = drawn.map((d) => {
    const { from, to } = d;
    let path: string;
    let labelAt: { x: number; y: number } | null;
    if (d.body) {
      const x1 = from.x + from.width / 2;
      const y1 = from.y + HEADER - 6;
      const x2 = to.x + to.width / 2;
      const y2 = to.y;
      path = curve([[x1, y1], [x2, y2]]);
      labelAt = null;
    } else if (d.back) {
      const x1 = from.x + from.width;
      const y1 = from.y + from.height / 2;
      const x2 = to.x + to.width;
      const y2 = to.y + to.height / 2;
      const bulge = Math.max(x1, x2) + BACK_EDGE_ROOM - 8;
      path = from === to
        ? `M${n(x1)},${n(y1 - 8)} C${n(x1 + 30)},${n(y1 - 24)} ${n(x1 + 30)},${n(y1 + 24)} ${n(x1)},${n(y1 + 8)}`
        : `M${n(x1)},${n(y1)} C${n(bulge)},${n(y1)} ${n(bulge)},${n(y2)} ${n(x2)},${n(y2)}`;
      labelAt = { x: from === to ? x1 + 26 : bulge - 6, y: (y1 + y2) / 2 };
    } else {
      const start: [number, number] = [outPort.get(d.key) ?? from.x + from.width / 2, from.y + from.height];
      const end: [number, number] = [inPort.get(d.key) ?? to.x + to.width / 2, to.y];
      const points = [start, ...d.inner, end];
      path = curve(points);
      const [a, b] = [points[0]!, points[1]!];
      labelAt = { x: (a[0] + b[0]) / 2, y: a[1] + Math.min(LAYER_GAP / 2, (b[1] - a[1]) / 2) };
    }
    return { edges: d.edges, from: from.node.id, to: to.node.id, path, labelAt, back: d.back };
  });

  return { width: root.width + 2 * MARGIN, height: root.height + 2 * MARGIN, nodes, edges };
}

function pairKey(from: string, to: string): string {
  return `${from}\u0001${to}`;
}

function centreOf(node: LaidOutNode): [number, number] {
  return [node.x + node.width / 2, node.y + node.height / 2];
}

function isInside(inner: LaidOutNode, outer: LaidOutNode): boolean {
  return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width && inner.y + inner.height <= outer.y + outer.height;
}

function labelWidth(node: GraphNode): number {
  if (node.type === "finished") return FINISHED_SIZE.width;
  const id = Math.min([...node.id].length, MAX_ID) * ID_CHAR;
  const detail = Math.min([...node.detail].length, MAX_DETAIL) * DETAIL_CHAR;
  return Math.ceil(Math.max(96, id, detail) + 28);
}

/**
 * Centres for the nodes of one layer, in their order, as close as possible (least squares) to `desired`
 * while neighbours stay at least `gap(a, b)` apart: pool-adjacent-violators on the gap-adjusted targets.
 */
function place(row: string[], desired: number[], gap: (a: string, b: string) => number): number[] {
  const offset: number[] = [0];
  for (let i = 1; i < row.length; i++) offset.push(offset[i - 1]! + gap(row[i - 1]!, row[i]!));
  const blocks: { sum: number; count: number }[] = [];
  for (let i = 0; i < row.length; i++) {
    blocks.push({ sum: desired[i]! - offset[i]!, count: 1 });
    while (blocks.length > 1 && blocks.at(-2)!.sum / blocks.at(-2)!.count > blocks.at(-1)!.sum / blocks.at(-1)!.count) {
      const last = blocks.pop()!;
      blocks.at(-1)!.sum += last.sum;
      blocks.at(-1)!.count += last.count;
    }
  }
  const out: number[] = [];
  for (const block of blocks) for (let k = 0; k < block.count; k++) out.push(block.sum / block.count + offset[out.length]!);
  return out;
}

/** A smooth path through the points, vertical at each of them. */
function curve(points: [number, number][]): string {
  let d = `M${n(points[0]![0])},${n(points[0]![1])}`;
  for (let i = 1; i < points.length; i++) {
    const [x0, y0] = points[i - 1]!;
    const [x1, y1] = points[i]!;
    const h = (y1 - y0) / 2;
    d += ` C${n(x0)},${n(y0 + h)} ${n(x1)},${n(y1 - h)} ${n(x1)},${n(y1)}`;
  }
  return d;
}

function n(value: number): string {
  return String(Math.round(value * 10) / 10);
}

// ---------------------------------------------------------------------------------------------------------
// SVG
// ---------------------------------------------------------------------------------------------------------

interface Palette {
  fill: string;
  stroke: string;
}

const PALETTE: Readonly<Record<string, Palette>> = {
  start: { fill: "#e7f5ea", stroke: "#2e7d32" },
  end: { fill: "#eceff1", stroke: "#37474f" },
  call: { fill: "#e6f0fb", stroke: "#1d5fa8" },
  assign: { fill: "#f4f4f5", stroke: "#71717a" },
  transform: { fill: "#f3e8f7", stroke: "#7b2d8e" },
  router: { fill: "#fff7e0", stroke: "#b7791f" },
  loop: { fill: "#f0faf8", stroke: "#0f766e" },
  parallel: { fill: "#f1f2fb", stroke: "#3949ab" },
  halt: { fill: "#fff1e6", stroke: "#c2410c" },
  approval: { fill: "#fdeef4", stroke: "#be185d" },
  workflow: { fill: "#eef6ff", stroke: "#334155" },
  finished: { fill: "#334155", stroke: "#334155" },
};
const CUSTOM_PALETTE: Palette = { fill: "#fafafa", stroke: "#6b7280" };

const EDGE_COLOURS: Readonly<Record<GraphEdgeKind, string>> = {
  next: "#64748b",
  route: "#a16207",
  default: "#a16207",
  on_error: "#dc2626",
  body: "#94a3b8",
  on_reject: "#be185d",
  on_timeout: "#be185d",
  resume: "#c2410c",
  on_exhausted: "#0f766e",
};
const TAKEN = "#ea580c";
const FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif";

export interface SvgOptions {
  /** Step ids the execution went through, in order (loop body steps as `<loopId>:<bodyId>` or `<bodyId>`). */
  highlight?: readonly string[];
  /** Step registry for custom step types (default: the global one). */
  registry?: StepRegistry;
}

/**
 * The workflow's graph as a standalone SVG document: steps shaped and coloured by type, labelled routes,
 * dashed `on_error` edges, loop and parallel bodies drawn as boxes around their steps, approval
 * `on_reject` / `on_timeout` edges. With `highlight`, the steps an execution went through and the edges
 * between them stand out, and the last one is ringed. Every text is XML-escaped; colours are presentation
 * attributes (no `style`), so the markup passes a strict Content-Security-Policy. Nodes carry `data-step`,
 * edges `data-from` / `data-to` / `data-kind`.
 */
export function renderWorkflowSvg(workflow: GraphSource, options: SvgOptions = {}): string {
  const graph = workflowGraph(workflow, { registry: options.registry });
  const layout = layoutWorkflowGraph(graph);
  const ids = new Set(graph.nodes.map((node) => node.id));
  const visits = (options.highlight ?? []).map((id) => (ids.has(id) ? id : id.slice(id.lastIndexOf(":") + 1)));
  const visited = new Set(visits.filter((id) => ids.has(id)));
  const current = [...visits].reverse().find((id) => ids.has(id));
  const taken = takenEdges(graph, visits);
  const prefix = `dw-${markerSafe(workflow.id ?? "workflow")}`;
  const title = workflow.name ?? workflow.id ?? "Workflow";

  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="dw-diagram" viewBox="0 0 ${n(layout.width)} ${n(layout.height)}" width="${n(layout.width)}" height="${n(layout.height)}" role="img" aria-label="${escapeXml(`Diagram of ${title}`)}" font-family="${escapeXml(FONT)}">`,
    `<title>${escapeXml(`Diagram of ${title}`)}</title>`,
    `<defs>`,
  );
  for (const [name, colour] of [["", "#64748b"], ["-taken", TAKEN], ["-error", EDGE_COLOURS.on_error]] as const) {
    out.push(`<marker id="${prefix}-arrow${name}" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${colour}"/></marker>`);
  }
  out.push(`</defs>`);

  // Groups first (behind), then edges, then the other nodes, then edge labels on top.
  const groups = layout.nodes.filter((n) => n.group);
  for (const g of groups) out.push(groupSvg(g, visited.has(g.node.id), current === g.node.id));
  out.push(`<g class="dw-edges" fill="none">`);
  for (const edge of layout.edges) {
    const kind = edge.edges[0]!.kind;
    const isTaken = edge.edges.some((e) => taken.has(e));
    const error = edge.edges.every((e) => e.kind === "on_error");
    const colour = isTaken ? TAKEN : EDGE_COLOURS[kind];
    const marker = isTaken ? "-taken" : error ? "-error" : "";
    out.push(
      `<path class="dw-edge dw-edge-${kind}${isTaken ? " dw-taken" : ""}" data-from="${escapeXml(edge.from)}" data-to="${escapeXml(edge.to)}" data-kind="${escapeXml(edge.edges.map((e) => e.kind).join(" "))}" d="${edge.path}" stroke="${colour}" stroke-width="${isTaken ? 2.6 : 1.4}"${error ? ` stroke-dasharray="5 4"` : kind === "body" ? ` stroke-dasharray="2 3"` : ""} marker-end="url(#${prefix}-arrow${marker})"/>`,
    );
  }
  out.push(`</g>`);
  for (const node of layout.nodes) if (!node.group) out.push(nodeSvg(node, visited.has(node.node.id), current === node.node.id));
  out.push(`<g class="dw-edge-labels" font-size="10.5">`);
  const labels = layout.edges.flatMap((edge) => {
    const texts = [...new Set(edge.edges.map((e) => e.label).filter((l): l is string => !!l))];
    if (!texts.length || !edge.labelAt) return [];
    const text = short(texts.join(" / "), MAX_LABEL);
    return [{ edge, text, width: [...text].length * 5.9 + 8, x: edge.labelAt.x, y: edge.labelAt.y }];
  });
  // The labels of one step's edges share a row under it: spread them so that none covers another.
  const rows = new Map<string, typeof labels>();
  for (const label of labels) {
    const key = `${label.edge.from}\u0001${label.y}`;
    rows.set(key, [...(rows.get(key) ?? []), label]);
  }
  for (const row of rows.values()) {
    row.sort((a, b) => a.x - b.x);
    const xs = place(row.map((l) => String(row.indexOf(l))), row.map((l) => l.x), (a, b) => (row[Number(a)]!.width + row[Number(b)]!.width) / 2 + 6);
    row.forEach((label, i) => (label.x = xs[i]!));
  }
  for (const { edge, text, width, x, y } of labels) {
    const kind = edge.edges[0]!.kind;
    out.push(
      `<g class="dw-edge-label" data-from="${escapeXml(edge.from)}" data-to="${escapeXml(edge.to)}"><rect x="${n(x - width / 2)}" y="${n(y - 8)}" width="${n(width)}" height="16" rx="4" fill="#ffffff" fill-opacity="0.92"/><text x="${n(x)}" y="${n(y + 3.5)}" text-anchor="middle" fill="${EDGE_COLOURS[kind]}">${escapeXml(text)}</text></g>`,
    );
  }
  out.push(`</g>`, `</svg>`);
  return out.join("\n") + "\n";
}

/** The edges the highlighted path went along: between consecutive visits (lifted out of bodies), and into bodies visited. */
function takenEdges(graph: WorkflowGraph, visits: string[]): Set<GraphEdge> {
  const parent = new Map(graph.nodes.map((n) => [n.id, n.parent]));
  const top = (id: string) => {
    let at = id;
    while (parent.get(at)) at = parent.get(at)!;
    return at;
  };
  const taken = new Set<GraphEdge>();
  const find = (from: string, to: string) => graph.edges.filter((e) => e.from === from && e.to === to && e.kind !== "body");
  const seq = visits.filter((id) => parent.has(id));
  for (let i = 1; i < seq.length; i++) {
    const [a, b] = [seq[i - 1]!, seq[i]!];
    let found = find(a, b);
    if (!found.length && top(a) !== top(b)) found = find(top(a), top(b));
    for (const e of found) taken.add(e);
  }
  const seen = new Set(seq);
  for (const e of graph.edges) if (e.kind === "body" && seen.has(e.from) && seen.has(e.to)) taken.add(e);
  return taken;
}

function paletteOf(type: string): Palette {
  return PALETTE[type] ?? CUSTOM_PALETTE;
}

function labelsSvg(node: GraphNode, cx: number, top: number, idColour: string, detailColour: string): string {
  return (
    `<text x="${n(cx)}" y="${n(top + 18)}" text-anchor="middle" font-size="12.5" font-weight="600" fill="${idColour}">${escapeXml(short(node.id, MAX_ID))}</text>` +
    `<text x="${n(cx)}" y="${n(top + 33)}" text-anchor="middle" font-size="11" fill="${detailColour}">${escapeXml(short(node.detail, MAX_DETAIL))}</text>`
  );
}

function nodeAttributes(node: LaidOutNode, visited: boolean, current: boolean): string {
  const classes = ["dw-node", `dw-type-${markerSafe(node.node.type)}`, ...(visited ? ["dw-visited"] : []), ...(current ? ["dw-current"] : [])];
  return `class="${classes.join(" ")}" data-step="${escapeXml(node.node.id)}" data-type="${escapeXml(node.node.type)}"`;
}

function nodeSvg(laid: LaidOutNode, visited: boolean, current: boolean): string {
  const { x, y, width: w, height: h, node } = laid;
  const p = paletteOf(node.type);
  const stroke = visited ? TAKEN : p.stroke;
  const sw = visited ? 2.4 : 1.4;
  const paint = `fill="${p.fill}" stroke="${stroke}" stroke-width="${sw}"`;
  const cx = x + w / 2;
  const parts: string[] = [`<g ${nodeAttributes(laid, visited, current)}>`, `<title>${escapeXml(`${node.id} (${node.type}): ${node.detail}`)}</title>`];
  if (current) parts.push(`<rect class="dw-ring" x="${n(x - 5)}" y="${n(y - 5)}" width="${n(w + 10)}" height="${n(h + 10)}" rx="${n(Math.min(h / 2 + 5, 12))}" fill="none" stroke="${TAKEN}" stroke-width="2" stroke-dasharray="4 3"/>`);
  switch (node.type) {
    case "finished":
      parts.push(`<rect x="${n(x)}" y="${n(y)}" width="${n(w)}" height="${n(h)}" rx="${n(h / 2)}" fill="${p.fill}" stroke="${stroke}" stroke-width="${sw}"/>`);
      parts.push(`<text x="${n(cx)}" y="${n(y + h / 2 + 4)}" text-anchor="middle" font-size="11" font-weight="600" fill="#ffffff">finished</text>`);
      parts.push(`</g>`);
      return parts.join("");
    case "start":
      parts.push(`<rect x="${n(x)}" y="${n(y)}" width="${n(w)}" height="${n(h)}" rx="${n(h / 2)}" ${paint}/>`);
      break;
    case "end":
      parts.push(`<rect x="${n(x)}" y="${n(y)}" width="${n(w)}" height="${n(h)}" rx="${n(h / 2)}" ${paint}/>`);
      parts.push(`<rect x="${n(x + 3)}" y="${n(y + 3)}" width="${n(w - 6)}" height="${n(h - 6)}" rx="${n(h / 2 - 3)}" fill="none" stroke="${stroke}" stroke-width="1"/>`);
      break;
    case "router": {
      const k = 14;
      parts.push(`<polygon points="${n(x + k)},${n(y)} ${n(x + w - k)},${n(y)} ${n(x + w)},${n(y + h / 2)} ${n(x + w - k)},${n(y + h)} ${n(x + k)},${n(y + h)} ${n(x)},${n(y + h / 2)}" ${paint}/>`);
      break;
    }
    case "halt": {
      const k = 9;
      parts.push(`<polygon points="${n(x + k)},${n(y)} ${n(x + w - k)},${n(y)} ${n(x + w)},${n(y + k)} ${n(x + w)},${n(y + h - k)} ${n(x + w - k)},${n(y + h)} ${n(x + k)},${n(y + h)} ${n(x)},${n(y + h - k)} ${n(x)},${n(y + k)}" ${paint}/>`);
      break;
    }
    case "approval":
      parts.push(`<rect x="${n(x)}" y="${n(y)}" width="${n(w)}" height="${n(h)}" rx="8" ${paint}/>`);
      parts.push(`<rect x="${n(x)}" y="${n(y)}" width="6" height="${n(h)}" rx="3" fill="${stroke}"/>`);
      break;
    case "workflow":
      parts.push(`<rect x="${n(x)}" y="${n(y)}" width="${n(w)}" height="${n(h)}" rx="3" ${paint}/>`);
      parts.push(`<path d="M${n(x + 8)},${n(y)} V${n(y + h)} M${n(x + w - 8)},${n(y)} V${n(y + h)}" stroke="${stroke}" stroke-width="1"/>`);
      break;
    case "call":
    case "assign":
    case "transform":
      parts.push(`<rect x="${n(x)}" y="${n(y)}" width="${n(w)}" height="${n(h)}" rx="${node.type === "call" ? 4 : 8}" ${paint}${node.type === "transform" ? ` stroke-dasharray="6 2"` : ""}/>`);
      break;
    default:
      parts.push(`<rect x="${n(x)}" y="${n(y)}" width="${n(w)}" height="${n(h)}" rx="${n(h / 2 - 4)}" ${paint}/>`);
  }
  parts.push(labelsSvg(node, cx, y + (h - NODE_HEIGHT) / 2, "#0f172a", "#475569"), `</g>`);
  return parts.join("");
}

function groupSvg(laid: LaidOutNode, visited: boolean, current: boolean): string {
  const { x, y, width: w, height: h, node } = laid;
  const p = paletteOf(node.type);
  const stroke = visited ? TAKEN : p.stroke;
  return [
    `<g ${nodeAttributes(laid, visited, current)}>`,
    `<title>${escapeXml(`${node.id} (${node.type}): ${node.detail}`)}</title>`,
    current ? `<rect class="dw-ring" x="${n(x - 5)}" y="${n(y - 5)}" width="${n(w + 10)}" height="${n(h + 10)}" rx="14" fill="none" stroke="${TAKEN}" stroke-width="2" stroke-dasharray="4 3"/>` : "",
    `<rect x="${n(x)}" y="${n(y)}" width="${n(w)}" height="${n(h)}" rx="10" fill="${p.fill}" stroke="${stroke}" stroke-width="${visited ? 2.4 : 1.4}" stroke-dasharray="${node.type === "parallel" ? "8 3" : "none"}"/>`,
    `<path d="M${n(x)},${n(y + HEADER - 6)} H${n(x + w)}" stroke="${stroke}" stroke-width="0.8" stroke-opacity="0.5"/>`,
    labelsSvg(node, x + w / 2, y, "#0f172a", p.stroke),
    `</g>`,
  ].join("");
}

/** Text for an SVG or HTML document: the five markup characters as entities, control characters replaced. */
export function escapeXml(value: string): string {
  return value
    .replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]/g, "\uFFFD")
    .replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, "\uFFFD")
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** For ids and class names: letters, digits, `_` and `-` only. */
function markerSafe(value: string): string {
  return value.replace(/[^A-Za-z0-9_-]/g, "_");
}
