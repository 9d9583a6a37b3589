// @ts-check
/**
 * Times and durations. Every time on the page says its zone: the browser's (the default, with its UTC offset
 * at that date, so a summer and a winter time differ) or UTC, chosen in the top bar and kept in localStorage.
 */
import { h } from "./dom.js";

const ZONE_KEY = "durable-workflow.dashboard.timeZone";
/** @typedef {"local" | "utc"} ZoneChoice */

/** @type {ZoneChoice} */
let zone = readZone();
const localZoneName = Intl.DateTimeFormat().resolvedOptions().timeZone || "local time";

/** @returns {ZoneChoice} */
function readZone() {
  try {
    return localStorage.getItem(ZONE_KEY) === "utc" ? "utc" : "local";
  } catch (_) {
    return "local";
  }
}

/** The top bar's zone switch; `onChange` redraws the page. @param {() => void} onChange */
export function zoneSwitch(onChange) {
  const select = h(
    "select",
    { id: "time-zone", "aria-label": "Time zone of the times shown" },
    h("option", { value: "local", selected: zone === "local" || undefined }, "Local (" + localZoneName + ")"),
    h("option", { value: "utc", selected: zone === "utc" || undefined }, "UTC"),
  );
  select.addEventListener("change", () => {
    zone = select.value === "utc" ? "utc" : "local";
    try {
      localStorage.setItem(ZONE_KEY, zone);
    } catch (_) {
      // Storage refused (a private window's quota): the choice lasts until the page is reloaded.
    }
    onChange();
  });
  return select;
}

/** `UTC`, `UTC+2`, `UTC-3:30` for an offset in minutes east of UTC. @param {number} minutes */
export function zoneLabel(minutes) {
  if (minutes === 0) return "UTC";
  const abs = Math.abs(minutes);
  const rest = abs % 60;
  return "UTC" + (minutes < 0 ? "-" : "+") + Math.floor(abs / 60) + (rest ? ":" + String(rest).padStart(2, "0") : "");
}

/**
 * A time as `YYYY-MM-DD HH:MM:SS <zone>` in a `<time>` element that does not wrap (its ISO form in the
 * tooltip); "" for none, and the text itself when it is not a time.
 * @param {string | null | undefined} iso
 * @returns {HTMLTimeElement | string}
 */
export function when(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  const offset = zone === "utc" ? 0 : -date.getTimezoneOffset();
  const text = new Date(date.getTime() + offset * 60000).toISOString().slice(0, 19).replace("T", " ");
  const title = date.toISOString() + (zone === "utc" ? "" : " · " + localZoneName);
  return h("time", { datetime: date.toISOString(), title }, text + " ", h("span", { class: "tz" }, zoneLabel(offset)));
}

/** A duration for people: `< 1 ms`, `12 ms`, `1.50 s`, `3 min 4 s`, `2.5 h`. @param {number | undefined} ms */
export function duration(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "";
  if (ms < 1) return "< 1 ms";
  if (ms < 1000) return Math.round(ms) + " ms";
  if (ms < 60000) return (ms / 1000).toFixed(ms < 10000 ? 2 : 1) + " s";
  const minutes = Math.floor(ms / 60000);
  if (minutes < 120) return minutes + " min " + Math.round((ms % 60000) / 1000) + " s";
  return (ms / 3600000).toFixed(1) + " h";
}

/**
 * Resolves after `ms`, or at once when `signal` aborts.
 * @param {number} ms
 * @param {AbortSignal} signal
 * @returns {Promise<void>}
 */
export function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener("abort", () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });
}
