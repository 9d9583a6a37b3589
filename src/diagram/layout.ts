import type { GraphEdge, GraphNode, WorkflowGraph } from "./graph.ts";

// Layout: layered, top to bottom (Sugiyama-style, kept small). Each scope (the top level, a loop body, the
// branches of a parallel step) is laid out on its own; a loop or parallel step is a box holding its body.
//  1. back edges are found by a depth-first walk from the scope's first step and left out of the layering;
//  2. layers by longest path; an edge spanning several layers gets a waypoint in each layer it crosses;
//  3. order within a layer by the barycenter of the nodes above (then below), ties by definition order;
//  4. x by a few passes towards the neighbours' mean, with the minimum gaps kept exactly (isotonic regression).
// Everything depends only on the definition: the same workflow always gives the same drawing.

export const NODE_HEIGHT = 44;
const FINISHED_SIZE = { width: 92, height: 30 };
const LAYER_GAP = 52;
const NODE_GAP = 26;
const PAD = 14;
export const HEADER = 46;
/** Room between a group's header and its body, for the arrows into the body. */
const BODY_GAP = 16;
const MARGIN = 16;
const BACK_EDGE_ROOM = 44;
const ID_CHAR = 7.3;
const DETAIL_CHAR = 6.3;
/** Longest text of a step id and of its detail line in a drawn node. */
export const MAX_ID = 34;
export const MAX_DETAIL = 38;

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

interface LaidOutEdge {
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

interface WorkflowLayout {
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
    const gap = (a: string, b: string) =>
      (widthOf(a) + widthOf(b)) / 2 + (a.startsWith("\u0000") || b.startsWith("\u0000") ? NODE_GAP / 2 : NODE_GAP);
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
      const points: [number, number][] = chain ? chain.slice(1, -1).map((id) => [at(id).x, at(id).y] as [number, number]) : [];
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
        ? `M${coord(x1)},${coord(y1 - 8)} C${coord(x1 + 30)},${coord(y1 - 24)} ${coord(x1 + 30)},${coord(y1 + 24)} ${coord(x1)},${
          coord(y1 + 8)
        }`
        : `M${coord(x1)},${coord(y1)} C${coord(bulge)},${coord(y1)} ${coord(bulge)},${coord(y2)} ${coord(x2)},${coord(y2)}`;
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
  return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width &&
    inner.y + inner.height <= outer.y + outer.height;
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
export function place(row: string[], desired: number[], gap: (a: string, b: string) => number): number[] {
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
  let d = `M${coord(points[0]![0])},${coord(points[0]![1])}`;
  for (let i = 1; i < points.length; i++) {
    const [x0, y0] = points[i - 1]!;
    const [x1, y1] = points[i]!;
    const h = (y1 - y0) / 2;
    d += ` C${coord(x0)},${coord(y0 + h)} ${coord(x1)},${coord(y1 - h)} ${coord(x1)},${coord(y1)}`;
  }
  return d;
}

/** A coordinate for SVG markup, rounded to a tenth. */
export function coord(value: number): string {
  return String(Math.round(value * 10) / 10);
}
