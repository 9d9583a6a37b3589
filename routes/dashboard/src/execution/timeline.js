// @ts-check
/**
 * An execution's timeline: one line per entry (loop body steps numbered by iteration, `#1`…), its duration
 * with a bar scaled to the longest step (none under a millisecond: such a bar would be noise), the step
 * running now at the end. Compensations (after a failure or a cancel) are entries of their own: `compensated` or
 * `compensation_failed`.
 */
import { dataBlock, h, known } from "../dom.js";
import { LIVE } from "../status.js";
import { duration, when } from "../time.js";

/** @typedef {import("../types.js").Entry} Entry */
/** @typedef {import("../types.js").Step} Step */

const ACTIONS = ["completed", "halted", "failed", "compensated", "compensation_failed"];

/**
 * `<parent>:<step>` (a loop body or parallel branch step) → [parent, step]; a top-level id → [null, id].
 * @param {string} label
 * @returns {[string | null, string]}
 */
function splitLabel(label) {
  const cut = label.lastIndexOf(":");
  return cut < 0 ? [null, label] : [label.slice(0, cut), label.slice(cut + 1)];
}

/**
 * The ids of the loop steps of a definition, nested ones included.
 * @param {readonly Step[]} steps
 * @param {Set<string>} [into]
 */
export function loopIds(steps, into = new Set()) {
  for (const step of steps) {
    if (step.type === "loop") into.add(step.id);
    for (const body of [step.do, step.branches]) if (Array.isArray(body)) loopIds(body, into);
  }
  return into;
}

/**
 * The iteration (from 1) of each entry of a loop body, null for the others. An iteration always begins at the
 * body's first step, so a step seen again in the current iteration starts the next one; the loop's own entry
 * (it ended, or failed and may be retried from its first item) closes the count.
 * @param {readonly Entry[]} entries
 * @param {ReadonlySet<string>} loops ids of the loop steps
 * @returns {(number | null)[]}
 */
export function iterationsOf(entries, loops) {
  /** @type {Map<string, { n: number, seen: Set<string> }>} */
  const open = new Map();
  return entries.map((entry) => {
    const [parent, step] = splitLabel(entry.stepId);
    if (entry.stepType === "loop") open.delete(step);
    if (parent === null || !loops.has(parent)) return null;
    let count = open.get(parent);
    if (!count || count.seen.has(step)) open.set(parent, count = { n: (count?.n ?? 0) + 1, seen: new Set() });
    count.seen.add(step);
    return count.n;
  });
}

/** @param {import("../types.js").Screen} screen */
export function timeline(screen) {
  const entries = screen.entries;
  if (!entries.length && !screen.running) return h("p", { class: "muted empty" }, "No step has finished yet.");
  const longest = Math.max(1, ...entries.map((e) => e.durationMs));
  const loops = new Set(screen.loops);
  for (const entry of entries) if (entry.stepType === "loop") loops.add(splitLabel(entry.stepId)[1]);
  const iterations = iterationsOf(entries, loops);
  const items = entries.map((entry, i) => timelineEntry(entry, longest, iterations[i] ?? null));
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

/**
 * @param {Entry} entry
 * @param {number} longest the longest duration, the full width of the bar
 * @param {number | null} iteration
 */
function timelineEntry(entry, longest, iteration) {
  const action = known(entry.action, ACTIONS, "completed");
  let bar = h("span", { class: "bar-none" });
  if (entry.durationMs >= 1) {
    bar = h("span", { class: "bar" });
    bar.style.setProperty("--share", String(Math.max(0.02, entry.durationMs / longest)));
  }
  return h(
    "li",
    { class: "entry action-" + action, "data-step": entry.stepId },
    h(
      "div",
      { class: "entry-head" },
      h("span", { class: "entry-step" }, entry.stepId),
      iteration === null ? null : h("span", { class: "entry-iteration", title: "Iteration " + iteration }, "#" + iteration),
      h("span", { class: "entry-type" }, entry.stepType),
      h("span", { class: "badge action-" + action }, action),
      h("span", { class: "entry-duration" }, duration(entry.durationMs)),
    ),
    h(
      "div",
      { class: "entry-meta" },
      bar,
      h(
        "span",
        null,
        when(entry.timestamp),
        entry.attempt > 1 ? " · attempt " + entry.attempt : "",
        entry.actor ? h("span", { class: "entry-actor" }, " · resumed by " + entry.actor) : null,
      ),
    ),
    entry.error ? h("p", { class: "error" }, entry.error) : null,
    entry.output !== null && entry.output !== undefined ? dataBlock("Output", entry.output, false) : null,
  );
}
