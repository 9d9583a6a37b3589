// @ts-check
/** `#/workflows`: every workflow the app serves, each with its diagram. */
import { listWorkflows } from "../api.js";
import { diagramBox, loadDiagram } from "../diagram.js";
import { fill, h, link, pageHead, route } from "../dom.js";

/** @typedef {import("../types.js").WorkflowSummary} WorkflowSummary */

/** @param {import("../types.js").ViewArgs} args */
export async function show({ root, signal }) {
  const list = await listWorkflows(signal);
  fill(
    root,
    pageHead("Workflows", h("p", { class: "muted" }, list.length + (list.length === 1 ? " workflow" : " workflows"))),
    list.length
      ? h("div", { class: "cards" }, list.map((w) => card(w, signal)))
      : h("p", { class: "card muted" }, "This server lists no workflows."),
  );
}

/** @param {WorkflowSummary} w @param {AbortSignal} signal */
function card(w, signal) {
  const diagram = diagramBox("thumb");
  loadDiagram(diagram, w.id, [], signal);
  return h(
    "article",
    { class: "card workflow-card" },
    h("div", { class: "card-head" }, h("h2", null, link(["workflows", w.id], w.name)), h("span", { class: "pill" }, "v" + w.version)),
    h("p", { class: "meta" }, h("code", null, w.id), " · " + w.steps + " steps · hash ", h("code", null, w.hash.slice(0, 12))),
    w.description ? h("p", { class: "description" }, w.description) : null,
    diagram,
    h(
      "div",
      { class: "actions" },
      h("a", { class: "button", href: route("workflows", w.id) }, "Start a run"),
      h("a", { class: "button secondary", href: "#/executions?workflow=" + encodeURIComponent(w.id) }, "Executions"),
    ),
  );
}
