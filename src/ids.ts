/**
 * The id rules, in one place: workflow ids (definitions, jobs, routes) and execution ids (stores, engine,
 * jobs, routes). Both are safe in Redis key names, QStash deduplication ids and URLs.
 */
import { z } from "zod";
import { ValidationError } from "./errors.ts";

/** Workflow ids: 1 to 100 letters, digits, `_` or `-`. */
export const WORKFLOW_ID_PATTERN = /^[A-Za-z0-9_-]{1,100}$/;
const WORKFLOW_ID_RULE = "must be 1 to 100 letters, digits, _ or -";

/** Execution ids: 1 to 200 letters, digits and `_ - . : [ ]` (child and loop ids use `:` and `[i]`). */
export const EXECUTION_ID_PATTERN = /^[A-Za-z0-9_\-.:\[\]]{1,200}$/;
export const EXECUTION_ID_RULE = "must be 1 to 200 letters, digits and _ - . : [ ]";

export const workflowIdSchema: z.ZodString = z.string().regex(WORKFLOW_ID_PATTERN, WORKFLOW_ID_RULE);
export const executionIdSchema: z.ZodString = z.string().regex(EXECUTION_ID_PATTERN, EXECUTION_ID_RULE);

/** Label names: a letter or `_`, then up to 63 letters, digits and `_ - .` (no `:`, so they fit in a key name). */
export const LABEL_NAME_PATTERN = /^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/;
export const LABEL_NAME_RULE = "must be a letter or _ then up to 63 letters, digits and _ - .";
/** Most labels on one execution, and the longest value (characters). */
export const MAX_LABELS = 16;
export const MAX_LABEL_VALUE_LENGTH = 200;

/** The problem with a label value, or undefined when it is fine: 1 to 200 characters, no control characters. */
function labelValueProblem(value: unknown): string | undefined {
  if (typeof value !== "string") return `must be a string, got ${value === null ? "null" : typeof value}`;
  if (value.length === 0 || value.length > MAX_LABEL_VALUE_LENGTH) return `must be 1 to ${MAX_LABEL_VALUE_LENGTH} characters`;
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(value)) return "may not hold control characters";
  return undefined;
}

/**
 * Checks the labels of an execution (`{ name: value }`, at most 16, names and values as above); returns a copy.
 * Throws a ValidationError listing every problem, each at `<where>.<name>`.
 */
export function checkLabels(labels: unknown, where = "labels"): Record<string, string> {
  if (labels === null || typeof labels !== "object" || Array.isArray(labels)) {
    throw new ValidationError(`Invalid ${where}: must be an object of label names to string values`);
  }
  const issues: { path: string; message: string }[] = [];
  const out: Record<string, string> = {};
  const entries = Object.entries(labels);
  if (entries.length > MAX_LABELS) issues.push({ path: where, message: `at most ${MAX_LABELS} labels, got ${entries.length}` });
  for (const [name, value] of entries) {
    if (!LABEL_NAME_PATTERN.test(name)) issues.push({ path: `${where}.${name}`, message: `the name ${LABEL_NAME_RULE}` });
    const problem = labelValueProblem(value);
    if (problem) issues.push({ path: `${where}.${name}`, message: `the value ${problem}` });
    else Object.defineProperty(out, name, { value, enumerable: true, writable: true, configurable: true });
  }
  if (issues.length) throw new ValidationError(`Invalid ${where}`, issues);
  return out;
}

/** Throws a ValidationError naming `id` (path `executionId`) unless it is an execution id. */
export function assertExecutionId(id: unknown): asserts id is string {
  if (typeof id !== "string" || !EXECUTION_ID_PATTERN.test(id)) {
    throw new ValidationError("Invalid execution id", [{
      path: "executionId",
      message: `${JSON.stringify(id)} ${EXECUTION_ID_RULE}`,
    }]);
  }
}
