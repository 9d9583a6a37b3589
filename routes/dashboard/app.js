// @ts-check
/**
 * The dashboard's browser script, served as `/dashboard/app.js` (a module; no build step, no dependency).
 *
 * Rules it keeps: every value from the API reaches the page through `textContent` / `append(string)` or an
 * attribute set with `setAttribute` (hrefs are `#/...` built with `encodeURIComponent`); the one markup it
 * parses is the server's SVG diagram, through a Trusted Types policy, with scripts and event handlers
 * stripped. The token lives in `sessionStorage` and travels only in the `Authorization` header: never in a
 * URL, never logged. Live updates read `GET /executions/:id/events` with `fetch` (EventSource cannot send
 * the header) and parse the SSE stream by hand, reconnecting with `Last-Event-ID`.
 *
 * Layout: DOM helpers, the API client (one function per call), the token gate, the view table and router,
 * the views, an execution's panels, live following, the diagram. A new page is a function in VIEWS; a new
 * button on an execution calls its client function through `sendAction`.
 */

// ---- shapes of the API's answers ----

/** @typedef {"pending" | "running" | "halted" | "completed" | "failed" | "cancelled"} Status */
/** @typedef {{ type?: string, required?: boolean, description?: string, default?: unknown }} InputSpec */
/** @typedef {{ id: string, name: string, version: string | number, steps: number, hash: string, description?: string }} WorkflowSummary */
/** @typedef {{ cron?: string, timezone?: string, input?: unknown, event?: string, match?: unknown }} Trigger */
/** @typedef {{ cron: string, timezone: string, next: string | null }} NextStart */
/** @typedef {{ id: string, name: string, version: string | number, hash: string, description?: string, timeout?: number, inputs?: Record<string, InputSpec>, triggers?: Trigger[], nextStarts?: NextStart[] }} WorkflowDetail */
/**
 * @typedef {{ type?: string, prompt?: unknown, reason?: unknown, approvers?: unknown, context?: unknown,
 *   requested_at?: string, halted_at?: string, expires_at?: string, events?: string[], match?: unknown }} HaltData
 */
/**
 * @typedef {{ id: string, workflowId: string, workflowVersion: string | number, status: Status, revision: number,
 *   currentStep?: string | null, createdAt: string, updatedAt: string, input?: unknown, ctx?: unknown,
 *   result?: unknown, error?: string | null, haltData?: HaltData | null, leaseUntil?: string | null,
 *   wakeAt?: string | null }} Execution
 */
/**
 * @typedef {{ stepId: string, stepType: string, action: string, durationMs?: number, timestamp: string,
 *   attempt?: number, error?: string | null, output?: unknown }} Entry
 */
/** @typedef {{ executions: Execution[], cursor?: string | null }} ExecutionList */
/** @typedef {{ version: string, hash: string, storedAt: string, current: boolean, halted: number, pending: number }} WorkflowVersion */
/** @typedef {{ path?: string, message: string }} ProblemError */
/** @typedef {{ id: string | null, event: string, data: string }} SseMessage */

// ---- shapes of the script's own state ----

/** A child of an element: nodes as they are, arrays flattened, null / undefined / false left out, the rest as text. @typedef {Node | string | number | null | undefined | false | unknown[]} Child */
/** @typedef {"streaming" | "reconnecting" | "polling" | null} LiveMode */
/** @typedef {"ended" | "error" | "unsupported" | "unauthorized"} StreamOutcome */
/**
 * One execution on screen, followed live while it runs.
 * @typedef {{
 *   id: string, signal: AbortSignal,
 *   execution: Execution, entries: Entry[],
 *   running: string | null, lastEventId: string | null, following: boolean,
 *   waitPast: { revision: number, until: number } | null, gone: boolean,
 *   haltKey: string | null, actionsKey: string | null, highlightKey: string | null,
 *   refreshTimer: ReturnType<typeof setTimeout> | null,
 *   els: { status: HTMLElement, live: HTMLElement, meta: HTMLElement, halt: HTMLElement, actions: HTMLElement,
 *     timeline: HTMLElement, data: HTMLElement, diagram: HTMLElement },
 * }} Screen
 */
/**
 * A page of the dashboard: `path` is matched against the URL hash segment by segment (`:name` matches any
 * one segment, handed to `show` in `params`); `nav` is the top-bar link it belongs to.
 * @typedef {{ path: string, nav: string, show: (args: ViewArgs) => Promise<void> }} View
 * @typedef {{ params: string[], query: URLSearchParams, signal: AbortSignal }} ViewArgs
 */
/** @typedef {{ createPolicy(name: string, rules: { createHTML(text: string): string }): { createHTML(text: string): string } }} TrustedTypes */

const TOKEN_KEY = "durable-workflow.dashboard.token";
/** @type {readonly Status[]} */
const STATUSES = ["pending", "running", "halted", "completed", "failed", "cancelled"];
/** @type {readonly string[]} */
const LIVE = ["pending", "running"];
/** @type {readonly string[]} */
const CANCELLABLE = ["pending", "running", "halted"];
/** A pending execution this long past its wake time (or its last update) counts as stuck, as the sweeper sees it. */
const STUCK_AFTER_MS = 60000;
const ACTIONS = ["completed", "halted", "failed"];
const PAGE_SIZE = 25;
const apiBase = location.pathname.replace(/\/dashboard\/?$/, "");
const view = /** @type {HTMLElement} */ (document.getElementById("view"));
const forgetButton = /** @type {HTMLButtonElement} */ (document.getElementById("forget"));
// Trusted Types are not in TypeScript's DOM lib yet. The policy's TrustedHTML is what DOMParser accepts.
const trustedTypes = /** @type {{ trustedTypes?: TrustedTypes }} */ (/** @type {unknown} */ (window)).trustedTypes;
const svgPolicy = trustedTypes ? trustedTypes.createPolicy("dw-svg", { createHTML: (text) => text }) : null;

/** @type {{ token: string | null, open: boolean, ready: boolean, workflows: WorkflowSummary[] | null, gateMessage: string }} */
const state = { token: sessionStorage.getItem(TOKEN_KEY), open: false, ready: false, workflows: null, gateMessage: "" };
/** @type {AbortController | null} */
let currentView = null;

// ---- DOM helpers: text only ----

/**
 * An element with attributes (`class`, `on<event>` listeners, others through setAttribute; null, undefined
 * and false are left out, true is an empty attribute) and children (see `append`).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, unknown> | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = String(value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), /** @type {EventListener} */ (value));
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/**
 * Replaces the children of el; null, undefined and false are skipped, arrays flattened.
 * @param {Element} el
 * @param {...Child} children
 */
function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/**
 * @param {Element} el
 * @param {Child[]} children
 */
function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** @param {...string} parts */
function route(...parts) {
  return "#/" + parts.map((p) => encodeURIComponent(p)).join("/");
}

/**
 * @param {string[]} parts
 * @param {string} text
 * @param {string} [cls]
 */
function link(parts, text, cls) {
  return h("a", { href: route(...parts), class: cls }, text);
}

/**
 * @template T
 * @param {unknown} value
 * @param {readonly T[]} list
 * @param {T} fallback
 * @returns {T}
 */
function known(value, list, fallback) {
  return list.includes(/** @type {T} */ (value)) ? /** @type {T} */ (value) : fallback;
}

/** @param {string} status */
function badge(status) {
  return h("span", { class: "badge status-" + known(status, STATUSES, "unknown") }, String(status));
}

/**
 * When a run that nobody is working on stopped moving, or null: running under an expired lease, or pending more
 * than a minute past its wake time (its last update when it has none).
 * @param {Execution} e
 * @returns {string | null}
 */
function stuckSince(e) {
  if (e.status === "running" && e.leaseUntil) return Date.parse(e.leaseUntil) < Date.now() ? e.leaseUntil : null;
  if (e.status !== "pending") return null;
  const since = e.wakeAt || e.updatedAt;
  return Date.now() - Date.parse(since) > STUCK_AFTER_MS ? since : null;
}

/** @param {Execution} e */
function stuckBadge(e) {
  const since = stuckSince(e);
  return since
    ? h(
      "span",
      { class: "stuck", title: "Nobody is working on this run: Recover hands it back to the queue" },
      "stuck since " + when(since),
    )
    : null;
}

/** When a waiting run goes on: a wait or a scheduled retry, or an approval's expiry. @param {Execution} e */
function wakeNote(e) {
  if (!e.wakeAt) return null;
  if (e.status === "pending") return h("span", { class: "wake" }, "waits until " + when(e.wakeAt));
  if (e.status === "halted") return h("span", { class: "wake" }, "expires " + when(e.wakeAt));
  return null;
}

/** @param {unknown} value */
function json(value) {
  return h("pre", { class: "json" }, JSON.stringify(value === undefined ? null : value, null, 2));
}

/**
 * @param {string} title
 * @param {unknown} value
 * @param {boolean} open
 */
function dataBlock(title, value, open) {
  return h("details", { class: "data", open: open || undefined }, h("summary", null, title), json(value));
}

/** @param {string | null | undefined} iso */
function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  /** @type {(n: number, w?: number) => string} */
  const pad = (n, w) => String(n).padStart(w || 2, "0");
  return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + " " +
    pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
}

/** @param {number | undefined} ms */
function duration(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "";
  if (ms < 1000) return Math.round(ms) + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
  const minutes = Math.floor(ms / 60000);
  if (minutes < 120) return minutes + " min " + Math.round((ms % 60000) / 1000) + " s";
  return (ms / 3600000).toFixed(1) + " h";
}

/**
 * @param {number} ms
 * @param {AbortSignal} signal
 * @returns {Promise<void>}
 */
function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}

/** @param {string} title */
function pageHead(title, /** @type {Child[]} */ ...rest) {
  document.title = title + " · durable-workflow";
  return h("div", { class: "page-head" }, h("h1", null, title), rest);
}

// ---- the API, with the token in the Authorization header only ----

class ApiError extends Error {
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

/** @param {unknown} error */
function describe(error) {
  if (error instanceof ApiError) {
    const details = error.errors.map((e) => (e.path ? e.path + ": " : "") + e.message);
    return error.message + (details.length ? " (" + details.join("; ") + ")" : "");
  }
  return error instanceof Error && error.message ? error.message : String(error);
}

/** @param {Record<string, string>} headers */
function authorize(headers) {
  if (state.token) headers.Authorization = "Bearer " + state.token;
  return headers;
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
  const headers = authorize({ Accept: opts.accept || "application/json" });
  if (opts.body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(apiBase + path, {
    method: opts.method || "GET",
    headers,
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    signal: opts.signal,
    cache: "no-store",
    credentials: "omit",
    referrerPolicy: "no-referrer",
  });
  if (response.status === 401 && !opts.probe) lock("The server refused the token (401). Enter it again.");
  if (!response.ok) {
    /** @type {{ detail?: string, errors?: ProblemError[] } | null} */
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
async function listWorkflows(signal, probe) {
  if (!state.workflows) {
    state.workflows = (/** @type {{ workflows: WorkflowSummary[] }} */ (await api("/workflows", { signal, probe }))).workflows;
  }
  return state.workflows;
}

/** @param {string} id @param {AbortSignal} signal */
async function getWorkflow(id, signal) {
  return /** @type {WorkflowDetail} */ (await api(workflowPath(id), { signal }));
}

/** @param {string} workflowId @param {Record<string, unknown>} input */
async function startExecution(workflowId, input) {
  return /** @type {{ executionId: string }} */ (await api(workflowPath(workflowId) + "/executions", {
    method: "POST",
    body: { input, mode: "async" },
  }));
}

/** @param {URLSearchParams} params @param {AbortSignal} signal */
async function listExecutions(params, signal) {
  return /** @type {ExecutionList} */ (await api("/executions?" + params.toString(), { signal }));
}

/** @param {string} id @param {AbortSignal} signal */
async function getExecution(id, signal) {
  return /** @type {Execution} */ (await api(executionPath(id), { signal }));
}

/** @param {string} id @param {AbortSignal} signal */
async function getEntries(id, signal) {
  return (/** @type {{ entries: Entry[] }} */ (await api(executionPath(id) + "/entries", { signal }))).entries;
}

/** @param {string} id @param {Record<string, unknown>} body @param {AbortSignal} signal */
async function resumeExecution(id, body, signal) {
  await api(executionPath(id) + "/resume", { method: "POST", body: Object.assign({}, body, { mode: "async" }), signal });
}

/** POST /events/:name. @param {string} name @param {unknown} payload @param {string} id @param {AbortSignal} signal */
async function sendEventRequest(name, payload, id, signal) {
  const body = id ? { payload, id } : { payload };
  return /** @type {{ id: string, delivered: number }} */ (await api("/events/" + encodeURIComponent(name), {
    method: "POST",
    body,
    signal,
  }));
}

/** @param {string} id @param {string} reason @param {AbortSignal} signal */
async function cancelExecution(id, reason, signal) {
  await api(executionPath(id) + "/cancel", { method: "POST", body: reason ? { reason } : {}, signal });
}

/** @param {string} id @param {AbortSignal} signal */
async function retryExecution(id, signal) {
  await api(executionPath(id) + "/retry", { method: "POST", body: { mode: "async" }, signal });
}

/** @param {string} id @param {AbortSignal} signal */
async function recoverExecution(id, signal) {
  await api(executionPath(id) + "/recover", { method: "POST", signal });
}

/** @param {string} workflowId @param {AbortSignal} signal */
async function listVersions(workflowId, signal) {
  return (/** @type {{ versions: WorkflowVersion[] }} */ (await api(workflowPath(workflowId) + "/versions", { signal }))).versions;
}

/** @param {string} workflowId @param {string[]} highlight @param {AbortSignal} signal */
async function getDiagram(workflowId, highlight, signal) {
  const query = highlight.length ? "?highlight=" + encodeURIComponent(highlight.join(",")) : "";
  return await api("/dashboard" + workflowPath(workflowId) + "/diagram.svg" + query, { signal, accept: "image/svg+xml" });
}

/**
 * The execution's event stream (the caller reads the body).
 * @param {string} id @param {string | null} lastEventId @param {AbortSignal} signal
 */
function openEvents(id, lastEventId, signal) {
  const headers = authorize({ Accept: "text/event-stream" });
  if (lastEventId) headers["Last-Event-ID"] = lastEventId;
  return fetch(apiBase + executionPath(id) + "/events", {
    headers,
    signal,
    cache: "no-store",
    credentials: "omit",
    referrerPolicy: "no-referrer",
  });
}

// ---- token gate ----

/** @param {string} message */
function lock(message) {
  state.token = null;
  state.ready = false;
  state.workflows = null;
  state.gateMessage = message || "";
  sessionStorage.removeItem(TOKEN_KEY);
  render();
}

function showGate() {
  forgetButton.hidden = true;
  document.title = "Connect · durable-workflow";
  const input = h("input", {
    id: "token-input",
    name: "token",
    type: "password",
    autocomplete: "off",
    spellcheck: "false",
    required: true,
  });
  const error = h("p", { class: "error", role: "alert" }, state.gateMessage);
  const button = h("button", { type: "submit" }, "Connect");
  const form = h("form", { id: "token-form", class: "stack" }, h("label", { for: "token-input" }, "API token"), input, error, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    button.disabled = true;
    state.token = token;
    try {
      await listWorkflows(undefined, true);
      sessionStorage.setItem(TOKEN_KEY, token);
      state.ready = true;
      state.gateMessage = "";
      render();
    } catch (e) {
      state.token = null;
      error.textContent = e instanceof ApiError && e.status === 401 ? "That token was refused (401)." : describe(e);
      button.disabled = false;
    }
  });
  fill(
    view,
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

// ---- views and the router ----

/** @type {View[]} */
const VIEWS = [
  { path: "workflows", nav: "workflows", show: ({ signal }) => workflowsView(signal) },
  { path: "workflows/:id", nav: "workflows", show: ({ params, signal }) => workflowView(params[0], signal) },
  { path: "executions", nav: "executions", show: ({ query, signal }) => executionsView(query, signal) },
  { path: "executions/:id", nav: "executions", show: ({ params, signal }) => executionView(params[0], signal) },
];

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const cut = raw.indexOf("?");
  const path = cut < 0 ? raw : raw.slice(0, cut);
  /** @type {string[]} */
  let parts;
  try {
    parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  } catch (_) {
    parts = [];
  }
  return { parts, query: new URLSearchParams(cut < 0 ? "" : raw.slice(cut + 1)) };
}

/**
 * The view for the hash's segments and the values of its `:name` segments; the workflow list otherwise.
 * @param {string[]} parts
 * @returns {{ view: View, params: string[] }}
 */
function matchView(parts) {
  for (const candidate of VIEWS) {
    const pattern = candidate.path.split("/");
    if (pattern.length !== parts.length) continue;
    if (pattern.every((segment, i) => segment.startsWith(":") || segment === parts[i])) {
      return { view: candidate, params: parts.filter((_, i) => pattern[i].startsWith(":")) };
    }
  }
  return { view: VIEWS[0], params: [] };
}

/** @param {string} section */
function markNav(section) {
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.getAttribute("data-nav") === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

async function render() {
  if (currentView) currentView.abort();
  currentView = new AbortController();
  const signal = currentView.signal;
  const { parts, query } = parseHash();
  const { view: page, params } = matchView(parts);
  markNav(page.nav);
  if (!state.ready) return showGate();
  forgetButton.hidden = state.open;
  view.setAttribute("aria-busy", "true");
  try {
    await page.show({ params, query, signal });
  } catch (error) {
    if (signal.aborted || (error instanceof ApiError && error.status === 401)) return;
    fill(view, h("section", { class: "card" }, h("h1", null, "Something went wrong"), h("p", { class: "error" }, describe(error))));
  } finally {
    if (!signal.aborted) view.removeAttribute("aria-busy");
  }
}

// ---- workflows ----

/** @param {AbortSignal} signal */
async function workflowsView(signal) {
  const list = await listWorkflows(signal);
  fill(
    view,
    pageHead("Workflows", h("p", { class: "muted" }, list.length + (list.length === 1 ? " workflow" : " workflows"))),
    list.length
      ? h("div", { class: "cards" }, list.map((w) => workflowCard(w, signal)))
      : h("p", { class: "card muted" }, "This server lists no workflows."),
  );
}

/** @param {WorkflowSummary} w @param {AbortSignal} signal */
function workflowCard(w, signal) {
  const diagram = h("div", { class: "diagram thumb", "aria-busy": "true" });
  loadDiagram(diagram, w.id, [], signal);
  return h(
    "article",
    { class: "card workflow-card" },
    h("div", { class: "card-head" }, h("h2", null, link(["workflows", w.id], w.name)), h("span", { class: "pill" }, "v" + w.version)),
    h("p", { class: "meta" }, h("code", null, w.id), " · " + w.steps + " steps · hash ", h("code", null, String(w.hash).slice(0, 12))),
    w.description ? h("p", { class: "description" }, w.description) : null,
    diagram,
    h(
      "div",
      { class: "actions" },
      h("a", { class: "button", href: route("workflows", w.id) }, "Start a run"),
      h("a", { class: "button secondary", href: "#/executions?workflow=" + encodeURIComponent(w.id) }, "Executions"),
    ),
  );
}

/** @param {string} id @param {AbortSignal} signal */
async function workflowView(id, signal) {
  const w = await getWorkflow(id, signal);
  const diagram = h("div", { class: "diagram", "aria-busy": "true" });
  loadDiagram(diagram, w.id, [], signal);
  const recent = h("div", { class: "recent" }, h("p", { class: "muted" }, "Loading…"));
  const versions = h("div", { class: "versions-slot" }, h("p", { class: "muted" }, "Loading…"));
  fill(
    view,
    pageHead(w.name, h("span", { class: "pill" }, "v" + w.version)),
    h(
      "p",
      { class: "meta" },
      h("code", null, w.id),
      " · hash ",
      h("code", null, String(w.hash).slice(0, 12)),
      w.timeout ? " · timeout " + w.timeout + " s" : "",
    ),
    w.description ? h("p", { class: "description" }, w.description) : null,
    h(
      "div",
      { class: "split" },
      h("section", { class: "card" }, h("h2", null, "Diagram"), diagram),
      h(
        "div",
        { class: "column" },
        h("section", { class: "card" }, h("h2", null, "Start a run"), inputsList(w.inputs), runForm(w)),
        w.triggers && w.triggers.length ? triggersCard(w) : null,
        h("section", { class: "card" }, h("h2", null, "Recent executions"), recent),
        h("section", { class: "card" }, h("h2", null, "Versions"), versions),
      ),
    ),
  );
  listExecutions(new URLSearchParams({ limit: "10", workflowId: w.id }), signal)
    .then((page) => fill(recent, executionTable(page.executions, false)))
    .catch((e) => {
      if (!signal.aborted) fill(recent, h("p", { class: "error" }, describe(e)));
    });
  listVersions(w.id, signal)
    .then((list) => fill(versions, versionTable(list)))
    .catch((e) => {
      if (!signal.aborted) fill(versions, h("p", { class: "error" }, describe(e)));
    });
}

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
      return h("li", null, "On event ", h("code", null, t.event), t.match ? [" where ", h("code", null, JSON.stringify(t.match))] : null);
    }
    const next = starts[cron++];
    return h(
      "li",
      null,
      "Cron ",
      h("code", null, String(t.cron)),
      " (" + (t.timezone || "UTC") + ")",
      next ? " · next start " + (next.next ? when(next.next) : "none within a year") : null,
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
          h("td", { "data-label": "Hash" }, h("code", { title: v.hash }, String(v.hash).slice(0, 12))),
          h("td", { "data-label": "Stored" }, when(v.storedAt)),
          h("td", { "data-label": "Current" }, v.current ? h("span", { class: "badge status-completed" }, "current") : ""),
          h("td", { "data-label": "Halted" }, String(v.halted)),
          h("td", { "data-label": "Pending" }, String(v.pending)),
        )
      ),
    ),
  );
}

/** @param {Record<string, InputSpec> | undefined} inputs */
function inputsList(inputs) {
  const names = Object.keys(inputs || {});
  if (!inputs || !names.length) return null;
  return h(
    "dl",
    { class: "inputs" },
    names.map((name) => {
      const spec = inputs[name] || {};
      return [
        h("dt", null, h("code", null, name)),
        h(
          "dd",
          null,
          spec.type || "any",
          spec.required ? " · required" : " · optional",
          spec.description ? h("span", { class: "muted" }, " — " + spec.description) : null,
        ),
      ];
    }),
  );
}

/** @param {Record<string, InputSpec> | undefined} inputs */
function inputTemplate(inputs) {
  /** @type {Record<string, unknown>} */
  const blanks = { string: "", integer: 0, number: 0, boolean: false, array: [], object: {} };
  /** @type {Record<string, unknown>} */
  const out = {};
  for (const [name, spec] of Object.entries(inputs || {})) {
    if (spec.default !== undefined) out[name] = spec.default;
    else out[name] = blanks[spec.type || ""] ?? null;
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

// ---- executions ----

/** @param {URLSearchParams} query @param {AbortSignal} signal */
async function executionsView(query, signal) {
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
  const results = h("div", { class: "results" }, h("p", { class: "muted" }, "Loading…"));
  const more = h("button", { id: "load-more", type: "button", class: "secondary", hidden: true }, "Load more");
  const refreshButton = h("button", { type: "button", class: "secondary", onclick: () => render() }, "Refresh");
  fill(
    view,
    pageHead("Executions"),
    h(
      "form",
      { class: "filters card", onsubmit: (/** @type {Event} */ e) => e.preventDefault() },
      h("label", null, "Workflow", workflowSelect),
      h("label", null, "Status", statusSelect),
      refreshButton,
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
    if (!table) {
      const first = executionTable(page.executions, true);
      if (first instanceof HTMLTableElement) table = first;
      fill(results, first);
    } else {
      appendRows(table, page.executions, true);
    }
    const next = page.cursor || null;
    more.hidden = !next;
    more.onclick = async () => {
      more.disabled = true;
      try {
        await load(next);
      } catch (e) {
        results.append(h("p", { class: "error" }, describe(e)));
      } finally {
        more.disabled = false;
      }
    };
  };
  await load(null);
}

/** @param {Execution[]} executions @param {boolean} withWorkflow */
function executionTable(executions, withWorkflow) {
  if (!executions.length) return h("p", { class: "muted" }, "No executions.");
  const table = h(
    "table",
    { class: "executions" },
    h(
      "thead",
      null,
      h(
        "tr",
        null,
        h("th", null, "Status"),
        h("th", null, "Execution"),
        withWorkflow ? h("th", null, "Workflow") : null,
        h("th", null, "Step"),
        h("th", null, "Started"),
        h("th", null, "Updated"),
      ),
    ),
    h("tbody", null),
  );
  appendRows(table, executions, withWorkflow);
  return table;
}

/** @param {HTMLTableElement} table @param {Execution[]} executions @param {boolean} withWorkflow */
function appendRows(table, executions, withWorkflow) {
  const body = table.tBodies[0];
  for (const e of executions) {
    body.append(
      h(
        "tr",
        null,
        h("td", { "data-label": "Status" }, h("span", { class: "status-cell" }, badge(e.status), stuckBadge(e), wakeNote(e))),
        h("td", { "data-label": "Execution" }, link(["executions", e.id], e.id, "mono")),
        withWorkflow ? h("td", { "data-label": "Workflow" }, e.workflowId) : null,
        h("td", { "data-label": "Step" }, h("code", null, e.currentStep || "—")),
        h("td", { "data-label": "Started" }, when(e.createdAt)),
        h("td", { "data-label": "Updated" }, when(e.updatedAt)),
      ),
    );
  }
}

// ---- one execution: its panels, refreshed by `update` ----

/** @param {string} id @param {AbortSignal} signal */
async function executionView(id, signal) {
  const [execution, entries] = await Promise.all([getExecution(id, signal), getEntries(id, signal)]);
  /** @type {Screen} */
  const screen = {
    id,
    signal,
    execution,
    entries,
    running: null,
    lastEventId: null,
    following: false,
    waitPast: null,
    gone: false,
    haltKey: null,
    actionsKey: null,
    highlightKey: null,
    refreshTimer: null,
    els: {
      status: h("span", { class: "status-slot" }),
      live: h("span", { class: "live", hidden: true }),
      meta: h("p", { class: "meta" }),
      halt: h("div", { class: "halt-slot" }),
      actions: h("div", { class: "actions-slot" }),
      timeline: h("div", { class: "timeline-slot" }),
      data: h("div", { class: "data-slot" }),
      diagram: h("div", { class: "diagram", "aria-busy": "true" }),
    },
  };
  const els = screen.els;
  fill(
    view,
    pageHead("Execution", els.status, els.live),
    h("p", { class: "exec-id" }, h("code", null, id)),
    els.meta,
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
  if (LIVE.includes(execution.status)) follow(screen);
}

/** Redraws every panel from `screen.execution` and `screen.entries`. @param {Screen} screen */
function update(screen) {
  const e = screen.execution;
  const els = screen.els;
  document.title = e.status + " · " + e.workflowId + " · durable-workflow";
  fill(els.status, badge(e.status), stuckBadge(e));
  fill(els.meta, executionMeta(e));

  const haltKey = e.status === "halted" ? e.revision + ":" + JSON.stringify(e.haltData) : "";
  if (haltKey !== screen.haltKey) {
    screen.haltKey = haltKey;
    fill(els.halt, e.status === "halted" ? haltPanel(screen) : null);
  }
  const actionsKey = e.status + (stuckSince(e) ? ":stuck" : "");
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
    " · started " + when(e.createdAt),
    " · updated " + when(e.updatedAt),
    Number.isFinite(elapsed) ? " · " + duration(elapsed) : "",
    e.currentStep ? [" · step ", h("code", null, e.currentStep)] : null,
    wake ? [" · ", wake] : null,
  ];
}

/** @param {Execution} e @returns {Child[]} */
function executionData(e) {
  return [
    (e.status === "failed" || e.status === "cancelled") && e.error ? h("p", { class: "error failure" }, e.error) : null,
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

/** @param {Screen} screen */
function timeline(screen) {
  const entries = screen.entries;
  if (!entries.length && !screen.running) return h("p", { class: "muted empty" }, "No step has finished yet.");
  const longest = Math.max(1, ...entries.map((e) => e.durationMs || 0));
  const items = entries.map((entry) => timelineEntry(entry, longest));
  if (screen.running && LIVE.includes(screen.execution.status)) {
    items.push(
      h(
        "li",
        { class: "entry action-running" },
        h(
          "div",
          { class: "entry-head" },
          h("span", { class: "entry-step" }, screen.running),
          h("span", { class: "badge action-running" }, "running"),
        ),
      ),
    );
  }
  return h("ol", { class: "timeline" }, items);
}

/** @param {Entry} entry @param {number} longest the longest duration, the full width of the bar */
function timelineEntry(entry, longest) {
  const action = known(entry.action, ACTIONS, "completed");
  const bar = h("span", { class: "bar" });
  bar.style.setProperty("--share", String(Math.max(0.02, (entry.durationMs || 0) / longest)));
  return h(
    "li",
    { class: "entry action-" + action, "data-step": entry.stepId },
    h(
      "div",
      { class: "entry-head" },
      h("span", { class: "entry-step" }, entry.stepId),
      h("span", { class: "entry-type" }, entry.stepType),
      h("span", { class: "badge action-" + action }, action),
      h("span", { class: "entry-duration" }, duration(entry.durationMs)),
    ),
    h(
      "div",
      { class: "entry-meta" },
      bar,
      h("span", null, when(entry.timestamp) + ((entry.attempt || 0) > 1 ? " · attempt " + entry.attempt : "")),
    ),
    entry.error ? h("p", { class: "error" }, entry.error) : null,
    entry.output !== null && entry.output !== undefined ? dataBlock("Output", entry.output, false) : null,
  );
}

// ---- actions on an execution ----

/**
 * Runs an action's API call with its buttons disabled; on success waits (up to a minute) for the execution's
 * revision to move, and follows it live again.
 * @param {Screen} screen
 * @param {{ buttons: HTMLButtonElement[], error: HTMLElement }} ui
 * @param {() => Promise<unknown>} call
 * @param {string} sent shown in place of the panel while the run has not moved yet
 */
async function sendAction(screen, ui, call, sent) {
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

/**
 * What an operator does to a run: Recover when it is stuck, Retry when it failed, Cancel (with an optional
 * reason) while it has not ended.
 * @param {Screen} screen
 */
function actionsPanel(screen) {
  const e = screen.execution;
  const stuck = stuckSince(e);
  const ui = { buttons: /** @type {HTMLButtonElement[]} */ ([]), error: h("p", { class: "error", role: "alert" }) };
  /** @param {() => Promise<unknown>} call @param {string} sent */
  const act = (call, sent) => sendAction(screen, ui, call, sent);
  /** @type {HTMLButtonElement[]} */
  const top = [];
  if (stuck) {
    top.push(
      h("button", {
        type: "button",
        class: "recover",
        onclick: () => act(() => recoverExecution(screen.id, screen.signal), "Handed back to the queue. Waiting for the run to move…"),
      }, "Recover"),
    );
  }
  if (e.status === "failed") {
    top.push(
      h("button", {
        type: "button",
        class: "retry",
        onclick: () => act(() => retryExecution(screen.id, screen.signal), "Retry queued. Waiting for the run to start again…"),
      }, "Retry"),
    );
  }
  const cancel = CANCELLABLE.includes(e.status) ? cancelForm(screen, ui, act) : null;
  if (cancel) {
    top.push(h("button", {
      type: "button",
      class: "cancel",
      onclick: () => {
        cancel.hidden = false;
        cancel.querySelector("input")?.focus();
      },
    }, "Cancel…"));
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
        "No progress since " + when(stuck) + ": the worker holding this run stopped, or its job was lost. " +
          "Recover hands it back to the queue now (the sweeper would within a minute).",
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
 * @param {{ buttons: HTMLButtonElement[], error: HTMLElement }} ui
 * @param {(call: () => Promise<unknown>, sent: string) => void} act
 */
function cancelForm(screen, ui, act) {
  const reason = h("input", { id: "cancel-reason", type: "text", maxlength: "500", autocomplete: "off" });
  const confirm = h("button", { type: "submit", class: "reject" }, "Cancel the run");
  const form = h(
    "form",
    { id: "cancel-form", class: "stack", hidden: true },
    h("label", { for: "cancel-reason" }, "Reason (optional)"),
    reason,
    h(
      "div",
      { class: "actions" },
      confirm,
      h("button", {
        type: "button",
        class: "secondary",
        onclick: () => {
          form.hidden = true;
        },
      }, "Keep it"),
    ),
  );
  ui.buttons.push(confirm);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    act(() => cancelExecution(screen.id, reason.value.trim(), screen.signal), "Cancelled. Reading the run again…");
  });
  return form;
}

/** @param {Screen} screen */
function haltPanel(screen) {
  const data = screen.execution.haltData || {};
  const ui = { buttons: /** @type {HTMLButtonElement[]} */ ([]), error: h("p", { class: "error", role: "alert" }) };
  /** @param {Record<string, unknown>} body */
  const resume = (body) =>
    sendAction(screen, ui, () => resumeExecution(screen.id, body, screen.signal), "Answer sent. Waiting for the run to continue…");
  if (data.type === "event") return eventPanel(data, ui, screen);
  return data.type === "approval" ? approvalPanel(data, ui, resume) : responsePanel(data, ui, resume);
}

/**
 * A run waiting in a wait_for_event step: the events it waits for, its match, until when, and a form that sends
 * one of the events (POST /events/:name) — every run waiting for it whose match holds receives it.
 * @param {HaltData} data
 * @param {{ buttons: HTMLButtonElement[], error: HTMLElement }} ui
 * @param {Screen} screen
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
      () =>
        sendEventRequest(
          /** @type {HTMLSelectElement} */ (name).value,
          body,
          /** @type {HTMLInputElement} */ (id).value.trim(),
          screen.signal,
        ),
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

/** @param {HaltData} data */
function haltFacts(data) {
  /** @type {[string, string][]} */
  const facts = [];
  if (Array.isArray(data.approvers) && data.approvers.length) facts.push(["Approvers", data.approvers.join(", ")]);
  if (data.requested_at) facts.push(["Requested", when(data.requested_at)]);
  if (data.halted_at) facts.push(["Halted", when(data.halted_at)]);
  if (data.expires_at) facts.push(["Expires", when(data.expires_at)]);
  return facts.length ? h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", null, k), h("dd", null, v)])) : null;
}

/**
 * @param {HaltData} data
 * @param {{ buttons: HTMLButtonElement[], error: HTMLElement }} ui
 * @param {(body: Record<string, unknown>) => void} resume
 */
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

/**
 * Submitting `form` parses `area` as JSON and hands the value to `send`, or says why it is not JSON.
 * @param {HTMLElement} form @param {HTMLElement} area @param {{ error: HTMLElement }} ui @param {(value: unknown) => void} send
 */
function onJsonSubmit(form, area, ui, send) {
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    let value;
    try {
      value = JSON.parse(/** @type {HTMLTextAreaElement} */ (area).value);
    } catch (err) {
      ui.error.textContent = "Not valid JSON: " + describe(err);
      return;
    }
    send(value);
  });
}

/**
 * Any other halt: its reason and data, and a JSON response form.
 * @param {HaltData} data
 * @param {{ buttons: HTMLButtonElement[], error: HTMLElement }} ui
 * @param {(body: Record<string, unknown>) => void} resume
 */
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

// ---- following an execution live: SSE when the server has it, polling otherwise ----

/** @param {Screen} screen @param {LiveMode} mode */
function setLive(screen, mode) {
  const live = screen.els.live;
  live.hidden = !mode;
  live.className = "live" + (mode ? " live-" + mode : "");
  live.textContent = mode ? { streaming: "Live", reconnecting: "Reconnecting…", polling: "Polling" }[mode] : "";
}

/** @param {Screen} screen */
function scheduleRefresh(screen) {
  if (screen.refreshTimer) return;
  screen.refreshTimer = setTimeout(() => {
    screen.refreshTimer = null;
    refresh(screen);
  }, 120);
}

/** Re-reads the execution and its entries and redraws; null when that failed. @param {Screen} screen */
async function refresh(screen) {
  try {
    const [execution, entries] = await Promise.all([getExecution(screen.id, screen.signal), getEntries(screen.id, screen.signal)]);
    if (screen.signal.aborted) return null;
    screen.execution = execution;
    screen.entries = entries;
    if (screen.waitPast && (execution.revision > screen.waitPast.revision || Date.now() > screen.waitPast.until)) screen.waitPast = null;
    if (!LIVE.includes(execution.status)) screen.running = null;
    update(screen);
    return execution;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404 && !screen.signal.aborted) {
      screen.gone = true;
      fill(screen.els.halt, h("p", { class: "card error" }, "This execution no longer exists."));
    }
    return null;
  }
}

/** @param {Screen} screen */
function stillLive(screen) {
  return !screen.gone && (LIVE.includes(screen.execution.status) || screen.waitPast !== null);
}

/** @param {Screen} screen @param {{ type: string, data?: { stepId?: unknown } }} event */
function onEvent(screen, event) {
  const data = (event && event.data) || {};
  if (event.type === "step.started") screen.running = typeof data.stepId === "string" ? data.stepId : null;
  else if (/^step\./.test(event.type) || /^workflow\.(completed|failed|halted)$/.test(event.type)) screen.running = null;
  scheduleRefresh(screen);
}

/** Follows the execution until it completes, fails or halts. @param {Screen} screen */
async function follow(screen) {
  if (screen.following) return;
  screen.following = true;
  let delay = 500;
  try {
    while (!screen.signal.aborted) {
      const outcome = await streamOnce(screen);
      if (screen.signal.aborted || outcome === "unauthorized") break;
      if (outcome === "unsupported") {
        await poll(screen);
        break;
      }
      await refresh(screen);
      if (!stillLive(screen)) break;
      setLive(screen, "reconnecting");
      await sleep(outcome === "ended" ? 250 : delay, screen.signal);
      if (outcome !== "ended") delay = Math.min(delay * 2, 8000);
    }
  } finally {
    screen.following = false;
    if (!screen.signal.aborted) {
      setLive(screen, null);
      await refresh(screen);
    }
  }
}

/** One connection to the event stream, read to its end. @param {Screen} screen @returns {Promise<StreamOutcome>} */
async function streamOnce(screen) {
  let response;
  try {
    response = await openEvents(screen.id, screen.lastEventId, screen.signal);
  } catch (_) {
    return "error";
  }
  if (response.status === 401) {
    lock("The server refused the token (401). Enter it again.");
    return "unauthorized";
  }
  // 204: the execution has stopped and there is nothing after the last event seen.
  if (response.status === 204) return "ended";
  const type = response.headers.get("content-type") || "";
  if (!type.startsWith("text/event-stream") || !response.body) {
    if (response.body) response.body.cancel().catch(() => {});
    return response.ok || [404, 405, 501].includes(response.status) ? "unsupported" : "error";
  }
  setLive(screen, "streaming");
  try {
    await readEvents(response.body, screen.signal, (message) => {
      if (message.id) screen.lastEventId = message.id;
      let event;
      try {
        event = JSON.parse(message.data);
      } catch (_) {
        return;
      }
      if (event && typeof event === "object") onEvent(screen, Object.assign({}, event, { type: message.event || event.type }));
    });
  } catch (_) {
    return "error";
  }
  return "ended";
}

/**
 * Server-Sent Events from a byte stream: fields id / event / data, a blank line ends an event.
 * @param {ReadableStream<BufferSource>} body
 * @param {AbortSignal} signal
 * @param {(message: SseMessage) => void} onMessage
 */
async function readEvents(body, signal, onMessage) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const cancel = () => {
    reader.cancel().catch(() => {});
  };
  signal.addEventListener("abort", cancel, { once: true });
  let buffer = "";
  /** @type {string[]} */
  let data = [];
  let type = "";
  /** @type {string | null} */
  let id = null;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      for (;;) {
        const match = /\r\n|\r|\n/.exec(buffer);
        if (!match) break;
        if (match[0] === "\r" && match.index === buffer.length - 1) break;
        const line = buffer.slice(0, match.index);
        buffer = buffer.slice(match.index + match[0].length);
        if (line === "") {
          if (data.length) onMessage({ id, event: type, data: data.join("\n") });
          data = [];
          type = "";
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let text = colon < 0 ? "" : line.slice(colon + 1);
        if (text.startsWith(" ")) text = text.slice(1);
        if (field === "data") data.push(text);
        else if (field === "event") type = text;
        else if (field === "id" && !text.includes("\u0000")) id = text;
      }
    }
  } finally {
    signal.removeEventListener("abort", cancel);
  }
}

/** @param {Screen} screen */
async function poll(screen) {
  setLive(screen, "polling");
  while (!screen.signal.aborted) {
    await sleep(1000, screen.signal);
    if (screen.signal.aborted) return;
    await refresh(screen);
    if (!stillLive(screen)) return;
  }
}

// ---- the diagram: the server's SVG, parsed, scripts and handlers stripped ----

/**
 * @param {HTMLElement} container
 * @param {string} workflowId
 * @param {string[]} highlight
 * @param {AbortSignal} signal
 */
async function loadDiagram(container, workflowId, highlight, signal) {
  try {
    const text = await getDiagram(workflowId, highlight, signal);
    if (signal.aborted) return;
    fill(container, parseSvg(text));
  } catch (error) {
    if (!signal.aborted) fill(container, h("p", { class: "error" }, "Diagram unavailable: " + describe(error)));
  } finally {
    container.removeAttribute("aria-busy");
  }
}

/** @param {unknown} text */
function parseSvg(text) {
  if (typeof text !== "string" || !text.startsWith("<svg ")) throw new Error("not an SVG document");
  const doc = new DOMParser().parseFromString(svgPolicy ? svgPolicy.createHTML(text) : text, "image/svg+xml");
  const root = doc.documentElement;
  if (root.localName !== "svg" || doc.getElementsByTagName("parsererror").length) throw new Error("the SVG could not be read");
  for (const el of root.querySelectorAll("script, foreignObject, iframe, image")) el.remove();
  for (const el of [root, ...root.querySelectorAll("*")]) {
    for (const attr of [...el.attributes]) {
      if (/^on/i.test(attr.name) || attr.name === "style" || (/href$/i.test(attr.name) && !attr.value.startsWith("#"))) {
        el.removeAttribute(attr.name);
      }
    }
  }
  return document.importNode(root, true);
}

// ---- start ----

async function start() {
  forgetButton.addEventListener("click", () => lock(""));
  globalThis.addEventListener("hashchange", render);
  if (!state.token) {
    // An API without a token (local development) needs no gate.
    try {
      await listWorkflows(undefined, true);
      state.open = true;
      state.ready = true;
    } catch (_) {
      state.ready = false;
    }
  } else {
    state.ready = true;
  }
  render();
}

start();
