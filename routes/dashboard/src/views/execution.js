// @ts-check
/**
 * `#/executions/<id>`: status, times, the halt or action panel, the timeline, the data, and the diagram with
 * the path taken; followed live while it runs. `update` redraws every panel whenever the execution changes.
 */
import { getEntries, getExecution, getWorkflow } from "../api.js";
import { diagramBox, loadDiagram } from "../diagram.js";
import { dataBlock, fill, h, link, pageHead } from "../dom.js";
import { actionsPanel } from "../execution/actions.js";
import { haltPanel } from "../execution/halt.js";
import { follow } from "../execution/live.js";
import { operatorsPanel, readOperators } from "../execution/operators.js";
import { loopIds, timeline } from "../execution/timeline.js";
import { badge, compensationNote, LIVE, stuckBadge, stuckSince, wakeNote } from "../status.js";
import { duration, when } from "../time.js";

/** @typedef {import("../dom.js").Child} Child */
/** @typedef {import("../types.js").Execution} Execution */
/** @typedef {import("../types.js").Screen} Screen */

/** @param {import("../types.js").ViewArgs} args */
export async function show({ params: [id = ""], root, signal }) {
  const [execution, entries] = await Promise.all([getExecution(id, signal), getEntries(id, signal)]);
  /** @type {Screen} */
  const screen = {
    id,
    signal,
    execution,
    entries,
    loops: new Set(),
    running: null,
    lastEventId: null,
    following: false,
    waitPast: null,
    gone: false,
    haltKey: null,
    actionsKey: null,
    highlightKey: null,
    refreshTimer: null,
    operators: [],
    els: {
      status: h("span", { class: "status-slot" }),
      live: h("span", { class: "live", hidden: true }),
      meta: h("p", { class: "meta" }),
      operators: h("div", { class: "operators-slot" }),
      halt: h("div", { class: "halt-slot" }),
      actions: h("div", { class: "actions-slot" }),
      timeline: h("div", { class: "timeline-slot" }),
      data: h("div", { class: "data-slot" }),
      diagram: diagramBox(),
    },
    redraw: () => update(screen),
  };
  const els = screen.els;
  fill(
    root,
    pageHead("Execution", els.status, els.live),
    h("p", { class: "exec-id" }, h("code", null, id)),
    els.meta,
    els.operators,
    els.halt,
    els.actions,
    h(
      "div",
      { class: "split execution" },
      h(
        "div",
        { class: "column" },
        h("section", { class: "card" }, h("h2", null, "Timeline"), els.timeline),
        h("section", { class: "card" }, h("h2", null, "Data"), els.data),
      ),
      h("section", { class: "card" }, h("h2", null, "Path"), els.diagram),
    ),
  );
  update(screen);
  // The loop steps number the iterations on the timeline (a workflow no longer served: its finished loops still do).
  getWorkflow(execution.workflowId, signal).then((w) => {
    screen.loops = loopIds(w.steps);
    if (!signal.aborted && screen.loops.size) fill(els.timeline, timeline(screen));
  }, () => {});
  if (LIVE.includes(execution.status)) follow(screen);
  else readOperators(screen);
}

/** Redraws every panel from `screen.execution` and `screen.entries`. @param {Screen} screen */
function update(screen) {
  const e = screen.execution;
  const els = screen.els;
  document.title = e.status + " · " + e.workflowId + " · durable-workflow";
  fill(els.status, badge(e.status), compensationNote(e), stuckBadge(e));
  fill(els.meta, executionMeta(e));
  fill(els.operators, operatorsPanel(screen.operators));

  const haltKey = e.status === "halted" ? e.revision + ":" + JSON.stringify(e.haltData) : "";
  if (haltKey !== screen.haltKey) {
    screen.haltKey = haltKey;
    fill(els.halt, e.status === "halted" ? haltPanel(screen) : null);
  }
  const actionsKey = e.status + (stuckSince(e) ? ":stuck" : "") + (e.compensating ? ":compensating" : "");
  if (actionsKey !== screen.actionsKey) {
    screen.actionsKey = actionsKey;
    fill(els.actions, actionsPanel(screen));
  }

  fill(els.timeline, timeline(screen));
  fill(els.data, executionData(e));

  const highlight = highlightOf(screen);
  const key = e.workflowId + "|" + highlight.join(",");
  if (key !== screen.highlightKey) {
    screen.highlightKey = key;
    loadDiagram(els.diagram, e.workflowId, highlight, screen.signal);
  }
}

/** The line under the execution id: workflow, times, current step. @param {Execution} e @returns {Child[]} */
function executionMeta(e) {
  const elapsed = Date.parse(e.updatedAt) - Date.parse(e.createdAt);
  const wake = wakeNote(e);
  return [
    "Workflow ",
    link(["workflows", e.workflowId], e.workflowId),
    " v" + e.workflowVersion,
    " · started ",
    when(e.createdAt),
    " · updated ",
    when(e.updatedAt),
    Number.isFinite(elapsed) ? " · " + duration(elapsed) : "",
    e.currentStep ? [" · step ", h("code", null, e.currentStep)] : null,
    wake ? [" · ", wake] : null,
    e.trace ? [" · trace ", h("code", { title: "traceparent " + e.trace.traceparent }, e.trace.traceparent.split("-")[1] ?? "")] : null,
  ];
}

/** @param {Execution} e @returns {Child[]} */
function executionData(e) {
  return [
    (e.status === "failed" || e.status === "cancelled") && e.error ? h("p", { class: "error failure" }, e.error) : null,
    e.flow?.waiting ? h("p", { class: "flow-waiting muted" }, "Flow control: " + e.flow.waiting) : null,
    e.status === "completed" ? dataBlock("Result", e.result, true) : null,
    dataBlock("Input", e.input, e.status !== "completed"),
    dataBlock("Context (ctx)", e.ctx, false),
  ];
}

/** The step ids to highlight on the diagram: the path taken, repeats collapsed. @param {Screen} screen */
function highlightOf(screen) {
  /** @type {string[]} */
  const ids = [];
  for (const entry of screen.entries) if (ids[ids.length - 1] !== entry.stepId) ids.push(entry.stepId);
  if (screen.running && ids[ids.length - 1] !== screen.running) ids.push(screen.running);
  return ids.slice(-300);
}
