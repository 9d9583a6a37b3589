// @ts-check
/**
 * The API client: one function per call, the token in the Authorization header only, a problem+json answer
 * as an ApiError, and a 401 handed to the handler main.js registers (it locks the page).
 */
import { session } from "./session.js";

/** @typedef {import("./types.js").BulkAnswer} BulkAnswer */
/** @typedef {import("./types.js").BulkBody} BulkBody */
/** @typedef {import("./types.js").Accepted} Accepted */
/** @typedef {import("./types.js").Entry} Entry */
/** @typedef {import("./types.js").EventSent} EventSent */
/** @typedef {import("./types.js").Execution} Execution */
/** @typedef {import("./types.js").ExecutionPage} ExecutionPage */
/** @typedef {import("./types.js").Problem} Problem */
/** @typedef {import("./types.js").ProblemError} ProblemError */
/** @typedef {import("./types.js").ResumeBody} ResumeBody */
/** @typedef {import("./types.js").WorkflowDetail} WorkflowDetail */
/** @typedef {import("./types.js").WorkflowSummary} WorkflowSummary */
/** @typedef {import("./types.js").WorkflowVersion} WorkflowVersion */
/** @typedef {import("./types.js").WorkflowFlow} WorkflowFlow */

/** Where the API is: the page is `<base>/dashboard`. */
const apiBase = location.pathname.replace(/\/dashboard\/?$/, "");

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} detail
   * @param {ProblemError[] | null | undefined} errors
   */
  constructor(status, detail, errors) {
    super(detail);
    this.status = status;
    this.errors = errors || [];
  }
}

/** An error as one line: a problem's detail and each of its issues. @param {unknown} error */
export function describe(error) {
  if (error instanceof ApiError) {
    const details = error.errors.map((e) => (e.path ? e.path + ": " : "") + e.message);
    return error.message + (details.length ? " (" + details.join("; ") + ")" : "");
  }
  return error instanceof Error && error.message ? error.message : String(error);
}

let onUnauthorized = () => {};

/** What a 401 does (main.js: lock the page and ask for the token again). @param {() => void} handler */
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

/** Tells the page the server refused the token. */
export function unauthorized() {
  onUnauthorized();
}

/** @param {Record<string, string>} headers */
function authorize(headers) {
  if (session.token) headers.Authorization = "Bearer " + session.token;
  return headers;
}

/**
 * A request to the API, with the token, no cookie, no referrer, no cache.
 * @param {string} path
 * @param {{ method?: string, headers: Record<string, string>, body?: string, signal?: AbortSignal }} init
 */
function send(path, init) {
  return fetch(apiBase + path, {
    method: init.method || "GET",
    headers: authorize(init.headers),
    body: init.body,
    signal: init.signal,
    cache: "no-store",
    credentials: "omit",
    referrerPolicy: "no-referrer",
  });
}

/**
 * One call to the JSON API: JSON (or text) back, an ApiError for a non-2xx answer, and a 401 locks the page
 * unless `probe` is set.
 * @param {string} path
 * @param {{ method?: string, body?: unknown, signal?: AbortSignal, accept?: string, probe?: boolean }} [options]
 * @returns {Promise<unknown>}
 */
async function api(path, options) {
  const opts = options || {};
  /** @type {Record<string, string>} */
  const headers = { Accept: opts.accept || "application/json" };
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  const body = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  const response = await send(path, { method: opts.method, headers, body, signal: opts.signal });
  if (response.status === 401 && !opts.probe) unauthorized();
  if (!response.ok) {
    /** @type {Partial<Problem> | null} */
    let problem = null;
    try {
      problem = await response.json();
    } catch (_) {
      problem = null;
    }
    throw new ApiError(
      response.status,
      (problem && problem.detail) || response.status + " " + response.statusText,
      problem && problem.errors,
    );
  }
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

/** @param {string} id */
const workflowPath = (id) => "/workflows/" + encodeURIComponent(id);
/** @param {string} id */
const executionPath = (id) => "/executions/" + encodeURIComponent(id);

/**
 * The workflow list, asked once per token.
 * @param {AbortSignal} [signal]
 * @param {boolean} [probe] a 401 is the caller's business (the token gate), not a lock
 * @returns {Promise<WorkflowSummary[]>}
 */
export async function listWorkflows(signal, probe) {
  if (!session.workflows) {
    session.workflows = (/** @type {{ workflows: WorkflowSummary[] }} */ (await api("/workflows", { signal, probe }))).workflows;
  }
  return session.workflows;
}

/** @param {string} id @param {AbortSignal} signal */
export async function getWorkflow(id, signal) {
  return /** @type {WorkflowDetail} */ (await api(workflowPath(id), { signal }));
}

/** @param {string} workflowId @param {Record<string, unknown>} input */
export async function startExecution(workflowId, input) {
  return /** @type {Accepted} */ (await api(workflowPath(workflowId) + "/executions", { method: "POST", body: { input, mode: "async" } }));
}

/** @param {URLSearchParams} params @param {AbortSignal} signal */
export async function listExecutions(params, signal) {
  return /** @type {ExecutionPage} */ (await api("/executions?" + params.toString(), { signal }));
}

/** @param {string} id @param {AbortSignal} signal */
export async function getExecution(id, signal) {
  return /** @type {Execution} */ (await api(executionPath(id), { signal }));
}

/** @param {string} id @param {AbortSignal} signal */
export async function getEntries(id, signal) {
  return (/** @type {{ entries: Entry[] }} */ (await api(executionPath(id) + "/entries", { signal }))).entries;
}

/** @param {string} id @param {Omit<ResumeBody, "mode">} body @param {AbortSignal} signal */
export async function resumeExecution(id, body, signal) {
  await api(executionPath(id) + "/resume", { method: "POST", body: { ...body, mode: "async" }, signal });
}

/** POST /events/:name. @param {string} name @param {unknown} payload @param {string} id @param {AbortSignal} signal */
export async function sendEventRequest(name, payload, id, signal) {
  const body = id ? { payload, id } : { payload };
  return /** @type {EventSent} */ (await api("/events/" + encodeURIComponent(name), { method: "POST", body, signal }));
}

/** @param {string} id @param {string} reason @param {AbortSignal} signal */
export async function cancelExecution(id, reason, signal) {
  await api(executionPath(id) + "/cancel", { method: "POST", body: reason ? { reason } : {}, signal });
}

/** @param {string} id @param {AbortSignal} signal */
export async function retryExecution(id, signal) {
  await api(executionPath(id) + "/retry", { method: "POST", body: { mode: "async" }, signal });
}

/**
 * Cancel or retry every execution a filter selects (at most `max`); `dryRun` only lists them.
 * @param {"cancel" | "retry"} action
 * @param {BulkBody} body
 * @param {AbortSignal} signal
 */
export async function bulkAction(action, body, signal) {
  return /** @type {BulkAnswer} */ (await api("/executions/" + action, { method: "POST", body, signal }));
}

/** @param {string} id @param {AbortSignal} signal */
export async function recoverExecution(id, signal) {
  await api(executionPath(id) + "/recover", { method: "POST", signal });
}

/** @param {string} workflowId @param {AbortSignal} signal */
export async function listVersions(workflowId, signal) {
  return (/** @type {{ versions: WorkflowVersion[] }} */ (await api(workflowPath(workflowId) + "/versions", { signal }))).versions;
}

/** Flow control of a workflow: its limits and each key's usage. @param {string} workflowId @param {AbortSignal} signal */
export async function getFlow(workflowId, signal) {
  return /** @type {WorkflowFlow} */ (await api(workflowPath(workflowId) + "/flow", { signal }));
}

/** The workflow's SVG, the steps in `highlight` marked. @param {string} workflowId @param {string[]} highlight @param {AbortSignal} signal */
export async function getDiagram(workflowId, highlight, signal) {
  const query = highlight.length ? "?highlight=" + encodeURIComponent(highlight.join(",")) : "";
  return await api("/dashboard" + workflowPath(workflowId) + "/diagram.svg" + query, { signal, accept: "image/svg+xml" });
}

/**
 * The execution's event stream (the caller reads the body).
 * @param {string} id @param {string | null} lastEventId @param {AbortSignal} signal
 */
export function openEvents(id, lastEventId, signal) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "text/event-stream" };
  if (lastEventId) headers["Last-Event-ID"] = lastEventId;
  return send(executionPath(id) + "/events", { headers, signal });
}
