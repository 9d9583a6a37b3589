// @ts-check
/** `#/executions?workflow=&status=&limit=`: executions newest first, filtered, paged with the API's cursor. */
import { describe, listExecutions, listWorkflows } from "../api.js";
import { errorText, fill, h, link, loading, pageHead } from "../dom.js";
import { badge, compensationNote, STATUSES, stuckBadge, wakeNote } from "../status.js";
import { when } from "../time.js";

/** @typedef {import("../types.js").ExecutionSummary} ExecutionSummary */
/** @typedef {import("../dom.js").Child} Child */

const PAGE_SIZE = 25;

/** @typedef {"status" | "execution" | "workflow" | "step" | "started" | "updated"} Column */

/** The columns an execution table may have: heading and cell. @type {Record<Column, [string, (e: ExecutionSummary) => Child]>} */
const COLUMNS = {
  status: ["Status", (e) => h("span", { class: "status-cell" }, badge(e.status), compensationNote(e), stuckBadge(e), wakeNote(e))],
  execution: ["Execution", (e) => link(["executions", e.id], e.id, "mono")],
  workflow: ["Workflow", (e) => e.workflowId],
  step: ["Step", (e) => h("code", null, e.currentStep || "—")],
  started: ["Started", (e) => when(e.createdAt)],
  updated: ["Updated", (e) => when(e.updatedAt)],
};
/** @type {readonly Column[]} */
const ALL = ["status", "execution", "workflow", "step", "started", "updated"];

/**
 * A table of executions with the named columns (each cell labelled, for the one-column layout of phones).
 * @param {ExecutionSummary[]} executions
 * @param {readonly Column[]} columns
 */
export function executionTable(executions, columns) {
  if (!executions.length) return h("p", { class: "muted" }, "No executions.");
  return h(
    "table",
    { class: "executions" },
    h("thead", null, h("tr", null, columns.map((key) => h("th", null, COLUMNS[key][0])))),
    h("tbody", null, rows(executions, columns)),
  );
}

/** @param {ExecutionSummary[]} executions @param {readonly Column[]} columns */
function rows(executions, columns) {
  return executions.map((e) => h("tr", null, columns.map((key) => h("td", { "data-label": COLUMNS[key][0] }, COLUMNS[key][1](e)))));
}

/** @param {import("../types.js").ViewArgs} args */
export async function show({ query, root, signal, rerender }) {
  const workflowId = query.get("workflow") || "";
  const status = query.get("status") || "";
  const limit = Math.min(100, Math.max(1, Number.parseInt(query.get("limit") || "", 10) || PAGE_SIZE));
  const list = await listWorkflows(signal);
  const filter = () => {
    const params = new URLSearchParams();
    if (workflowSelect.value) params.set("workflow", workflowSelect.value);
    if (statusSelect.value) params.set("status", statusSelect.value);
    if (limit !== PAGE_SIZE) params.set("limit", String(limit));
    const text = params.toString();
    location.hash = "#/executions" + (text ? "?" + text : "");
  };
  const workflowSelect = h(
    "select",
    { id: "filter-workflow", onchange: filter },
    h("option", { value: "" }, "All workflows"),
    list.map((w) => h("option", { value: w.id, selected: w.id === workflowId || undefined }, w.name)),
  );
  const statusSelect = h(
    "select",
    { id: "filter-status", onchange: filter },
    h("option", { value: "" }, "Any status"),
    STATUSES.map((s) => h("option", { value: s, selected: s === status || undefined }, s)),
  );
  const results = h("div", { class: "results" }, loading());
  const more = h("button", { id: "load-more", type: "button", class: "secondary", hidden: true }, "Load more");
  fill(
    root,
    pageHead("Executions"),
    h(
      "form",
      { class: "filters card", onsubmit: (/** @type {Event} */ e) => e.preventDefault() },
      h("label", null, "Workflow", workflowSelect),
      h("label", null, "Status", statusSelect),
      h("button", { type: "button", class: "secondary", onclick: rerender }, "Refresh"),
    ),
    h("section", { class: "card" }, results, h("div", { class: "actions" }, more)),
  );

  /** @type {HTMLTableElement | null} */
  let table = null;
  /** @param {string | null} cursor */
  const load = async (cursor) => {
    const params = new URLSearchParams({ limit: String(limit) });
    if (workflowId) params.set("workflowId", workflowId);
    if (status) params.set("status", status);
    if (cursor) params.set("cursor", cursor);
    const page = await listExecutions(params, signal);
    if (table) {
      table.tBodies[0]?.append(...rows(page.executions, ALL));
    } else {
      const first = executionTable(page.executions, ALL);
      if (first instanceof HTMLTableElement) table = first;
      fill(results, first);
    }
    const next = page.cursor || null;
    more.hidden = !next;
    more.onclick = async () => {
      more.disabled = true;
      try {
        await load(next);
      } catch (e) {
        results.append(errorText(describe(e)));
      } finally {
        more.disabled = false;
      }
    };
  };
  await load(null);
}
