import type { StepRegistry } from "../steps/registry.ts";
import { type GraphEdge, type GraphEdgeKind, type GraphNode, type GraphSource, short, type WorkflowGraph, workflowGraph } from "./graph.ts";
import { coord, HEADER, type LaidOutNode, layoutWorkflowGraph, MAX_DETAIL, MAX_ID, NODE_HEIGHT, place } from "./layout.ts";

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
  wait: { fill: "#f5f3e7", stroke: "#8a6d1d" },
  http: { fill: "#e6f7f9", stroke: "#0e7490" },
  wait_for_event: { fill: "#f5f3e7", stroke: "#8a6d1d" },
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

interface SvgOptions {
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
    `<svg xmlns="http://www.w3.org/2000/svg" class="dw-diagram" viewBox="0 0 ${coord(layout.width)} ${coord(layout.height)}" width="${
      coord(layout.width)
    }" height="${coord(layout.height)}" role="img" aria-label="${escapeXml(`Diagram of ${title}`)}" font-family="${escapeXml(FONT)}">`,
    `<title>${escapeXml(`Diagram of ${title}`)}</title>`,
    `<defs>`,
  );
  for (const [name, colour] of [["", "#64748b"], ["-taken", TAKEN], ["-error", EDGE_COLOURS.on_error]] as const) {
    out.push(
      `<marker id="${prefix}-arrow${name}" viewBox="0 0 10 10" refX="9" refY="5" markerUnits="userSpaceOnUse" markerWidth="9" markerHeight="9" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="${colour}"/></marker>`,
    );
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
      `<path class="dw-edge dw-edge-${kind}${isTaken ? " dw-taken" : ""}" data-from="${escapeXml(edge.from)}" data-to="${
        escapeXml(edge.to)
      }" data-kind="${escapeXml(edge.edges.map((e) => e.kind).join(" "))}" d="${edge.path}" stroke="${colour}" stroke-width="${
        isTaken ? 2.6 : 1.4
      }"${
        error ? ` stroke-dasharray="5 4"` : kind === "body" ? ` stroke-dasharray="2 3"` : ""
      } marker-end="url(#${prefix}-arrow${marker})"/>`,
    );
  }
  out.push(`</g>`);
  for (const node of layout.nodes) if (!node.group) out.push(nodeSvg(node, visited.has(node.node.id), current === node.node.id));
  out.push(`<g class="dw-edge-labels" font-size="10.5">`);
  const labels = layout.edges.flatMap((edge) => {
    const texts = [...new Set(edge.edges.map((e) => e.label).filter((l): l is string => !!l))];
    if (!texts.length || !edge.labelAt) return [];
    const text = short(texts.join(" / "));
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
    const xs = place(
      row.map((l) => String(row.indexOf(l))),
      row.map((l) => l.x),
      (a, b) => (row[Number(a)]!.width + row[Number(b)]!.width) / 2 + 6,
    );
    row.forEach((label, i) => (label.x = xs[i]!));
  }
  for (const { edge, text, width, x, y } of labels) {
    const kind = edge.edges[0]!.kind;
    out.push(
      `<g class="dw-edge-label" data-from="${escapeXml(edge.from)}" data-to="${escapeXml(edge.to)}"><rect x="${coord(x - width / 2)}" y="${
        coord(y - 8)
      }" width="${coord(width)}" height="16" rx="4" fill="#ffffff" fill-opacity="0.92"/><text x="${coord(x)}" y="${
        coord(y + 3.5)
      }" text-anchor="middle" fill="${EDGE_COLOURS[kind]}">${escapeXml(text)}</text></g>`,
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
    `<text x="${coord(cx)}" y="${coord(top + 18)}" text-anchor="middle" font-size="12.5" font-weight="600" fill="${idColour}">${
      escapeXml(`${node.compensation ? "↺ " : ""}${short(node.id, MAX_ID)}`)
    }</text>` +
    `<text x="${coord(cx)}" y="${coord(top + 33)}" text-anchor="middle" font-size="11" fill="${detailColour}">${
      escapeXml(short(node.detail, MAX_DETAIL))
    }</text>`
  );
}

function nodeAttributes(node: LaidOutNode, visited: boolean, current: boolean): string {
  const classes = [
    "dw-node",
    `dw-type-${markerSafe(node.node.type)}`,
    ...(visited ? ["dw-visited"] : []),
    ...(current ? ["dw-current"] : []),
  ];
  return `class="${classes.join(" ")}" data-step="${escapeXml(node.node.id)}" data-type="${escapeXml(node.node.type)}"`;
}

function nodeSvg(laid: LaidOutNode, visited: boolean, current: boolean): string {
  const { x, y, width: w, height: h, node } = laid;
  const p = paletteOf(node.type);
  const stroke = visited ? TAKEN : p.stroke;
  const sw = visited ? 2.4 : 1.4;
  const paint = `fill="${p.fill}" stroke="${stroke}" stroke-width="${sw}"`;
  const cx = x + w / 2;
  const parts: string[] = [
    `<g ${nodeAttributes(laid, visited, current)}>`,
    `<title>${
      escapeXml(`${node.id} (${node.type}): ${node.detail}${node.compensation ? `; undone by ${node.compensation}` : ""}`)
    }</title>`,
  ];
  if (current) {
    parts.push(
      `<rect class="dw-ring" x="${coord(x - 5)}" y="${coord(y - 5)}" width="${coord(w + 10)}" height="${coord(h + 10)}" rx="${
        coord(Math.min(h / 2 + 5, 12))
      }" fill="none" stroke="${TAKEN}" stroke-width="2" stroke-dasharray="4 3"/>`,
    );
  }
  switch (node.type) {
    case "finished":
      parts.push(
        `<rect x="${coord(x)}" y="${coord(y)}" width="${coord(w)}" height="${coord(h)}" rx="${
          coord(h / 2)
        }" fill="${p.fill}" stroke="${stroke}" stroke-width="${sw}"/>`,
      );
      parts.push(
        `<text x="${coord(cx)}" y="${
          coord(y + h / 2 + 4)
        }" text-anchor="middle" font-size="11" font-weight="600" fill="#ffffff">finished</text>`,
      );
      parts.push(`</g>`);
      return parts.join("");
    case "start":
      parts.push(`<rect x="${coord(x)}" y="${coord(y)}" width="${coord(w)}" height="${coord(h)}" rx="${coord(h / 2)}" ${paint}/>`);
      break;
    case "end":
      parts.push(`<rect x="${coord(x)}" y="${coord(y)}" width="${coord(w)}" height="${coord(h)}" rx="${coord(h / 2)}" ${paint}/>`);
      parts.push(
        `<rect x="${coord(x + 3)}" y="${coord(y + 3)}" width="${coord(w - 6)}" height="${coord(h - 6)}" rx="${
          coord(h / 2 - 3)
        }" fill="none" stroke="${stroke}" stroke-width="1"/>`,
      );
      break;
    case "router": {
      const k = 14;
      parts.push(
        `<polygon points="${coord(x + k)},${coord(y)} ${coord(x + w - k)},${coord(y)} ${coord(x + w)},${coord(y + h / 2)} ${
          coord(x + w - k)
        },${coord(y + h)} ${coord(x + k)},${coord(y + h)} ${coord(x)},${coord(y + h / 2)}" ${paint}/>`,
      );
      break;
    }
    case "halt": {
      const k = 9;
      parts.push(
        `<polygon points="${coord(x + k)},${coord(y)} ${coord(x + w - k)},${coord(y)} ${coord(x + w)},${coord(y + k)} ${coord(x + w)},${
          coord(y + h - k)
        } ${coord(x + w - k)},${coord(y + h)} ${coord(x + k)},${coord(y + h)} ${coord(x)},${coord(y + h - k)} ${coord(x)},${
          coord(y + k)
        }" ${paint}/>`,
      );
      break;
    }
    case "approval":
      parts.push(`<rect x="${coord(x)}" y="${coord(y)}" width="${coord(w)}" height="${coord(h)}" rx="8" ${paint}/>`);
      parts.push(`<rect x="${coord(x)}" y="${coord(y)}" width="6" height="${coord(h)}" rx="3" fill="${stroke}"/>`);
      break;
    case "workflow":
      parts.push(`<rect x="${coord(x)}" y="${coord(y)}" width="${coord(w)}" height="${coord(h)}" rx="3" ${paint}/>`);
      parts.push(
        `<path d="M${coord(x + 8)},${coord(y)} V${coord(y + h)} M${coord(x + w - 8)},${coord(y)} V${
          coord(y + h)
        }" stroke="${stroke}" stroke-width="1"/>`,
      );
      break;
    case "call":
    case "assign":
    case "transform":
      parts.push(
        `<rect x="${coord(x)}" y="${coord(y)}" width="${coord(w)}" height="${coord(h)}" rx="${node.type === "call" ? 4 : 8}" ${paint}${
          node.type === "transform" ? ` stroke-dasharray="6 2"` : ""
        }/>`,
      );
      break;
    default:
      parts.push(`<rect x="${coord(x)}" y="${coord(y)}" width="${coord(w)}" height="${coord(h)}" rx="${coord(h / 2 - 4)}" ${paint}/>`);
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
    current
      ? `<rect class="dw-ring" x="${coord(x - 5)}" y="${coord(y - 5)}" width="${coord(w + 10)}" height="${
        coord(h + 10)
      }" rx="14" fill="none" stroke="${TAKEN}" stroke-width="2" stroke-dasharray="4 3"/>`
      : "",
    `<rect x="${coord(x)}" y="${coord(y)}" width="${coord(w)}" height="${
      coord(h)
    }" rx="10" fill="${p.fill}" stroke="${stroke}" stroke-width="${visited ? 2.4 : 1.4}" stroke-dasharray="${
      node.type === "parallel" ? "8 3" : "none"
    }"/>`,
    `<path d="M${coord(x)},${coord(y + HEADER - 6)} H${coord(x + w)}" stroke="${stroke}" stroke-width="0.8" stroke-opacity="0.5"/>`,
    labelsSvg(node, x + w / 2, y, "#0f172a", p.stroke),
    `</g>`,
  ].join("");
}

/** Text for an SVG or HTML document: the five markup characters as entities, control characters replaced. */
function escapeXml(value: string): string {
  return value
    // deno-lint-ignore no-control-regex -- control characters are what this replaces
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
