// @ts-check
/**
 * The API token of this tab and what was learnt with it. The token lives in `sessionStorage` (this tab only)
 * and travels only in the `Authorization` header (api.js): never in a URL, never logged.
 */

/** @typedef {import("./types.js").WorkflowSummary} WorkflowSummary */

const TOKEN_KEY = "durable-workflow.dashboard.token";

/**
 * `open`: the API answered without a token (no gate, no Forget button); `ready`: the views may be shown;
 * `workflows`: the list, asked once per token; `gateMessage`: why the token form is shown again.
 * @type {{ token: string | null, open: boolean, ready: boolean, workflows: WorkflowSummary[] | null, gateMessage: string }}
 */
export const session = { token: sessionStorage.getItem(TOKEN_KEY), open: false, ready: false, workflows: null, gateMessage: "" };

/** Keeps a token the API accepted. @param {string} token */
export function keepToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
  session.token = token;
  session.ready = true;
  session.gateMessage = "";
}

/** Forgets the token and everything read with it; `message` says why on the token form. @param {string} message */
export function forgetToken(message) {
  session.token = null;
  session.ready = false;
  session.workflows = null;
  session.gateMessage = message;
  sessionStorage.removeItem(TOKEN_KEY);
}
