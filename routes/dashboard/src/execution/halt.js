// @ts-check
/**
 * A halted execution's panel: an approval's prompt and Approve / Reject, a wait for an event and a form that sends
 * one, or any other halt's data and a JSON response form.
 */
import { describe, resumeExecution, sendEventRequest } from "../api.js";
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
  if (data.type === "event") return eventPanel(data, ui, screen);
  return data.type === "approval" ? approvalPanel(data, ui, resume) : responsePanel(data, ui, resume);
}

/**
 * A run waiting in a wait_for_event step: the events it waits for, its match, until when, and a form that sends
 * one of the events (POST /events/:name) — every run waiting for it whose match holds receives it.
 * @param {HaltData} data @param {ActionUi} ui @param {import("../types.js").Screen} screen
 */
function eventPanel(data, ui, screen) {
  const events = Array.isArray(data.events) ? data.events.map(String) : [];
  const name = h("select", { id: "event-name" }, events.map((e) => h("option", { value: e }, e)));
  const payload = h("textarea", { id: "event-payload", class: "code", rows: "5", spellcheck: "false" });
  payload.value = "{}";
  const id = h("input", { id: "event-id", type: "text", placeholder: "optional: an id sent twice is delivered once" });
  const button = h("button", { type: "submit" }, "Send event");
  ui.buttons.push(button);
  const form = h(
    "form",
    { class: "stack" },
    h("label", { for: "event-name" }, "Event"),
    name,
    h("label", { for: "event-payload" }, "Payload (JSON)"),
    payload,
    h("label", { for: "event-id" }, "Id"),
    id,
    ui.error,
    button,
  );
  onJsonSubmit(form, payload, ui, (body) =>
    sendAction(
      screen,
      ui,
      () => sendEventRequest(name.value, body, id.value.trim(), screen.signal),
      "Event sent. Waiting for the run to continue…",
    ));
  return h(
    "section",
    { class: "card halt event", "aria-label": "Waiting for an event" },
    h("h2", null, "Waiting for an event"),
    h("p", { class: "prompt" }, events.join(" or ")),
    data.match ? h("p", null, "Only an event where ", h("code", null, JSON.stringify(data.match))) : null,
    data.expires_at ? null : h("p", { class: "muted" }, "No timeout: it waits until an event arrives."),
    haltFacts(data),
    form,
  );
}

/**
 * Submitting `form` parses `area` as JSON and hands the value to `send`, or says why it is not JSON.
 * @param {HTMLElement} form @param {HTMLTextAreaElement} area @param {ActionUi} ui @param {(value: unknown) => void} send
 */
function onJsonSubmit(form, area, ui, send) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    let value;
    try {
      value = JSON.parse(area.value);
    } catch (err) {
      ui.error.textContent = "Not valid JSON: " + describe(err);
      return;
    }
    send(value);
  });
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
  onJsonSubmit(form, area, ui, (response) => resume({ response }));
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
