// @ts-check
/** The hash router: `#/<path>?<query>` → the view of views.js, or the token form while no token is accepted. */
import { ApiError, describe } from "./api.js";
import { fill, h } from "./dom.js";
import { showGate } from "./gate.js";
import { forgetToken, session } from "./session.js";
import { VIEWS } from "./views.js";

/** @typedef {import("./types.js").View} View */

const root = /** @type {HTMLElement} */ (document.getElementById("view"));
const forgetButton = /** @type {HTMLButtonElement} */ (document.getElementById("forget"));
/** @type {AbortController | null} */
let current = null;

/** The hash's path segments (decoded) and its query. */
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
 * The view for the hash's segments and the values of its `:name` segments; the first view otherwise.
 * @param {string[]} parts
 * @returns {{ view: View, params: string[] }}
 */
function matchView(parts) {
  for (const candidate of VIEWS) {
    const pattern = candidate.path.split("/");
    if (pattern.length !== parts.length) continue;
    if (pattern.every((segment, i) => segment.startsWith(":") || segment === parts[i])) {
      return { view: candidate, params: parts.filter((_, i) => pattern[i]?.startsWith(":")) };
    }
  }
  return { view: /** @type {View} */ (VIEWS[0]), params: [] };
}

/** @param {string} section */
function markNav(section) {
  for (const a of document.querySelectorAll("[data-nav]")) {
    if (a.getAttribute("data-nav") === section) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

/** Shows the page the hash names (leaving the one shown: its requests and live updates stop). */
export async function render() {
  if (current) current.abort();
  current = new AbortController();
  const signal = current.signal;
  const { parts, query } = parseHash();
  const { view, params } = matchView(parts);
  markNav(view.nav);
  if (!session.ready) {
    forgetButton.hidden = true;
    return showGate(root, render);
  }
  forgetButton.hidden = session.open;
  root.setAttribute("aria-busy", "true");
  try {
    await view.show({ params, query, signal, root, rerender: render });
  } catch (error) {
    if (signal.aborted || (error instanceof ApiError && error.status === 401)) return;
    fill(root, h("section", { class: "card" }, h("h1", null, "Something went wrong"), h("p", { class: "error" }, describe(error))));
  } finally {
    if (!signal.aborted) root.removeAttribute("aria-busy");
  }
}

/** Forgets the token and shows the token form, saying why. @param {string} message */
export function lock(message) {
  forgetToken(message);
  render();
}
