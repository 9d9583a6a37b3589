/**
 * Reading the shape of a zod schema alongside a value: which keys an object accepts, and where `x-`
 * metadata keys may be dropped. Only zod objects are structural; records, unions and `unknown` hold
 * user data (an `assign` key named `x-total` is a variable, not metadata), so they are left alone.
 */
import type { z } from "zod";
import { isPlainObject } from "../json.ts";
import type { Segment } from "./issues.ts";

type Def = { type: string; [key: string]: unknown };

function def(schema: unknown): Def | undefined {
  return (schema as { _zod?: { def?: Def } } | undefined)?._zod?.def;
}

const WRAPPERS = new Set(["optional", "nullable", "default", "prefault", "readonly", "catch", "nonoptional"]);

/** The schema inside optional / default / nullable / pipe / lazy wrappers. */
function unwrap(schema: unknown): unknown {
  let current = schema;
  for (let i = 0; i < 20; i++) {
    const d = def(current);
    if (!d) return current;
    if (WRAPPERS.has(d.type)) current = d.innerType;
    else if (d.type === "pipe") current = d.in;
    else if (d.type === "lazy") current = (d.getter as () => unknown)();
    else return current;
  }
  return current;
}

/** The shape of a zod object schema (after unwrapping), or undefined. */
export function objectShape(schema: unknown): Record<string, z.ZodType> | undefined {
  const d = def(unwrap(schema));
  return d?.type === "object" ? (d.shape as Record<string, z.ZodType>) : undefined;
}

/** The schema found by following a path of keys and indexes through objects, arrays and records. */
function schemaAt(schema: unknown, path: readonly Segment[]): unknown {
  let current: unknown = schema;
  for (const segment of path) {
    const d = def(unwrap(current));
    if (!d) return undefined;
    if (d.type === "object" && typeof segment === "string") current = (d.shape as Record<string, unknown>)[segment];
    else if (d.type === "array" && typeof segment === "number") current = d.element;
    else if (d.type === "record" && typeof segment === "string") current = d.valueType;
    else return undefined;
    if (current === undefined) return undefined;
  }
  return current;
}

/** The keys accepted at a path: an object's keys, or the enum keys of a record. */
export function allowedKeysAt(schema: unknown, path: readonly Segment[]): string[] | undefined {
  const at = unwrap(schemaAt(schema, path));
  const shape = objectShape(at);
  if (shape) return Object.keys(shape);
  const d = def(at);
  if (d?.type === "union") {
    for (const option of d.options as unknown[]) {
      const keys = allowedKeysAt(option, []);
      if (keys) return keys;
    }
  }
  if (d?.type === "record") {
    const keyDef = def(unwrap(d.keyType));
    if (keyDef?.type === "enum") return Object.values(keyDef.entries as Record<string, string>);
  }
  if (d?.type === "array") return allowedKeysAt(d.element, []);
  return undefined;
}

export const isMetaKey = (key: string): boolean => key.startsWith("x-");

/** Removes `x-` keys (in place) wherever the schema expects a zod object: the step, route entries, conditions... */
export function stripMetaKeys(schema: unknown, value: unknown): void {
  const d = def(unwrap(schema));
  if (!d) return;
  if (d.type === "object" && isPlainObject(value)) {
    const shape = d.shape as Record<string, unknown>;
    for (const key of Object.keys(value)) {
      if (isMetaKey(key) && !Object.hasOwn(shape, key)) delete value[key];
      else if (Object.hasOwn(shape, key)) stripMetaKeys(shape[key], value[key]);
    }
  } else if (d.type === "array" && Array.isArray(value)) {
    for (const item of value) stripMetaKeys(d.element, item);
  } else if (d.type === "record" && isPlainObject(value)) {
    for (const item of Object.values(value)) stripMetaKeys(d.valueType, item);
  }
}
