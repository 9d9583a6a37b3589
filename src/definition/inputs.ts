import { ValidationError } from "../errors.ts";
import { cloneJson, isPlainObject, setOwn } from "../json.ts";
import type { Json, JsonObject } from "../types.ts";
import { formatPath, type RawIssue } from "./issues.ts";
import { copyPlainJson } from "./plain.ts";
import type { InputType, WorkflowDefinition } from "./workflow.ts";

/** The JSON type of a value as input rules name it: string, integer, number, boolean, array, object, null. */
function jsonTypeOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  if (isPlainObject(value)) return "object";
  if (value !== null && typeof value === "object") return (value as object).constructor?.name ?? "object";
  return typeof value;
}

function matchesType(type: InputType, value: unknown): boolean {
  switch (type) {
    case "string":
      return typeof value === "string";
    case "integer":
      return typeof value === "number" && Number.isInteger(value);
    case "number":
      return typeof value === "number" && Number.isFinite(value);
    case "boolean":
      return typeof value === "boolean";
    case "array":
      return Array.isArray(value);
    case "object":
      return isPlainObject(value);
  }
}

/** Why `value` is not of the declared `type` ("must be of type integer, got number"), or undefined when it is. */
export function inputTypeError(type: InputType, value: unknown): string | undefined {
  return matchesType(type, value) ? undefined : `must be of type ${type}, got ${jsonTypeOf(value)}`;
}

/** Deep enough for any real input; deeper is refused rather than risking the stack. */
export const MAX_INPUT_DEPTH = 256;
export const MAX_INPUT_VALUES = 1_000_000;

/**
 * Applies a workflow's input rules to a run input and returns a fresh copy: the input must be a plain
 * JSON object without `__proto__` / `constructor` / `prototype` keys (nested ones included); for each
 * declared input the default (deep-copied) is applied first, then the required check (absent or null is
 * missing), then the type check (`integer` = a whole number). Keys that are not declared are kept.
 * An `undefined` input counts as `{}`. Every violation is reported at once in a `ValidationError`.
 */
export function applyInputRules(workflow: Pick<WorkflowDefinition, "id" | "inputs">, input: unknown): JsonObject {
  const issues: RawIssue[] = [];
  const fail = (): never => {
    const count = issues.length;
    throw new ValidationError(
      `Invalid input for workflow "${workflow.id}" (${count} problem${count === 1 ? "" : "s"})`,
      issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message })),
    );
  };
  const given = input === undefined ? {} : input;
  if (!isPlainObject(given)) {
    issues.push({
      path: ["input"],
      message: `the input must be a JSON object (a mapping of input names to values), got ${jsonTypeOf(given)}`,
    });
    return fail();
  }
  const copied = copyPlainJson(given, ["input"], { maxDepth: MAX_INPUT_DEPTH, maxValues: MAX_INPUT_VALUES, what: "input" });
  for (const issue of copied.issues) {
    issues.push({
      ...issue,
      message: issue.message.startsWith("the key")
        ? `${issue.message.replace(/^the key/, "the input key")}`
        : `the input is not plain JSON: ${issue.message}`,
    });
  }
  const result = copied.value as JsonObject;

  for (const [name, spec] of Object.entries(workflow.inputs ?? {})) {
    const present = () => Object.hasOwn(result, name) && result[name] !== null;
    if (!present() && spec.default !== undefined) setOwn(result, name, cloneJson(spec.default) as Json);
    if (!present()) {
      if (spec.required) issues.push({ path: ["input", name], message: `input "${name}" is required` });
      continue;
    }
    const problem = spec.type ? inputTypeError(spec.type, result[name]) : undefined;
    if (problem) issues.push({ path: ["input", name], message: `input "${name}" ${problem}` });
  }
  if (issues.length) return fail();
  return result;
}
