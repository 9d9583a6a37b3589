// @ts-check
/**
 * `#/executions?workflow=&status=&labels=name=value,…&limit=`: executions newest first, filtered, paged with the
 * API's cursor; what a filter selects can be cancelled or retried in bulk, after a dry run and a confirmation.
 */
import { bulkAction, describe, listExecutions, listWorkflows } from "../api.js";
import { errorText, fill, h, link, loading, pageHead } from "../dom.js";
import { badge, compensationNote, STATUSES, stuckBadge, wakeNote } from "../status.js";
import { when } from "../time.js";

/** @typedef {import("../types.js").ExecutionSummary} ExecutionSummary */
/** @typedef {import("../types.js").Status} Status */
/** @typedef {import("../dom.js").Child} Child */

const PAGE_SIZE = 25;

/** @typedef {"status" | "execution" | "workflow" | "labels" | "step" | "started" | "updated"} Column */

/** The columns an execution table may have: heading and cell. @type {Record<Column, [string, (e: ExecutionSummary) => Child]>} */
const COLUMNS = {
  status: ["Status", (e) => h("span", { class: "status-cell" }, badge(e.status), compensationNote(e), stuckBadge(e), wakeNote(e))],
  execution: ["Execution", (e) => link(["executions", e.id], e.id, "mono")],
  workflow: ["Workflow", (e) => e.workflowId],
  labels: ["Labels", (e) => labelChips(e.labels)],
  step: ["Step", (e) => h("code", null, e.currentStep || "—")],
  started: ["Started", (e) => when(e.createdAt)],
  updated: ["Updated", (e) => when(e.updatedAt)],
};
/** @type {readonly Column[]} */
const ALL = ["status", "execution", "workflow", "labels", "step", "started", "updated"];

/** @param {Record<string, string> | undefined} labels */
function labelChips(labels) {
  const entries = Object.entries(labels || {});
  if (!entries.length) return h("span", { class: "muted" }, "—");
  return h("span", { class: "labels" }, entries.map(([name, value]) => h("code", { class: "label" }, name + "=" + value)));
}

/**
 * `name=value` pairs, comma-separated (the label filter's text), as a record; null when one is not a pair.
 * @param {string} text
 * @returns {Record<string, string> | null}
 */
export function parseLabels(text) {
  /** @type {Record<string, string>} */
  const labels = {};
  for (const part of text.split(",").map((p) => p.trim()).filter(Boolean)) {
    const at = part.indexOf("=");
    if (at < 1) return null;
    labels[part.slice(0, at).trim()] = part.slice(at + 1).trim();
  }
  return labels;
}

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
  const labelText = query.get("labels") || "";
  const labels = parseLabels(labelText) || {};
  const limit = Math.min(100, Math.max(1, Number.parseInt(query.get("limit") || "", 10) || PAGE_SIZE));
  const list = await listWorkflows(signal);
  const filter = () => {
    const params = new URLSearchParams();
    if (workflowSelect.value) params.set("workflow", workflowSelect.value);
    if (statusSelect.value) params.set("status", statusSelect.value);
    if (labelInput.value.trim()) params.set("labels", labelInput.value.trim());
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
  const labelInput = h("input", {
    id: "filter-labels",
    type: "text",
    value: labelText,
    placeholder: "customer=C-7, team=payments",
    autocomplete: "off",
    onchange: () => {
      labelInput.setCustomValidity(parseLabels(labelInput.value) ? "" : "Write name=value pairs, separated by commas");
      if (labelInput.reportValidity()) filter();
    },
  });
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
      h("label", null, "Labels", labelInput),
      h("button", { type: "button", class: "secondary", onclick: rerender }, "Refresh"),
    ),
    workflowId || status || Object.keys(labels).length
      ? bulkPanel(
        { ...(workflowId ? { workflowId } : {}), ...(status ? { status: /** @type {Status} */ (status) } : {}), labels },
        signal,
        rerender,
      )
      : null,
    h("section", { class: "card" }, results, h("div", { class: "actions" }, more)),
  );

  /** @type {HTMLTableElement | null} */
  let table = null;
  /** @param {string | null} cursor */
  const load = async (cursor) => {
    const params = new URLSearchParams({ limit: String(limit) });
    if (workflowId) params.set("workflowId", workflowId);
    if (status) params.set("status", status);
    for (const [name, value] of Object.entries(labels)) params.set("label." + name, value);
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

const BULK_MAX = 100;

/**
 * Cancel or retry everything the filter selects: a dry run first lists what would be acted on, a confirmation
 * acts, and each execution's result is shown.
 * @param {import("../types.js").BulkBody["filter"]} filter
 * @param {AbortSignal} signal
 * @param {() => void} rerender
 */
function bulkPanel(filter, signal, rerender) {
  const out = h("div", { class: "bulk-out", "aria-live": "polite" });
  const error = h("p", { class: "error", role: "alert" });
  /** @param {"cancel" | "retry"} action */
  const preview = async (action) => {
    error.textContent = "";
    try {
      const dry = await bulkAction(action, { filter, max: BULK_MAX, dryRun: true }, signal);
      const verb = action === "cancel" ? "cancelled" : "retried";
      if (!dry.results.length) return fill(out, h("p", { class: "muted" }, "Nothing here can be " + verb + "."));
      const confirm = h(
        "button",
        { id: "bulk-confirm", type: "button", class: action === "cancel" ? "reject" : "" },
        (action === "cancel" ? "Cancel " : "Retry ") + dry.results.length + " executions",
      );
      const back = h("button", { type: "button", class: "secondary", onclick: () => fill(out) }, "Back");
      confirm.onclick = async () => {
        confirm.disabled = true;
        try {
          const done = await bulkAction(action, { filter, max: BULK_MAX }, signal);
          fill(out, resultList(done), h("button", { type: "button", class: "secondary", onclick: rerender }, "Refresh the list"));
        } catch (e) {
          error.textContent = describe(e);
          confirm.disabled = false;
        }
      };
      fill(
        out,
        h(
          "p",
          { id: "bulk-preview" },
          dry.results.length + (dry.more ? "+" : "") + " executions will be " + verb +
            (dry.more ? " (the first " + BULK_MAX + " now)" : "") + ":",
        ),
        h("ul", { class: "bulk-ids" }, dry.results.map((r) => h("li", null, link(["executions", r.executionId], r.executionId, "mono")))),
        h("div", { class: "actions" }, confirm, back),
      );
    } catch (e) {
      error.textContent = describe(e);
    }
  };
  return h(
    "section",
    { class: "card bulk", "aria-label": "Bulk actions" },
    h(
      "div",
      { class: "actions" },
      h("button", { id: "bulk-cancel", type: "button", class: "secondary", onclick: () => preview("cancel") }, "Cancel matching…"),
      h("button", { id: "bulk-retry", type: "button", class: "secondary", onclick: () => preview("retry") }, "Retry matching…"),
    ),
    out,
    error,
  );
}

/** @param {import("../types.js").BulkAnswer} answer */
function resultList(answer) {
  return h(
    "ul",
    { class: "bulk-results" },
    answer.results.map((r) =>
      h(
        "li",
        { class: r.ok ? "ok" : "failed" },
        link(["executions", r.executionId], r.executionId, "mono"),
        r.ok ? " — " + r.status : " — " + (r.error ? r.error.status + ": " + r.error.detail : "failed"),
      )
    ),
  );
}
