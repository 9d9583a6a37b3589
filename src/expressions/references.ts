import { cloneJson, getOwn, isPlainObject, setOwn } from "../json.ts";
import type { Json, JsonObject } from "../types.ts";

/** `$root.seg.seg`: a root name, then dot-separated segments (names or indexes). */
/** Segments may hold inner hyphens (`order-id`) but not end with one: `$input.first-$input.last` is two references. */
const REF_BODY = "[A-Za-z_][A-Za-z0-9_]*(?:\\.[A-Za-z0-9_]+(?:-[A-Za-z0-9_]+)*)*";
const WHOLE_REF = new RegExp(`^\\$(${REF_BODY})$`);
const EMBEDDED_REF = new RegExp(`\\$(${REF_BODY})`, "g");

/** The roots a reference can start from; anything else is a ctx variable. */
export interface ReferenceScope {
  input: Readonly<JsonObject>;
  ctx: Readonly<JsonObject>;
  now: () => Date;
}

const splitCache = new Map<string, string[]>();
/** A value string → the path segments when it is exactly one reference, else null (cached like splitCache: a loop resolves the same strings each step). */
const wholeCache = new Map<string, readonly string[] | null>();

function wholeReference(value: string): readonly string[] | null {
  let segments = wholeCache.get(value);
  if (segments === undefined) {
    const whole = WHOLE_REF.exec(value);
    segments = whole ? splitPath(whole[1]!) : null;
    if (wholeCache.size >= 10_000) wholeCache.clear();
    wholeCache.set(value, segments);
  }
  return segments;
}

/** Splits `a.b.0` into segments (cached: paths come from definitions, so there are few of them). */
export function splitPath(path: string): string[] {
  let segments = splitCache.get(path);
  if (!segments) {
    segments = Object.freeze(path.split(".").filter((s) => s.length > 0)) as string[];
    if (splitCache.size >= 10_000) splitCache.clear();
    splitCache.set(path, segments);
  }
  return segments;
}

/** Follows a path through own properties of plain objects and array indexes; missing → null. */
export function getPath(value: Json | undefined, segments: readonly string[], from = 0): Json {
  let current: Json | undefined = value;
  for (let i = from; i < segments.length; i++) {
    const segment = segments[i]!;
    if (Array.isArray(current)) {
      if (!/^(?:0|[1-9]\d*)$/.test(segment)) return null;
      current = current[Number(segment)];
    } else if (isPlainObject(current)) {
      current = getOwn(current, segment);
    } else {
      return null;
    }
    if (current === undefined) return null;
  }
  return current ?? null;
}

/** The value of a path without `$` (`order.items.0`), from the same roots as a reference. */
export function lookup(path: string, scope: ReferenceScope): Json {
  return lookupSegments(splitPath(path), scope);
}

function lookupSegments(segments: readonly string[], scope: ReferenceScope): Json {
  const root = segments[0];
  if (root === undefined) return null;
  let base: Json | undefined;
  if (root === "input") base = scope.input as JsonObject;
  else if (root === "now") base = scope.now().toISOString();
  else base = getOwn(scope.ctx as JsonObject, root);
  return segments.length === 1 ? base ?? null : getPath(base, segments, 1);
}

function interpolated(value: Json): string {
  if (value === null) return "";
  if (typeof value === "object") return JSON.stringify(value);
  return String(value);
}

/**
 * Resolves references in a value: a string that is exactly one reference becomes the raw value;
 * references inside longer strings are interpolated; objects and lists are resolved recursively
 * (keys are not). A `$` not followed by a name is left alone.
 */
export function resolveValue(value: unknown, scope: ReferenceScope): Json {
  if (typeof value === "string") {
    if (!value.includes("$")) return value;
    const whole = wholeReference(value);
    if (whole) return cloneJson(lookupSegments(whole, scope));
    return value.replace(EMBEDDED_REF, (_m, path: string) => interpolated(lookup(path, scope)));
  }
  if (Array.isArray(value)) return value.map((item) => resolveValue(item, scope));
  if (isPlainObject(value)) {
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(value)) setOwn(out, key, resolveValue(item, scope));
    return out;
  }
  if (value === undefined) return null;
  return value as Json;
}

/** Every reference inside a value (for validation): the root and the full path. */
export function findReferences(value: unknown): { root: string; path: string }[] {
  const found: { root: string; path: string }[] = [];
  const walk = (v: unknown) => {
    if (typeof v === "string") {
      for (const match of v.matchAll(EMBEDDED_REF)) {
        const path = match[1]!;
        found.push({ root: splitPath(path)[0]!, path });
      }
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (isPlainObject(v)) Object.values(v).forEach(walk);
  };
  walk(value);
  return found;
}

/** Only null/missing and false are falsy (the original's semantics, kept on purpose). */
export function truthy(value: Json | undefined): boolean {
  return value !== null && value !== undefined && value !== false;
}
