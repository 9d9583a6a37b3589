import { FORBIDDEN_KEYS, isPlainObject, setOwn } from "../json.ts";
import type { Json, JsonObject } from "../types.ts";
import { describeValue, type RawIssue, type Segment } from "./issues.ts";

interface PlainLimits {
  /** Deepest nesting of mappings and lists accepted. */
  maxDepth: number;
  /** Most values (scalars and collections) accepted in all: guards against alias expansion. */
  maxValues: number;
  /** Word used in messages: "definition", "input". */
  what: string;
}

/**
 * Copies `value` into fresh plain JSON, collecting every problem instead of stopping at the first:
 * keys that would reach Object.prototype, values JSON cannot hold (functions, dates, binary, NaN,
 * cycles), too deep nesting, too many values. Bad parts are left out of the copy.
 */
export function copyPlainJson(value: unknown, base: Segment[], limits: PlainLimits): { value: Json; issues: RawIssue[] } {
  const issues: RawIssue[] = [];
  const ancestors = new Set<object>();
  let count = 0;
  let stopped = false;

  const copy = (v: unknown, path: Segment[], depth: number): Json | undefined => {
    if (stopped) return undefined;
    if (++count > limits.maxValues) {
      stopped = true;
      issues.push({
        path: base,
        message: `the ${limits.what} expands to more than ${limits.maxValues} values (too many aliases or too much data)`,
      });
      return undefined;
    }
    if (v === null || typeof v === "string" || typeof v === "boolean") return v;
    if (typeof v === "number") {
      if (Number.isFinite(v)) return v;
      issues.push({ path, message: `${v} is not a JSON number` });
      return undefined;
    }
    if (typeof v !== "object") {
      issues.push({ path, message: `${describeValue(v)} is not a JSON value` });
      return undefined;
    }
    if (ancestors.has(v)) {
      issues.push({ path, message: "circular reference: not JSON" });
      return undefined;
    }
    if (depth >= limits.maxDepth) {
      issues.push({ path, message: `nested more than ${limits.maxDepth} levels deep` });
      return undefined;
    }
    ancestors.add(v);
    try {
      if (Array.isArray(v)) {
        const out: Json[] = [];
        for (let i = 0; i < v.length; i++) {
          const item = v[i];
          if (item === undefined) {
            issues.push({ path: [...path, i], message: "undefined is not a JSON value" });
            continue;
          }
          const copied = copy(item, [...path, i], depth + 1);
          out.push(copied === undefined ? null : copied);
        }
        return out;
      }
      if (!isPlainObject(v)) {
        const kind = ArrayBuffer.isView(v) ? "binary data" : `a ${(v as object).constructor?.name ?? "object"}`;
        issues.push({ path, message: `${kind} is not a JSON value` });
        return undefined;
      }
      const out: JsonObject = {};
      for (const key of Object.keys(v)) {
        if (FORBIDDEN_KEYS.has(key)) {
          issues.push({ path: [...path, key], message: `the key "${key}" is not allowed (it could reach Object.prototype)`, atKey: true });
          continue;
        }
        const item = (v as Record<string, unknown>)[key];
        if (item === undefined) continue;
        const copied = copy(item, [...path, key], depth + 1);
        if (copied !== undefined) setOwn(out, key, copied);
      }
      return out;
    } finally {
      ancestors.delete(v);
    }
  };

  const result = copy(value, base, 0);
  return { value: result === undefined ? null : result, issues };
}
