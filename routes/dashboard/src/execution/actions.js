// @ts-check
/**
 * What an operator does to a run: Recover when it is stuck, Retry when it failed, Cancel (with an optional
 * reason) while it has not ended. A new action is a client function in api.js and a button here that calls it
 * through `sendAction`.
 */
import { cancelExecution, describe, recoverExecution, retryExecution } from "../api.js";
import { fill, h } from "../dom.js";
import { stuckSince } from "../status.js";
import { when } from "../time.js";
import { follow } from "./live.js";

/** @typedef {import("../types.js").Screen} Screen */
/** @typedef {import("../types.js").ActionUi} ActionUi */
/** @typedef {(call: () => Promise<unknown>, sent: string) => Promise<void>} Act */

/** @type {readonly string[]} */
const CANCELLABLE = ["pending", "running", "halted"];

/** An action panel's buttons and error line. @returns {ActionUi} */
export function actionUi() {
  return { buttons: [], error: h("p", { class: "error", role: "alert" }) };
}

/**
 * Runs an action's API call with its buttons disabled; on success waits (up to a minute) for the execution's
 * revision to move, and follows it live again.
 * @param {Screen} screen
 * @param {ActionUi} ui
 * @param {() => Promise<unknown>} call
 * @param {string} sent shown in place of the panel while the run has not moved yet
 */
export async function sendAction(screen, ui, call, sent) {
  for (const b of ui.buttons) b.disabled = true;
  ui.error.textContent = "";
  try {
    await call();
    screen.waitPast = { revision: screen.execution.revision, until: Date.now() + 60000 };
    screen.haltKey = null;
    screen.actionsKey = null;
    fill(screen.els.halt, h("section", { class: "card halt sent" }, h("p", null, sent)));
    follow(screen);
  } catch (err) {
    ui.error.textContent = describe(err);
    for (const b of ui.buttons) b.disabled = false;
  }
}

/** @param {Screen} screen */
export function actionsPanel(screen) {
  const e = screen.execution;
  const stuck = stuckSince(e);
  const ui = actionUi();
  /** @type {Act} */
  const act = (call, sent) => sendAction(screen, ui, call, sent);
  /** @param {string} cls @param {string} text @param {() => void} onclick */
  const button = (cls, text, onclick) => h("button", { type: "button", class: cls, onclick }, text);
  /** @type {HTMLButtonElement[]} */
  const top = [];
  if (stuck) {
    top.push(
      button(
        "recover",
        "Recover",
        () => act(() => recoverExecution(screen.id, screen.signal), "Handed back to the queue. Waiting for the run to move…"),
      ),
    );
  }
  if (e.status === "failed" && e.compensated == null) {
    top.push(
      button(
        "retry",
        "Retry",
        () => act(() => retryExecution(screen.id, screen.signal), "Retry queued. Waiting for the run to start again…"),
      ),
    );
  }
  const cancel = CANCELLABLE.includes(e.status) && !e.compensating ? cancelForm(screen, ui, act) : null;
  if (cancel) {
    top.push(button("cancel", "Cancel…", () => {
      cancel.hidden = false;
      cancel.querySelector("input")?.focus();
    }));
  }
  if (!top.length) return null;
  ui.buttons.push(...top);
  return h(
    "section",
    { class: "card run-actions" + (stuck ? " stuck-panel" : ""), "aria-label": "Actions" },
    stuck
      ? h(
        "p",
        null,
        "No progress since ",
        when(stuck),
        ": the worker holding this run stopped, or its job was lost. Recover hands it back to the queue now (the sweeper would within a minute).",
      )
      : null,
    h("div", { class: "actions" }, top),
    cancel,
    ui.error,
  );
}

/**
 * The reason form under Cancel, hidden until Cancel is pressed.
 * @param {Screen} screen
 * @param {ActionUi} ui
 * @param {Act} act
 */
function cancelForm(screen, ui, act) {
  const reason = h("input", { id: "cancel-reason", type: "text", maxlength: "500", autocomplete: "off" });
  const confirm = h("button", { type: "submit", class: "reject" }, "Cancel the run");
  const keep = h("button", { type: "button", class: "secondary" }, "Keep it");
  const form = h(
    "form",
    { id: "cancel-form", class: "stack", hidden: true },
    h("label", { for: "cancel-reason" }, "Reason (optional)"),
    reason,
    h("div", { class: "actions" }, confirm, keep),
  );
  keep.addEventListener("click", () => {
    form.hidden = true;
  });
  ui.buttons.push(confirm);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(() => cancelExecution(screen.id, reason.value.trim(), screen.signal), "Cancelled. Reading the run again…");
  });
  return form;
}
