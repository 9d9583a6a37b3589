// @ts-check
/**
 * The workflow diagram: the server's SVG, parsed through the page's one Trusted Types policy (`dw-svg`), with
 * scripts, foreign objects, event handlers, styles and non-`#` links stripped anyway.
 */
import { describe, getDiagram } from "./api.js";
import { fill, h } from "./dom.js";

/** @typedef {{ createPolicy(name: string, rules: { createHTML(text: string): string }): { createHTML(text: string): string } }} TrustedTypes */

// Trusted Types are not in TypeScript's DOM lib yet. The policy's TrustedHTML is what DOMParser accepts.
const trustedTypes = /** @type {{ trustedTypes?: TrustedTypes }} */ (/** @type {unknown} */ (window)).trustedTypes;
const svgPolicy = trustedTypes ? trustedTypes.createPolicy("dw-svg", { createHTML: (text) => text }) : null;

/** A container the diagram is loaded into (busy until then). @param {string} [cls] */
export function diagramBox(cls) {
  return h("div", { class: "diagram" + (cls ? " " + cls : ""), "aria-busy": "true" });
}

/**
 * @param {HTMLElement} container
 * @param {string} workflowId
 * @param {string[]} highlight the step ids to mark, in the order the run went through them
 * @param {AbortSignal} signal
 */
export async function loadDiagram(container, workflowId, highlight, signal) {
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
