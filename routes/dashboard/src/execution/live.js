// @ts-check
/**
 * Following an execution live: its event stream (SSE over `fetch`, reconnecting with `Last-Event-ID`) when the
 * server has it, polling once a second otherwise. Each event schedules a re-read of the execution and its entries.
 */
import { ApiError, getEntries, getExecution, openEvents, unauthorized } from "../api.js";
import { fill, h } from "../dom.js";
import { noteOperator } from "./operators.js";
import { readEvents } from "../sse.js";
import { LIVE } from "../status.js";
import { sleep } from "../time.js";

/** @typedef {import("../types.js").Screen} Screen */
/** @typedef {import("../types.js").LiveMode} LiveMode */
/** @typedef {"ended" | "error" | "unsupported" | "unauthorized"} StreamOutcome */

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
    screen.redraw();
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
  noteOperator(screen, event);
  if (event.type === "step.started") screen.running = typeof data.stepId === "string" ? data.stepId : null;
  else if (/^step\./.test(event.type) || /^workflow\.(completed|failed|halted)$/.test(event.type)) screen.running = null;
  scheduleRefresh(screen);
}

/** Follows the execution until it completes, fails or halts. @param {Screen} screen */
export async function follow(screen) {
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
    unauthorized();
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
      if (event && typeof event === "object") onEvent(screen, { ...event, type: message.event || event.type });
    });
  } catch (_) {
    return "error";
  }
  return "ended";
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
