// @ts-check
/** The token form, shown until the API accepts a token (or when it answers without one). */
import { ApiError, describe, listWorkflows } from "./api.js";
import { fill, h } from "./dom.js";
import { keepToken, session } from "./session.js";

/**
 * @param {HTMLElement} root
 * @param {() => void} done called once a token is accepted
 */
export function showGate(root, done) {
  document.title = "Connect · durable-workflow";
  const input = h("input", {
    id: "token-input",
    name: "token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
  });
  const error = h("p", { class: "error", role: "alert" }, session.gateMessage);
  const button = h("button", { type: "submit" }, "Connect");
  const form = h("form", { id: "token-form", class: "stack" }, h("label", { for: "token-input" }, "API token"), input, error, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    button.disabled = true;
    session.token = token;
    try {
      await listWorkflows(undefined, true);
      keepToken(token);
      done();
    } catch (e) {
      session.token = null;
      error.textContent = e instanceof ApiError && e.status === 401 ? "That token was refused (401)." : describe(e);
      button.disabled = false;
    }
  });
  fill(
    root,
    h(
      "section",
      { class: "card gate" },
      h("h1", null, "Connect to the API"),
      h(
        "p",
        { class: "muted" },
        "Enter the API token of this server. It stays in this browser tab (session storage) and is sent only in the Authorization header.",
      ),
      form,
    ),
  );
  input.focus();
}

/** Whether the API answers without a token (local development): then no form is needed. */
export async function apiIsOpen() {
  try {
    await listWorkflows(undefined, true);
    return true;
  } catch (_) {
    return false;
  }
}
