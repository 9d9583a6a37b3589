import { z } from "zod";
import { deepEqual, isPlainObject } from "../json.ts";
import type { Json } from "../types.ts";
import { lookup, type ReferenceScope, resolveValue, truthy } from "./references.ts";

/** A condition `{ field, op, value }` (router `when`, loop `while`). */
export const OPERATORS = [
  "eq",
  "neq",
  "gt",
  "gte",
  "lt",
  "lte",
  "in",
  "not_in",
  "contains",
  "starts_with",
  "ends_with",
  "matches",
  "exists",
  "empty",
  "truthy",
  "falsy",
] as const;
export const conditionSchema = z.strictObject({
  field: z.string().min(1),
  op: z.enum(OPERATORS).default("eq"),
  value: z.unknown().optional(),
});
/** Written out (not inferred from the schema) so the public types stay explicit for the JSR package. */
export interface Condition {
  field: string;
  op: (typeof OPERATORS)[number];
  value?: unknown;
}

export const MAX_PATTERN_LENGTH = 256;
export const MAX_MATCH_SUBJECT = 10_000;

function numeric(value: Json): number | null {
  if (typeof value === "number") return value;
  if (typeof value === "string" && value.trim() !== "" && Number.isFinite(Number(value))) return Number(value);
  return null;
}

function compare(a: Json, b: Json, test: (x: number, y: number) => boolean): boolean {
  const x = numeric(a);
  const y = numeric(b);
  return x !== null && y !== null && test(x, y);
}

function isEmpty(value: Json): boolean {
  if (value === null || value === "") return true;
  if (Array.isArray(value)) return value.length === 0;
  return isPlainObject(value) && Object.keys(value).length === 0;
}

/**
 * Patterns that can backtrack exponentially are refused (a `matches` condition with one is false; a literal
 * one is a validation error): a quantified group that contains a quantifier or an alternation
 * (`(a+)+`, `(a|aa)*`), and backreferences. Edge runtimes cannot interrupt a running RegExp.
 */
export function unsafePatternReason(pattern: string): string | null {
  if (/\\[1-9]|\\k</.test(pattern)) return "backreferences are not allowed";
  const stack: { quantified: boolean; alternation: boolean }[] = [];
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === "\\") {
      i++;
      continue;
    }
    if (ch === "[") {
      for (i++; i < pattern.length && pattern[i] !== "]"; i++) if (pattern[i] === "\\") i++;
      continue;
    }
    if (ch === "(") stack.push({ quantified: false, alternation: false });
    else if (ch === "|" && stack.length) stack[stack.length - 1]!.alternation = true;
    else if ((ch === "+" || ch === "*" || ch === "{") && stack.length) stack[stack.length - 1]!.quantified = true;
    else if (ch === ")") {
      const group = stack.pop();
      const next = pattern[i + 1];
      const repeated = next === "+" || next === "*" || next === "{";
      if (group && repeated && (group.quantified || group.alternation)) {
        return "a repeated group may not contain a quantifier or an alternation (catastrophic backtracking)";
      }
      if (group?.quantified && stack.length) stack[stack.length - 1]!.quantified = true;
    }
  }
  return null;
}

const regexCache = new Map<string, RegExp>();
function regex(pattern: string): RegExp {
  let re = regexCache.get(pattern);
  if (!re) {
    re = new RegExp(pattern);
    if (regexCache.size > 500) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re;
}

/** Evaluates `{ field, op, value }`. A condition that cannot be evaluated is false; it never throws. */
export function evaluateCondition(condition: Condition, scope: ReferenceScope): boolean {
  try {
    const field = lookup(condition.field, scope);
    const value = resolveValue(condition.value ?? null, scope);
    switch (condition.op ?? "eq") {
      case "eq":
        return deepEqual(field, value);
      case "neq":
        return !deepEqual(field, value);
      case "gt":
        return compare(field, value, (x, y) => x > y);
      case "gte":
        return compare(field, value, (x, y) => x >= y);
      case "lt":
        return compare(field, value, (x, y) => x < y);
      case "lte":
        return compare(field, value, (x, y) => x <= y);
      case "in":
        return (Array.isArray(value) ? value : [value]).some((v) => deepEqual(v, field));
      case "not_in":
        return !(Array.isArray(value) ? value : [value]).some((v) => deepEqual(v, field));
      case "contains":
        if (typeof field === "string") return typeof value === "string" && field.includes(value);
        if (Array.isArray(field)) return field.some((v) => deepEqual(v, value));
        if (isPlainObject(field)) return typeof value === "string" && Object.hasOwn(field, value);
        return false;
      case "starts_with":
        return typeof field === "string" && typeof value === "string" && field.startsWith(value);
      case "ends_with":
        return typeof field === "string" && typeof value === "string" && field.endsWith(value);
      case "matches":
        return typeof field === "string" && typeof value === "string" && value.length <= MAX_PATTERN_LENGTH &&
          field.length <= MAX_MATCH_SUBJECT && unsafePatternReason(value) === null && regex(value).test(field);
      case "exists":
        return field !== null;
      case "empty":
        return isEmpty(field);
      case "truthy":
        return truthy(field);
      case "falsy":
        return !truthy(field);
      default:
        return false;
    }
  } catch {
    return false;
  }
}
