// @ts-check
/**
 * DOM helpers that put values on the page as text only: every value reaches it through `textContent` /
 * `append(string)` or an attribute set with `setAttribute`; hrefs are `#/...` built with `encodeURIComponent`.
 */

/**
 * A child of an element: nodes as they are, arrays flattened, null / undefined / false left out, the rest as text.
 * @typedef {Node | string | number | null | undefined | false | unknown[]} Child
 */

/**
 * An element with attributes (`class`, `on<event>` listeners, others through setAttribute; null, undefined
 * and false are left out, true is an empty attribute) and children (see `append`).
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Record<string, unknown> | null} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs, ...children) {
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
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/**
 * @param {Element} el
 * @param {Child[]} children
 */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

/** A `#/a/b` hash with each part encoded. @param {...string} parts */
export function route(...parts) {
  return "#/" + parts.map((p) => encodeURIComponent(p)).join("/");
}

/**
 * @param {string[]} parts
 * @param {string} text
 * @param {string} [cls]
 */
export function link(parts, text, cls) {
  return h("a", { href: route(...parts), class: cls }, text);
}

/**
 * `value` when it is one of `list`, else `fallback` (for class names built from data).
 * @template T
 * @param {unknown} value
 * @param {readonly T[]} list
 * @param {T} fallback
 * @returns {T}
 */
export function known(value, list, fallback) {
  return list.includes(/** @type {T} */ (value)) ? /** @type {T} */ (value) : fallback;
}

/** @param {unknown} value */
export function json(value) {
  return h("pre", { class: "json" }, JSON.stringify(value === undefined ? null : value, null, 2));
}

/**
 * @param {string} title
 * @param {unknown} value
 * @param {boolean} open
 */
export function dataBlock(title, value, open) {
  return h("details", { class: "data", open: open || undefined }, h("summary", null, title), json(value));
}

/**
 * The page's heading (and the document's title).
 * @param {string} title
 * @param {...Child} rest
 */
export function pageHead(title, ...rest) {
  document.title = title + " · durable-workflow";
  return h("div", { class: "page-head" }, h("h1", null, title), rest);
}

/** A `<p>` for an error, or a hint while loading. @param {string} text */
export const errorText = (text) => h("p", { class: "error" }, text);
export const loading = () => h("p", { class: "muted" }, "Loading…");
