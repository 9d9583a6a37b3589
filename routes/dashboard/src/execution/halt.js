// @ts-check
/** A halted execution's panel: an approval's prompt and Approve / Reject, or any other halt's data and a JSON response form. */
import { describe, resumeExecution } from "../api.js";
import { h, json } from "../dom.js";
import { when } from "../time.js";
import { actionUi, sendAction } from "./actions.js";

/** @typedef {import("../types.js").ActionUi} ActionUi */
/** @typedef {import("../types.js").HaltData} HaltData */
/** @typedef {import("../types.js").ResumeBody} ResumeBody */
/** @typedef {(body: Omit<ResumeBody, "mode">) => Promise<void>} Resume */

/** @param {import("../types.js").Screen} screen */
export function haltPanel(screen) {
  /** @type {HaltData} */
  const data = screen.execution.haltData || {};
  const ui = actionUi();
  /** @type {Resume} */
  const resume = (body) =>
    sendAction(screen, ui, () => resumeExecution(screen.id, body, screen.signal), "Answer sent. Waiting for the run to continue…");
  return data.type === "approval" ? approvalPanel(data, ui, resume) : responsePanel(data, ui, resume);
}

/** @param {HaltData} data */
function haltFacts(data) {
  /** @type {[string, import("../dom.js").Child][]} */
  const facts = [];
  if (Array.isArray(data.approvers) && data.approvers.length) facts.push(["Approvers", data.approvers.join(", ")]);
  if (data.requested_at) facts.push(["Requested", when(data.requested_at)]);
  if (data.halted_at) facts.push(["Halted", when(data.halted_at)]);
  if (data.expires_at) facts.push(["Expires", when(data.expires_at)]);
  return facts.length ? h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", null, k), h("dd", null, v)])) : null;
}

/** @param {HaltData} data @param {ActionUi} ui @param {Resume} resume */
function approvalPanel(data, ui, resume) {
  const approve = h("button", { type: "button", class: "approve", onclick: () => resume({ approved: true }) }, "Approve");
  const reject = h("button", { type: "button", class: "reject", onclick: () => resume({ approved: false }) }, "Reject");
  ui.buttons.push(approve, reject);
  return h(
    "section",
    { class: "card halt approval", "aria-label": "Approval" },
    h("h2", null, "Waiting for approval"),
    h("p", { class: "prompt" }, String(data.prompt ?? "")),
    haltFacts(data),
    data.context !== undefined ? h("div", null, h("h3", null, "Context"), json(data.context)) : null,
    ui.error,
    h("div", { class: "actions" }, approve, reject),
  );
}

/** Any other halt: its reason and data, and a JSON response form. @param {HaltData} data @param {ActionUi} ui @param {Resume} resume */
function responsePanel(data, ui, resume) {
  const area = h("textarea", { id: "resume-response", class: "code", rows: "5", spellcheck: "false" });
  area.value = "{}";
  const button = h("button", { type: "submit" }, "Resume");
  ui.buttons.push(button);
  const form = h(
    "form",
    { class: "stack" },
    h("label", { for: "resume-response" }, "Response (JSON, available as $response)"),
    area,
    ui.error,
    button,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    let response;
    try {
      response = JSON.parse(area.value);
    } catch (err) {
      ui.error.textContent = "Not valid JSON: " + describe(err);
      return;
    }
    resume({ response });
  });
  return h(
    "section",
    { class: "card halt", "aria-label": "Halted" },
    h("h2", null, "Halted"),
    h("p", { class: "prompt" }, String(data.reason ?? "Halted")),
    haltFacts(data),
    h("h3", null, "Halt data"),
    json(data),
    form,
  );
}
