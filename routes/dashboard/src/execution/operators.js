// @ts-check
/**
 * Who acted on an execution: the events of its log that name an `actor` (an API token's name) — resumed, retried,
 * cancelled, migrated, recovered, an event sent to it. Read once from the event stream's replay when the execution
 * is not followed live (the server then ends the stream), and noted from the live stream otherwise.
 */
import { openEvents } from "../api.js";
import { h } from "../dom.js";
import { readEvents } from "../sse.js";
import { when } from "../time.js";

/** @typedef {import("../types.js").Screen} Screen */
/** @typedef {import("../types.js").OperatorEvent} OperatorEvent */

/** @type {Record<string, (data: Record<string, unknown>) => string>} */
const VERBS = {
  "workflow.resumed": (data) => (data.retry ? "retried" : "resumed"),
  "workflow.cancelled": () => "cancelled",
  "workflow.compensating": () => "cancelled",
  "workflow.migrated": (data) => "migrated to v" + String(data.version),
  "workflow.recovered": () => "recovered",
  "event.received": (data) => "sent the event " + String(data.event),
};

/**
 * Keeps `event` on the screen when an operator did it (once per seq); true when it was new.
 * @param {Screen} screen @param {{ type?: unknown, seq?: unknown, timestamp?: unknown, data?: unknown }} event
 */
export function noteOperator(screen, event) {
  const data = /** @type {Record<string, unknown>} */ (event.data && typeof event.data === "object" ? event.data : {});
  const verb = typeof event.type === "string" ? VERBS[event.type] : undefined;
  if (!verb || typeof data.actor !== "string" || typeof event.seq !== "number") return false;
  if (screen.operators.some((o) => o.seq === event.seq)) return false;
  screen.operators.push({ seq: event.seq, what: verb(data), actor: data.actor, timestamp: String(event.timestamp ?? "") });
  return true;
}

/** Reads the execution's stored events once (for one not followed live) and redraws. @param {Screen} screen */
export async function readOperators(screen) {
  let response;
  try {
    response = await openEvents(screen.id, null, screen.signal);
  } catch (_) {
    return;
  }
  if (!response.ok || !response.body || !(response.headers.get("content-type") || "").startsWith("text/event-stream")) {
    if (response.body) response.body.cancel().catch(() => {});
    return;
  }
  let changed = false;
  await readEvents(response.body, screen.signal, (message) => {
    try {
      if (noteOperator(screen, JSON.parse(message.data))) changed = true;
    } catch (_) {
      // not an event (a problem line): nothing to note
    }
  }).catch(() => {});
  if (changed && !screen.signal.aborted) screen.redraw();
}

/** "cancelled by alice · <time>", one line each, oldest first. @param {readonly OperatorEvent[]} operators */
export function operatorsPanel(operators) {
  if (!operators.length) return null;
  return h(
    "ul",
    { class: "operator-actions" },
    ...operators.map((o) => h("li", null, o.what + " by ", h("strong", null, o.actor), " · ", when(o.timestamp))),
  );
}
