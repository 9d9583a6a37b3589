// @ts-check
/**
 * `#/workflows/<id>`: the diagram, the inputs and a form to start a run, the triggers, the recent executions, the
 * stored versions.
 */
import { describe, getFlow, getWorkflow, listExecutions, listVersions, startExecution } from "../api.js";
import { diagramBox, loadDiagram } from "../diagram.js";
import { errorText, fill, h, loading, pageHead, route } from "../dom.js";
import { when } from "../time.js";
import { executionTable } from "./executions.js";

/** @typedef {import("../types.js").InputSpec} InputSpec */
/** @typedef {import("../types.js").WorkflowDetail} WorkflowDetail */
/** @typedef {import("../types.js").WorkflowVersion} WorkflowVersion */

/** @param {import("../types.js").ViewArgs} args */
export async function show({ params: [id = ""], root, signal }) {
  const w = await getWorkflow(id, signal);
  const diagram = diagramBox();
  loadDiagram(diagram, w.id, [], signal);
  const recent = h("div", { class: "recent" }, loading());
  const versions = h("div", { class: "versions-slot" }, loading());
  const limited = w.concurrency || w.rate || w.debounce || w.priority !== undefined;
  const flow = limited ? h("div", { class: "flow-slot" }, loading()) : null;
  fill(
    root,
    pageHead(w.name, h("span", { class: "pill" }, "v" + w.version)),
    h(
      "p",
      { class: "meta" },
      h("code", null, w.id),
      " · hash ",
      h("code", null, w.hash.slice(0, 12)),
      w.timeout ? " · timeout " + w.timeout + " s" : "",
    ),
    w.description ? h("p", { class: "description" }, w.description) : null,
    h(
      "div",
      { class: "split workflow" },
      h("section", { class: "card" }, h("h2", null, "Diagram"), diagram),
      h(
        "div",
        { class: "column" },
        h("section", { class: "card" }, h("h2", null, "Start a run"), inputsList(w.inputs), runForm(w)),
        w.triggers && w.triggers.length ? triggersCard(w) : null,
        h("section", { class: "card" }, h("h2", null, "Recent executions"), recent),
        flow ? h("section", { class: "card" }, h("h2", null, "Flow control"), flow) : null,
        h("section", { class: "card" }, h("h2", null, "Versions"), versions),
      ),
    ),
  );
  /** @param {HTMLElement} slot @param {Promise<import("../dom.js").Child>} content */
  const settle = (slot, content) =>
    content.then((node) => fill(slot, node), (e) => {
      if (!signal.aborted) fill(slot, errorText(describe(e)));
    });
  settle(
    recent,
    listExecutions(new URLSearchParams({ limit: "10", workflowId: w.id }), signal).then((page) => executionTable(page.executions, RECENT)),
  );
  settle(versions, listVersions(w.id, signal).then(versionTable));
  if (flow) settle(flow, getFlow(w.id, signal).then(flowTable));
}

/** The workflow's limits, then each key in use: holders of its slots (or starts in the rate's window) and waiters. @param {import("../types.js").WorkflowFlow} f */
function flowTable(f) {
  const limits = [
    f.concurrency ? "concurrency " + JSON.stringify(f.concurrency) : null,
    f.rate ? "rate " + JSON.stringify(f.rate) : null,
    f.priority !== null ? "priority " + JSON.stringify(f.priority) : null,
    f.debounce ? "debounce " + JSON.stringify(f.debounce) : null,
  ].filter(Boolean).join(" · ");
  const rows = f.keys.map((k) =>
    h(
      "tr",
      { "data-key": k.key },
      h("td", { "data-label": "Kind" }, k.kind),
      h("td", { "data-label": "Key" }, h("code", null, k.key)),
      h("td", { "data-label": "Usage" }, k.holders.length + " / " + k.limit + (k.period ? " per " + k.period + " s" : "")),
      h("td", { "data-label": "Waiting" }, String(k.waiting)),
    )
  );
  return [
    h("p", { class: "meta" }, limits),
    rows.length
      ? h(
        "table",
        { class: "executions flow" },
        h("thead", null, h("tr", null, ["Kind", "Key", "Usage", "Waiting"].map((t) => h("th", null, t)))),
        h("tbody", null, rows),
      )
      : h("p", { class: "muted" }, "No key in use yet."),
  ];
}

/** The recent executions of one workflow, in a narrow column: no workflow, step or update time. @type {import("./executions.js").Column[]} */
const RECENT = ["status", "execution", "started"];

/**
 * What starts runs of a workflow by itself: each cron trigger with its time zone and next start, each event trigger
 * with its match.
 * @param {WorkflowDetail} w
 */
function triggersCard(w) {
  const starts = w.nextStarts || [];
  let cron = 0;
  const items = (w.triggers || []).map((t) => {
    if (t.event) {
      return h(
        "li",
        null,
        "On event ",
        h("code", null, String(t.event)),
        t.match ? [" where ", h("code", null, JSON.stringify(t.match))] : null,
      );
    }
    const next = starts[cron++];
    return h(
      "li",
      null,
      "Cron ",
      h("code", null, String(t.cron)),
      " (" + (t.timezone || "UTC") + ")",
      next ? [" · next start ", next.next ? when(next.next) : "none within a year"] : null,
    );
  });
  return h("section", { class: "card triggers", "aria-label": "Triggers" }, h("h2", null, "Triggers"), h("ul", null, items));
}

/** The definitions stored for a workflow, oldest first, with the runs standing on each. @param {WorkflowVersion[]} list */
function versionTable(list) {
  if (!list.length) return h("p", { class: "muted" }, "No version stored yet.");
  return h(
    "table",
    { class: "executions versions" },
    h("thead", null, h("tr", null, ["Version", "Hash", "Stored", "Current", "Halted", "Pending"].map((t) => h("th", null, t)))),
    h(
      "tbody",
      null,
      list.map((v) =>
        h(
          "tr",
          { class: v.current ? "current" : null, "data-hash": v.hash },
          h("td", { "data-label": "Version" }, "v" + v.version),
          h("td", { "data-label": "Hash" }, h("code", { title: v.hash }, v.hash.slice(0, 12))),
          h("td", { "data-label": "Stored" }, when(v.storedAt), v.storedBy ? h("span", { class: "stored-by" }, " by " + v.storedBy) : null),
          h("td", { "data-label": "Current" }, v.current ? h("span", { class: "badge status-completed" }, "current") : ""),
          h("td", { "data-label": "Halted" }, String(v.halted)),
          h("td", { "data-label": "Pending" }, String(v.pending)),
        )
      ),
    ),
  );
}

/** @param {WorkflowDetail["inputs"]} inputs */
function inputsList(inputs) {
  const specs = Object.entries(inputs || {});
  if (!specs.length) return null;
  return h(
    "dl",
    { class: "inputs" },
    specs.map(([name, spec]) => [
      h("dt", null, h("code", null, name)),
      h(
        "dd",
        null,
        spec.type || "any",
        spec.required ? " · required" : " · optional",
        spec.description ? h("span", { class: "muted" }, " — " + spec.description) : null,
      ),
    ]),
  );
}

/** A JSON object with every declared input: its default, or a blank of its type. @param {WorkflowDetail["inputs"]} inputs */
function inputTemplate(inputs) {
  /** @type {Record<string, unknown>} */
  const blanks = { string: "", integer: 0, number: 0, boolean: false, array: [], object: {} };
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [name, spec] of Object.entries(inputs || {})) {
    out[name] = spec.default !== undefined ? spec.default : blanks[spec.type || ""] ?? null;
  }
  return out;
}

/** The JSON input form that starts a run and opens it. @param {WorkflowDetail} w */
function runForm(w) {
  const area = h("textarea", { id: "run-input", class: "code", rows: "12", spellcheck: "false" });
  area.value = JSON.stringify(inputTemplate(w.inputs), null, 2);
  const error = h("p", { class: "error", role: "alert" });
  const button = h("button", { type: "submit" }, "Start run");
  const form = h("form", { id: "run-form", class: "stack" }, h("label", { for: "run-input" }, "Input (JSON object)"), area, error, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let input;
    try {
      input = JSON.parse(area.value.trim() || "{}");
    } catch (e) {
      error.textContent = "Not valid JSON: " + describe(e);
      return;
    }
    if (!input || typeof input !== "object" || Array.isArray(input)) {
      error.textContent = "The input must be a JSON object.";
      return;
    }
    button.disabled = true;
    error.textContent = "";
    try {
      const started = await startExecution(w.id, input);
      location.hash = route("executions", started.executionId);
    } catch (e) {
      error.textContent = describe(e);
      button.disabled = false;
    }
  });
  return form;
}
