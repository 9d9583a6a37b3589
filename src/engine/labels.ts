import type { WorkflowDefinition } from "../definition/workflow.ts";
import { resolveValue } from "../expressions/references.ts";
import { checkLabels } from "../ids.ts";
import type { JsonObject } from "../types.ts";

/**
 * The labels a new execution gets: the definition's `labels:` resolved against the input (a reference to an
 * input that is absent leaves its label out), then the start's own labels over them. ValidationError (422 over
 * HTTP) when the result breaks the label rules (src/ids.ts).
 */
export function startLabels(
  workflow: WorkflowDefinition,
  input: JsonObject,
  given: Record<string, string> | undefined,
  now: Date,
): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const [name, text] of Object.entries(workflow.labels ?? {})) {
    const value = resolveValue(text, { input, ctx: {}, now: () => now });
    if (value === null || value === "") continue;
    labels[name] = typeof value === "object" ? JSON.stringify(value) : String(value);
  }
  if (given !== undefined) Object.assign(labels, checkLabels(given));
  return checkLabels(labels);
}
