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
 * Written as plain JavaScript in a String.raw literal: it must not contain a backtick or a dollar-brace.
 */
export const DASHBOARD_SCRIPT = String.raw`
const TOKEN_KEY = "durable-workflow.dashboard.token";
const STATUSES = ["pending", "running", "halted", "completed", "failed"];
const LIVE = ["pending", "running"];
const ACTIONS = ["completed", "halted", "failed"];
const PAGE_SIZE = 25;
const apiBase = location.pathname.replace(/\/dashboard\/?$/, "");
const view = document.getElementById("view");
const forgetButton = document.getElementById("forget");
const svgPolicy = window.trustedTypes ? window.trustedTypes.createPolicy("dw-svg", { createHTML: (text) => text }) : null;

const state = { token: sessionStorage.getItem(TOKEN_KEY), open: false, ready: false, workflows: null, gateMessage: "" };
let currentView = null;

class ApiError extends Error {
  constructor(status, detail, errors) {
    super(detail);
    this.status = status;
    this.errors = errors || [];
  }
}

// ---- DOM helpers: text only ----

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

/** Replaces the children of el; null, undefined and false are skipped, arrays flattened. */
function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

function route(...parts) {
  return "#/" + parts.map((p) => encodeURIComponent(p)).join("/");
}

function link(parts, text, cls) {
  return h("a", { href: route(...parts), class: cls }, text);
}

function known(value, list, fallback) {
  return list.includes(value) ? value : fallback;
}

function badge(status) {
  return h("span", { class: "badge status-" + known(status, STATUSES, "unknown") }, String(status));
}

function json(value) {
  return h("pre", { class: "json" }, JSON.stringify(value === undefined ? null : value, null, 2));
}

function dataBlock(title, value, open) {
  return h("details", { class: "data", open: open || undefined }, h("summary", null, title), json(value));
}

function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const pad = (n, w) => String(n).padStart(w || 2, "0");
  return date.getFullYear() + "-" + pad(date.getMonth() + 1) + "-" + pad(date.getDate()) + " " +
    pad(date.getHours()) + ":" + pad(date.getMinutes()) + ":" + pad(date.getSeconds());
}

function duration(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "";
  if (ms < 1000) return Math.round(ms) + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
  const minutes = Math.floor(ms / 60000);
  if (minutes < 120) return minutes + " min " + Math.round((ms % 60000) / 1000) + " s";
  return (ms / 3600000).toFixed(1) + " h";
}

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

function describe(error) {
  if (error instanceof ApiError) {
    const details = error.errors.map((e) => (e.path ? e.path + ": " : "") + e.message);
    return error.message + (details.length ? " (" + details.join("; ") + ")" : "");
  }
  return error && error.message ? error.message : String(error);
}

// ---- the API, with the token in the Authorization header only ----

async function api(path, options) {
  const opts = options || {};
  const headers = { Accept: opts.accept || "application/json" };
  if (state.token) headers.Authorization = "Bearer " + state.token;
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
    let problem = null;
    try { problem = await response.json(); } catch (_) { problem = null; }
    throw new ApiError(response.status, (problem && problem.detail) || response.status + " " + response.statusText, problem && problem.errors);
  }
  if (response.status === 204) return null;
  const type = response.headers.get("content-type") || "";
  return type.includes("json") ? response.json() : response.text();
}

async function workflows(signal) {
  if (!state.workflows) state.workflows = (await api("/workflows", { signal })).workflows;
  return state.workflows;
}

// ---- token gate ----

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
  const input = h("input", { id: "token-input", name: "token", type: "password", autocomplete: "off", spellcheck: "false", required: true });
  const error = h("p", { class: "error", role: "alert" }, state.gateMessage);
  const button = h("button", { type: "submit" }, "Connect");
  const form = h("form", { id: "token-form", class: "stack" },
    h("label", { for: "token-input" }, "API token"), input, error, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    button.disabled = true;
    state.token = token;
    try {
      await api("/workflows", { probe: true });
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
  fill(view, h("section", { class: "card gate" },
    h("h1", null, "Connect to the API"),
    h("p", { class: "muted" }, "Enter the API token of this server. It stays in this browser tab (session storage) and is sent only in the Authorization header."),
    form));
  input.focus();
}

async function start() {
  forgetButton.addEventListener("click", () => lock(""));
  window.addEventListener("hashchange", render);
  if (!state.token) {
    // An API without a token (local development) needs no gate.
    try {
      await api("/workflows", { probe: true });
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

// ---- views ----

function parseHash() {
  const raw = location.hash.replace(/^#\/?/, "");
  const cut = raw.indexOf("?");
  const path = cut < 0 ? raw : raw.slice(0, cut);
  let parts;
  try { parts = path.split("/").filter(Boolean).map(decodeURIComponent); } catch (_) { parts = []; }
  return { parts, query: new URLSearchParams(cut < 0 ? "" : raw.slice(cut + 1)) };
}

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
  markNav(parts[0] === "executions" ? "executions" : "workflows");
  if (!state.ready) return showGate();
  forgetButton.hidden = state.open;
  view.setAttribute("aria-busy", "true");
  try {
    if (parts[0] === "executions" && parts[1]) await executionView(parts[1], signal);
    else if (parts[0] === "executions") await executionsView(query, signal);
    else if (parts[0] === "workflows" && parts[1]) await workflowView(parts[1], signal);
    else await workflowsView(signal);
  } catch (error) {
    if (signal.aborted || (error instanceof ApiError && error.status === 401)) return;
    fill(view, h("section", { class: "card" }, h("h1", null, "Something went wrong"), h("p", { class: "error" }, describe(error))));
  } finally {
    if (!signal.aborted) view.removeAttribute("aria-busy");
  }
}

function pageHead(title, ...rest) {
  document.title = title + " · durable-workflow";
  return h("div", { class: "page-head" }, h("h1", null, title), rest);
}

function inputsList(inputs) {
  const names = Object.keys(inputs || {});
  if (!names.length) return null;
  return h("dl", { class: "inputs" }, names.map((name) => {
    const spec = inputs[name] || {};
    return [h("dt", null, h("code", null, name)), h("dd", null,
      spec.type || "any", spec.required ? " · required" : " · optional",
      spec.description ? h("span", { class: "muted" }, " — " + spec.description) : null)];
  }));
}

async function workflowsView(signal) {
  const list = await workflows(signal);
  const cards = list.map((w) => {
    const diagram = h("div", { class: "diagram thumb", "aria-busy": "true" });
    loadDiagram(diagram, w.id, [], signal);
    return h("article", { class: "card workflow-card" },
      h("div", { class: "card-head" }, h("h2", null, link(["workflows", w.id], w.name)), h("span", { class: "pill" }, "v" + w.version)),
      h("p", { class: "meta" }, h("code", null, w.id), " · " + w.steps + " steps · hash ", h("code", null, String(w.hash).slice(0, 12))),
      w.description ? h("p", { class: "description" }, w.description) : null,
      diagram,
      h("div", { class: "actions" },
        h("a", { class: "button", href: route("workflows", w.id) }, "Start a run"),
        h("a", { class: "button secondary", href: "#/executions?workflow=" + encodeURIComponent(w.id) }, "Executions")));
  });
  fill(view,
    pageHead("Workflows", h("p", { class: "muted" }, list.length + (list.length === 1 ? " workflow" : " workflows"))),
    list.length ? h("div", { class: "cards" }, cards) : h("p", { class: "card muted" }, "This server lists no workflows."));
}

function inputTemplate(inputs) {
  const out = {};
  for (const [name, spec] of Object.entries(inputs || {})) {
    if (spec.default !== undefined) out[name] = spec.default;
    else out[name] = { string: "", integer: 0, number: 0, boolean: false, array: [], object: {} }[spec.type] ?? null;
  }
  return out;
}

async function workflowView(id, signal) {
  const w = await api("/workflows/" + encodeURIComponent(id), { signal });
  const diagram = h("div", { class: "diagram", "aria-busy": "true" });
  loadDiagram(diagram, w.id, [], signal);
  const area = h("textarea", { id: "run-input", class: "code", rows: "12", spellcheck: "false" });
  area.value = JSON.stringify(inputTemplate(w.inputs), null, 2);
  const error = h("p", { class: "error", role: "alert" });
  const button = h("button", { type: "submit" }, "Start run");
  const form = h("form", { id: "run-form", class: "stack" }, h("label", { for: "run-input" }, "Input (JSON object)"), area, error, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    let input;
    try { input = JSON.parse(area.value.trim() || "{}"); } catch (e) { error.textContent = "Not valid JSON: " + e.message; return; }
    if (!input || typeof input !== "object" || Array.isArray(input)) { error.textContent = "The input must be a JSON object."; return; }
    button.disabled = true;
    error.textContent = "";
    try {
      const started = await api("/workflows/" + encodeURIComponent(w.id) + "/executions", { method: "POST", body: { input, mode: "async" } });
      location.hash = route("executions", started.executionId);
    } catch (e) {
      error.textContent = describe(e);
      button.disabled = false;
    }
  });
  const recent = h("div", { class: "recent" }, h("p", { class: "muted" }, "Loading…"));
  fill(view,
    pageHead(w.name, h("span", { class: "pill" }, "v" + w.version)),
    h("p", { class: "meta" }, h("code", null, w.id), " · hash ", h("code", null, String(w.hash).slice(0, 12)), w.timeout ? " · timeout " + w.timeout + " s" : ""),
    w.description ? h("p", { class: "description" }, w.description) : null,
    h("div", { class: "split" },
      h("section", { class: "card" }, h("h2", null, "Diagram"), diagram),
      h("div", { class: "column" },
        h("section", { class: "card" }, h("h2", null, "Start a run"), inputsList(w.inputs), form),
        h("section", { class: "card" }, h("h2", null, "Recent executions"), recent))));
  api("/executions?limit=10&workflowId=" + encodeURIComponent(w.id), { signal })
    .then((page) => fill(recent, executionTable(page.executions, false)))
    .catch((e) => { if (!signal.aborted) fill(recent, h("p", { class: "error" }, describe(e))); });
}

function executionTable(executions, withWorkflow) {
  if (!executions.length) return h("p", { class: "muted" }, "No executions.");
  const table = h("table", { class: "executions" },
    h("thead", null, h("tr", null, h("th", null, "Status"), h("th", null, "Execution"), withWorkflow ? h("th", null, "Workflow") : null,
      h("th", null, "Step"), h("th", null, "Started"), h("th", null, "Updated"))),
    h("tbody", null));
  appendRows(table, executions, withWorkflow);
  return table;
}

function appendRows(table, executions, withWorkflow) {
  const body = table.querySelector("tbody");
  for (const e of executions) {
    body.append(h("tr", null,
      h("td", { "data-label": "Status" }, badge(e.status)),
      h("td", { "data-label": "Execution" }, link(["executions", e.id], e.id, "mono")),
      withWorkflow ? h("td", { "data-label": "Workflow" }, e.workflowId) : null,
      h("td", { "data-label": "Step" }, h("code", null, e.currentStep || "—")),
      h("td", { "data-label": "Started" }, when(e.createdAt)),
      h("td", { "data-label": "Updated" }, when(e.updatedAt))));
  }
}

async function executionsView(query, signal) {
  const workflowId = query.get("workflow") || "";
  const status = query.get("status") || "";
  const limit = Math.min(100, Math.max(1, Number.parseInt(query.get("limit") || "", 10) || PAGE_SIZE));
  const list = await workflows(signal);
  const filter = () => {
    const params = new URLSearchParams();
    if (workflowSelect.value) params.set("workflow", workflowSelect.value);
    if (statusSelect.value) params.set("status", statusSelect.value);
    if (limit !== PAGE_SIZE) params.set("limit", String(limit));
    const text = params.toString();
    location.hash = "#/executions" + (text ? "?" + text : "");
  };
  const workflowSelect = h("select", { id: "filter-workflow", onchange: filter },
    h("option", { value: "" }, "All workflows"),
    list.map((w) => h("option", { value: w.id, selected: w.id === workflowId || undefined }, w.name)));
  const statusSelect = h("select", { id: "filter-status", onchange: filter },
    h("option", { value: "" }, "Any status"),
    STATUSES.map((s) => h("option", { value: s, selected: s === status || undefined }, s)));
  const results = h("div", { class: "results" }, h("p", { class: "muted" }, "Loading…"));
  const more = h("button", { id: "load-more", type: "button", class: "secondary", hidden: true }, "Load more");
  const refresh = h("button", { type: "button", class: "secondary", onclick: () => render() }, "Refresh");
  fill(view,
    pageHead("Executions"),
    h("form", { class: "filters card", onsubmit: (e) => e.preventDefault() },
      h("label", null, "Workflow", workflowSelect), h("label", null, "Status", statusSelect), refresh),
    h("section", { class: "card" }, results, h("div", { class: "actions" }, more)));

  let table = null;
  const load = async (cursor) => {
    const params = new URLSearchParams({ limit: String(limit) });
    if (workflowId) params.set("workflowId", workflowId);
    if (status) params.set("status", status);
    if (cursor) params.set("cursor", cursor);
    const page = await api("/executions?" + params.toString(), { signal });
    if (!table) {
      table = executionTable(page.executions, true);
      fill(results, table);
    } else {
      appendRows(table, page.executions, true);
    }
    more.hidden = !page.cursor;
    more.onclick = async () => {
      more.disabled = true;
      try { await load(page.cursor); } catch (e) { results.append(h("p", { class: "error" }, describe(e))); } finally { more.disabled = false; }
    };
  };
  await load(null);
}

// ---- an execution, live ----

async function executionView(id, signal) {
  const path = "/executions/" + encodeURIComponent(id);
  const [execution, history] = await Promise.all([api(path, { signal }), api(path + "/entries", { signal })]);
  const ctx = {
    id, path, signal,
    execution, entries: history.entries,
    running: null, lastEventId: null, following: false, waitPast: null, gone: false, haltKey: null, highlightKey: null, refreshTimer: null,
    els: {
      status: h("span", { class: "status-slot" }),
      live: h("span", { class: "live", hidden: true }),
      meta: h("p", { class: "meta" }),
      halt: h("div", { class: "halt-slot" }),
      timeline: h("div", { class: "timeline-slot" }),
      data: h("div", { class: "data-slot" }),
      diagram: h("div", { class: "diagram", "aria-busy": "true" }),
    },
  };
  const els = ctx.els;
  fill(view,
    pageHead("Execution", els.status, els.live),
    h("p", { class: "exec-id" }, h("code", null, id)),
    els.meta,
    els.halt,
    h("div", { class: "split execution" },
      h("div", { class: "column" },
        h("section", { class: "card" }, h("h2", null, "Timeline"), els.timeline),
        h("section", { class: "card" }, h("h2", null, "Data"), els.data)),
      h("section", { class: "card" }, h("h2", null, "Path"), els.diagram)));
  update(ctx);
  if (LIVE.includes(execution.status)) follow(ctx);
}

function highlightOf(ctx) {
  const ids = [];
  for (const entry of ctx.entries) if (ids[ids.length - 1] !== entry.stepId) ids.push(entry.stepId);
  if (ctx.running && ids[ids.length - 1] !== ctx.running) ids.push(ctx.running);
  return ids.slice(-300);
}

function update(ctx) {
  const e = ctx.execution;
  const els = ctx.els;
  document.title = e.status + " · " + e.workflowId + " · durable-workflow";
  fill(els.status, badge(e.status));
  const elapsed = Date.parse(e.updatedAt) - Date.parse(e.createdAt);
  fill(els.meta,
    "Workflow ", link(["workflows", e.workflowId], e.workflowId), " v" + e.workflowVersion,
    " · started " + when(e.createdAt), " · updated " + when(e.updatedAt),
    Number.isFinite(elapsed) ? " · " + duration(elapsed) : "",
    e.currentStep ? [" · step ", h("code", null, e.currentStep)] : null);

  const haltKey = e.status === "halted" ? e.revision + ":" + JSON.stringify(e.haltData) : "";
  if (haltKey !== ctx.haltKey) {
    ctx.haltKey = haltKey;
    fill(els.halt, e.status === "halted" ? haltPanel(ctx) : null);
  }

  fill(els.timeline, timeline(ctx));
  fill(els.data,
    e.status === "failed" && e.error ? h("p", { class: "error failure" }, e.error) : null,
    e.status === "completed" ? dataBlock("Result", e.result, true) : null,
    dataBlock("Input", e.input, e.status !== "completed"),
    dataBlock("Context (ctx)", e.ctx, false));

  const highlight = highlightOf(ctx);
  const key = e.workflowId + "|" + highlight.join(",");
  if (key !== ctx.highlightKey) {
    ctx.highlightKey = key;
    loadDiagram(els.diagram, e.workflowId, highlight, ctx.signal);
  }
}

function timeline(ctx) {
  const entries = ctx.entries;
  if (!entries.length && !ctx.running) return h("p", { class: "muted empty" }, "No step has finished yet.");
  const longest = Math.max(1, ...entries.map((e) => e.durationMs || 0));
  const items = entries.map((entry) => {
    const action = known(entry.action, ACTIONS, "completed");
    const bar = h("span", { class: "bar" });
    bar.style.setProperty("--share", String(Math.max(0.02, (entry.durationMs || 0) / longest)));
    return h("li", { class: "entry action-" + action, "data-step": entry.stepId },
      h("div", { class: "entry-head" },
        h("span", { class: "entry-step" }, entry.stepId),
        h("span", { class: "entry-type" }, entry.stepType),
        h("span", { class: "badge action-" + action }, action),
        h("span", { class: "entry-duration" }, duration(entry.durationMs))),
      h("div", { class: "entry-meta" }, bar, h("span", null, when(entry.timestamp) + (entry.attempt > 1 ? " · attempt " + entry.attempt : ""))),
      entry.error ? h("p", { class: "error" }, entry.error) : null,
      entry.output !== null && entry.output !== undefined ? dataBlock("Output", entry.output, false) : null);
  });
  if (ctx.running && LIVE.includes(ctx.execution.status)) {
    items.push(h("li", { class: "entry action-running" },
      h("div", { class: "entry-head" }, h("span", { class: "entry-step" }, ctx.running), h("span", { class: "badge action-running" }, "running"))));
  }
  return h("ol", { class: "timeline" }, items);
}

function haltPanel(ctx) {
  const e = ctx.execution;
  const data = e.haltData || {};
  const approval = data.type === "approval";
  const error = h("p", { class: "error", role: "alert" });
  const buttons = [];
  const send = async (body) => {
    for (const b of buttons) b.disabled = true;
    error.textContent = "";
    try {
      await api(ctx.path + "/resume", { method: "POST", body: Object.assign({}, body, { mode: "async" }), signal: ctx.signal });
      ctx.waitPast = { revision: e.revision, until: Date.now() + 60000 };
      ctx.haltKey = null;
      fill(ctx.els.halt, h("section", { class: "card halt sent" }, h("p", null, "Answer sent. Waiting for the run to continue…")));
      follow(ctx);
    } catch (err) {
      error.textContent = describe(err);
      for (const b of buttons) b.disabled = false;
    }
  };
  const facts = [];
  if (Array.isArray(data.approvers) && data.approvers.length) facts.push(["Approvers", data.approvers.join(", ")]);
  if (data.requested_at) facts.push(["Requested", when(data.requested_at)]);
  if (data.halted_at) facts.push(["Halted", when(data.halted_at)]);
  if (data.expires_at) facts.push(["Expires", when(data.expires_at)]);
  const factList = facts.length ? h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", null, k), h("dd", null, v)])) : null;

  if (approval) {
    const approve = h("button", { type: "button", class: "approve", onclick: () => send({ approved: true }) }, "Approve");
    const reject = h("button", { type: "button", class: "reject", onclick: () => send({ approved: false }) }, "Reject");
    buttons.push(approve, reject);
    return h("section", { class: "card halt approval", "aria-label": "Approval" },
      h("h2", null, "Waiting for approval"),
      h("p", { class: "prompt" }, String(data.prompt ?? "")),
      factList,
      data.context !== undefined ? h("div", null, h("h3", null, "Context"), json(data.context)) : null,
      error,
      h("div", { class: "actions" }, approve, reject));
  }
  const area = h("textarea", { id: "resume-response", class: "code", rows: "5", spellcheck: "false" });
  area.value = "{}";
  const resume = h("button", { type: "submit" }, "Resume");
  buttons.push(resume);
  const form = h("form", { class: "stack" }, h("label", { for: "resume-response" }, "Response (JSON, available as $response)"), area, error, resume);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    let response;
    try { response = JSON.parse(area.value); } catch (err) { error.textContent = "Not valid JSON: " + err.message; return; }
    send({ response });
  });
  return h("section", { class: "card halt", "aria-label": "Halted" },
    h("h2", null, "Halted"),
    h("p", { class: "prompt" }, String(data.reason ?? "Halted")),
    factList,
    h("h3", null, "Halt data"), json(data),
    form);
}

function setLive(ctx, mode) {
  const live = ctx.els.live;
  live.hidden = !mode;
  live.className = "live" + (mode ? " live-" + mode : "");
  live.textContent = { streaming: "Live", reconnecting: "Reconnecting…", polling: "Polling" }[mode] || "";
}

function scheduleRefresh(ctx) {
  if (ctx.refreshTimer) return;
  ctx.refreshTimer = setTimeout(() => { ctx.refreshTimer = null; refresh(ctx); }, 120);
}

async function refresh(ctx) {
  try {
    const [execution, history] = await Promise.all([api(ctx.path, { signal: ctx.signal }), api(ctx.path + "/entries", { signal: ctx.signal })]);
    if (ctx.signal.aborted) return null;
    ctx.execution = execution;
    ctx.entries = history.entries;
    if (ctx.waitPast && (execution.revision > ctx.waitPast.revision || Date.now() > ctx.waitPast.until)) ctx.waitPast = null;
    if (!LIVE.includes(execution.status)) ctx.running = null;
    update(ctx);
    return execution;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404 && !ctx.signal.aborted) {
      ctx.gone = true;
      fill(ctx.els.halt, h("p", { class: "card error" }, "This execution no longer exists."));
    }
    return null;
  }
}

function stillLive(ctx) {
  return !ctx.gone && (LIVE.includes(ctx.execution.status) || ctx.waitPast !== null);
}

function onEvent(ctx, event) {
  const data = (event && event.data) || {};
  if (event.type === "step.started") ctx.running = typeof data.stepId === "string" ? data.stepId : null;
  else if (/^step\./.test(event.type) || /^workflow\.(completed|failed|halted)$/.test(event.type)) ctx.running = null;
  scheduleRefresh(ctx);
}

/** Follows the execution until it completes, fails or halts: SSE when the server has it, polling otherwise. */
async function follow(ctx) {
  if (ctx.following) return;
  ctx.following = true;
  let delay = 500;
  try {
    while (!ctx.signal.aborted) {
      const outcome = await streamOnce(ctx);
      if (ctx.signal.aborted || outcome === "unauthorized") break;
      if (outcome === "unsupported") { await poll(ctx); break; }
      await refresh(ctx);
      if (!stillLive(ctx)) break;
      setLive(ctx, "reconnecting");
      await sleep(outcome === "ended" ? 250 : delay, ctx.signal);
      if (outcome !== "ended") delay = Math.min(delay * 2, 8000);
    }
  } finally {
    ctx.following = false;
    if (!ctx.signal.aborted) {
      setLive(ctx, null);
      await refresh(ctx);
    }
  }
}

async function streamOnce(ctx) {
  const headers = { Accept: "text/event-stream" };
  if (state.token) headers.Authorization = "Bearer " + state.token;
  if (ctx.lastEventId) headers["Last-Event-ID"] = ctx.lastEventId;
  let response;
  try {
    response = await fetch(apiBase + ctx.path + "/events", { headers, signal: ctx.signal, cache: "no-store", credentials: "omit", referrerPolicy: "no-referrer" });
  } catch (_) {
    return "error";
  }
  if (response.status === 401) { lock("The server refused the token (401). Enter it again."); return "unauthorized"; }
  // 204: the execution has stopped and there is nothing after the last event seen.
  if (response.status === 204) return "ended";
  const type = response.headers.get("content-type") || "";
  if (!type.startsWith("text/event-stream") || !response.body) {
    if (response.body) response.body.cancel().catch(() => {});
    return response.ok || [404, 405, 501].includes(response.status) ? "unsupported" : "error";
  }
  setLive(ctx, "streaming");
  try {
    await readEvents(response.body, ctx.signal, (message) => {
      if (message.id) ctx.lastEventId = message.id;
      let event;
      try { event = JSON.parse(message.data); } catch (_) { return; }
      if (event && typeof event === "object") onEvent(ctx, Object.assign({}, event, { type: message.event || event.type }));
    });
  } catch (_) {
    return "error";
  }
  return "ended";
}

/** Server-Sent Events from a byte stream: fields id / event / data, a blank line ends an event. */
async function readEvents(body, signal, onMessage) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  const cancel = () => reader.cancel().catch(() => {});
  signal.addEventListener("abort", cancel, { once: true });
  let buffer = "";
  let data = [];
  let type = "";
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

async function poll(ctx) {
  setLive(ctx, "polling");
  while (!ctx.signal.aborted) {
    await sleep(1000, ctx.signal);
    if (ctx.signal.aborted) return;
    await refresh(ctx);
    if (!stillLive(ctx)) return;
  }
}

// ---- the diagram: the server's SVG, parsed, scripts and handlers stripped ----

async function loadDiagram(container, workflowId, highlight, signal) {
  const query = highlight.length ? "?highlight=" + encodeURIComponent(highlight.join(",")) : "";
  try {
    const text = await api("/dashboard/workflows/" + encodeURIComponent(workflowId) + "/diagram.svg" + query, { signal, accept: "image/svg+xml" });
    if (signal.aborted) return;
    fill(container, parseSvg(text));
  } catch (error) {
    if (!signal.aborted) fill(container, h("p", { class: "error" }, "Diagram unavailable: " + describe(error)));
  } finally {
    container.removeAttribute("aria-busy");
  }
}

function parseSvg(text) {
  if (typeof text !== "string" || !text.startsWith("<svg ")) throw new Error("not an SVG document");
  const doc = new DOMParser().parseFromString(svgPolicy ? svgPolicy.createHTML(text) : text, "image/svg+xml");
  const root = doc.documentElement;
  if (root.localName !== "svg" || doc.getElementsByTagName("parsererror").length) throw new Error("the SVG could not be read");
  for (const el of root.querySelectorAll("script, foreignObject, iframe, image")) el.remove();
  for (const el of [root, ...root.querySelectorAll("*")]) {
    for (const attr of [...el.attributes]) {
      if (/^on/i.test(attr.name) || attr.name === "style" || (/href$/i.test(attr.name) && !attr.value.startsWith("#"))) el.removeAttribute(attr.name);
    }
  }
  return document.importNode(root, true);
}

start();
`;
