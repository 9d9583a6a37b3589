// @ts-check
/** An execution's status as the list and its page show it: the badge, stuck runs, wake times. */
import { h, known } from "./dom.js";
import { when } from "./time.js";

/** @typedef {import("./types.js").ExecutionSummary} ExecutionSummary */
/** @typedef {import("./types.js").Status} Status */

/** @type {readonly Status[]} */
export const STATUSES = ["pending", "running", "halted", "completed", "failed", "cancelled"];
/** Statuses a run is followed live in. @type {readonly string[]} */
export const LIVE = ["pending", "running"];
/** A pending execution this long past its wake time (or its last update) counts as stuck, as the sweeper sees it. */
const STUCK_AFTER_MS = 60000;

/** @param {string} status */
export function badge(status) {
  return h("span", { class: "badge status-" + known(status, STATUSES, "unknown") }, String(status));
}

/**
 * When a run that nobody is working on stopped moving, or null: running under an expired lease, or pending more
 * than a minute past its wake time (its last update when it has none).
 * @param {ExecutionSummary} e
 * @returns {string | null}
 */
export function stuckSince(e) {
  if (e.status === "running" && e.leaseUntil) return Date.parse(e.leaseUntil) < Date.now() ? e.leaseUntil : null;
  if (e.status !== "pending") return null;
  const since = e.wakeAt || e.updatedAt;
  return Date.now() - Date.parse(since) > STUCK_AFTER_MS ? since : null;
}

/** @param {ExecutionSummary} e */
export function stuckBadge(e) {
  const since = stuckSince(e);
  if (!since) return null;
  return h(
    "span",
    { class: "stuck", title: "Nobody is working on this run: Recover hands it back to the queue" },
    "stuck since ",
    when(since),
  );
}

/**
 * Compensation: while a failed or cancelled run undoes its completed steps ("compensating, ends failed"), and after
 * (`compensated`, or `compensation failed` when one of them did not succeed).
 * @param {ExecutionSummary} e
 */
export function compensationNote(e) {
  if (e.compensating) {
    return h(
      "span",
      { class: "badge compensating", title: "Undoing its completed steps, newest first" },
      "compensating → " + e.compensating.status,
    );
  }
  if (e.compensated === true) return h("span", { class: "badge compensated", title: "Every compensation succeeded" }, "compensated");
  if (e.compensated === false) {
    return h("span", { class: "badge compensation-failed", title: "A compensation failed after its retries" }, "compensation failed");
  }
  return null;
}

/** When a waiting run goes on: a wait or a scheduled retry, or an approval's expiry. @param {ExecutionSummary} e */
export function wakeNote(e) {
  if (!e.wakeAt) return null;
  if (e.status === "pending") return h("span", { class: "wake" }, "waits until ", when(e.wakeAt));
  if (e.status === "halted") return h("span", { class: "wake" }, "expires ", when(e.wakeAt));
  return null;
}
