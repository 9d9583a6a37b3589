import type { z } from "zod";
import { isPlainObject } from "../json.ts";

/** One step of a path into the definition: a mapping key or a list index. */
export type Segment = string | number;

/** An issue before it is given its text path and source position. */
export interface RawIssue {
  path: Segment[];
  message: string;
  /** Point at the key of the last segment (an unknown or forbidden key) rather than at its value. */
  atKey?: boolean;
  /** A position known already (YAML syntax errors); otherwise it is looked up from the path. */
  line?: number;
  column?: number;
}

const PLAIN_KEY = /^[A-Za-z0-9_\-$]+$/;

/** `steps[3].routes[0].then` from a path (a zod issue's too); keys that are not plain names are quoted: `set["a.b"]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const segment of path) {
    const key = String(segment);
    if (typeof segment === "number") out += `[${segment}]`;
    else if (PLAIN_KEY.test(key)) out += out ? `.${key}` : key;
    else out += `[${JSON.stringify(key)}]`;
  }
  return out;
}

/** "a string (\"abc\")", "a list", "a mapping", "null": how a value is named in messages. */
export function describeValue(value: unknown): string {
  if (value === undefined) return "nothing";
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (isPlainObject(value)) return "a mapping";
  if (typeof value === "string") {
    const shown = value.length > 40 ? `${value.slice(0, 40)}…` : value;
    return `a string (${JSON.stringify(shown)})`;
  }
  if (typeof value === "number") return Number.isInteger(value) ? `an integer (${value})` : `a number (${value})`;
  if (typeof value === "boolean") return `a boolean (${value})`;
  return `a ${typeof value}`;
}

const EXPECTED: Record<string, string> = {
  string: "a string",
  number: "a number",
  int: "an integer",
  boolean: "a boolean (true or false)",
  array: "a list",
  object: "a mapping",
  record: "a mapping",
  map: "a mapping",
  null: "null",
};

/** The value at a path inside `root` (undefined when missing). */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let current: unknown = root;
  for (const segment of path) {
    if (Array.isArray(current) && typeof segment === "number") current = current[segment];
    else if (isPlainObject(current) && typeof segment === "string" && Object.hasOwn(current, segment)) current = current[segment];
    else return undefined;
  }
  return current;
}

function bound(issue: { minimum?: unknown; maximum?: unknown; inclusive?: boolean }, small: boolean): string {
  const limit = String(small ? issue.minimum : issue.maximum);
  if (small) return issue.inclusive === false ? `greater than ${limit}` : `at least ${limit}`;
  return issue.inclusive === false ? `less than ${limit}` : `at most ${limit}`;
}

/**
 * Turns zod issues into readable ones. `value` is what was parsed (to name what was found),
 * `base` the path of that value in the definition, `allowedKeys` lists the keys accepted at a path.
 */
export function fromZodIssues(
  issues: readonly z.core.$ZodIssue[],
  value: unknown,
  base: readonly Segment[],
  options: { where?: (path: Segment[]) => string; allowedKeys?: (path: Segment[]) => string[] | undefined } = {},
): RawIssue[] {
  const out: RawIssue[] = [];
  for (const issue of issues) {
    const local = issue.path.map((s) => (typeof s === "number" ? s : String(s)));
    const path = [...base, ...local];
    const found = valueAt(value, issue.path);
    const key = local.length ? local[local.length - 1] : undefined;
    switch (issue.code) {
      case "unrecognized_keys": {
        const allowed = options.allowedKeys?.(local);
        const where = options.where?.(local) ?? "";
        const hint = allowed?.length ? `; allowed: ${allowed.join(", ")} (and x-* keys for free metadata)` : "";
        for (const unknown of issue.keys) {
          out.push({ path: [...path, unknown], message: `unknown key "${unknown}"${where}${hint}`, atKey: true });
        }
        break;
      }
      case "invalid_type": {
        const expected = EXPECTED[issue.expected] ?? issue.expected;
        if (found === undefined && typeof key === "string") {
          out.push({ path, message: `required key "${key}" is missing (expected ${expected})` });
        } else {
          out.push({ path, message: `expected ${expected}, got ${describeValue(found)}` });
        }
        break;
      }
      case "invalid_value": {
        const values = issue.values.map((v) => JSON.stringify(v));
        const expected = values.length === 1 ? values[0] : `one of ${values.join(", ")}`;
        out.push({ path, message: `must be ${expected}, got ${describeValue(found)}` });
        break;
      }
      case "too_small":
      case "too_big": {
        const small = issue.code === "too_small";
        const origin = issue.origin;
        if (small && (origin === "string" || origin === "array") && Number(issue.minimum) === 1) {
          out.push({ path, message: origin === "string" ? "must not be empty" : "must not be an empty list" });
        } else if (origin === "string") {
          out.push({ path, message: `must have ${bound(issue, small)} characters` });
        } else if (origin === "array" || origin === "set") {
          out.push({ path, message: `must have ${bound(issue, small)} items` });
        } else {
          out.push({ path, message: `must be ${bound(issue, small)}, got ${describeValue(found)}` });
        }
        break;
      }
      case "invalid_format": {
        const custom = issue.message && !issue.message.startsWith("Invalid");
        const text = custom ? issue.message : `must match the pattern ${issue.pattern ?? issue.format}`;
        out.push({ path, message: `${text}, got ${describeValue(found)}` });
        break;
      }
      case "invalid_key": {
        const inner = issue.issues[0];
        const reason = inner?.code === "too_small" ? "a key must not be empty" : `invalid key "${String(key)}"`;
        out.push({ path, message: reason, atKey: true });
        break;
      }
      case "invalid_union": {
        // `version: true` → "expected a string or a number": name the forms when every option failed on type.
        const kinds = issue.errors.map((errors) => {
          const only = errors.length === 1 && errors[0]!.path.length === 0 ? errors[0]! : undefined;
          if (only?.code === "invalid_type") return EXPECTED[only.expected] ?? only.expected;
          if (only?.code === "invalid_value") return only.values.map((v) => JSON.stringify(v)).join(" or ");
          return undefined;
        });
        const expected = kinds.every((k) => k !== undefined) && kinds.length
          ? [...new Set(kinds)].join(" or ")
          : "one of the accepted forms";
        out.push({ path, message: `expected ${expected}, got ${describeValue(found)}` });
        break;
      }
      default:
        out.push({ path, message: issue.message });
    }
  }
  return out;
}
