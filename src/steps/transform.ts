import { z } from "zod";
import { ExecutionError } from "../errors.ts";
import { deepEqual, isPlainObject, setOwn, FORBIDDEN_KEYS } from "../json.ts";
import { getPath, lookup, splitPath } from "../engine/references.ts";
import type { Json, JsonObject } from "../types.ts";
import { proceed, stepSchema, type StepType } from "./step.ts";

export const TRANSFORM_OPS = [
  "map", "pluck", "select", "reject", "first", "last", "flatten", "compact", "uniq", "reverse", "sort",
  "count", "sum", "keys", "values", "pick", "omit", "merge",
] as const;
export type TransformOp = (typeof TRANSFORM_OPS)[number];

/** `expression` is a mapping op → argument applied in order, or a list of one-key mappings (to repeat an op). */
const expression = z.union([
  z.partialRecord(z.enum(TRANSFORM_OPS), z.unknown()),
  z.array(z.partialRecord(z.enum(TRANSFORM_OPS), z.unknown())),
]);

const schema = stepSchema("transform", {
  input: z.string().min(1).optional(),
  expression,
  output: z.string().min(1),
});

type Operation = (value: Json, arg: Json, fail: (message: string) => never) => Json;

const list = (value: Json, op: string, fail: (m: string) => never): Json[] =>
  Array.isArray(value) ? value : fail(`"${op}" needs a list, got ${describe(value)}`);
const map = (value: Json, op: string, fail: (m: string) => never): JsonObject =>
  isPlainObject(value) ? value : fail(`"${op}" needs a mapping, got ${describe(value)}`);
const at = (item: Json, path: Json): Json => (typeof path === "string" && path ? getPath(item, splitPath(path)) : item);
const count = (arg: Json, fallback: number): number => (typeof arg === "number" && Number.isInteger(arg) && arg >= 0 ? arg : fallback);
const keyList = (arg: Json): string[] => (Array.isArray(arg) ? arg.map(String) : arg === null ? [] : [String(arg)]);

function describe(value: Json): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  return typeof value === "object" ? "a mapping" : `a ${typeof value}`;
}

function matchesAll(item: Json, criteria: Json, op: string, fail: (m: string) => never): boolean {
  const pairs = Object.entries(map(criteria, `${op} argument`, fail));
  return pairs.every(([path, expected]) => deepEqual(getPath(item, splitPath(path)), expected));
}

const operations: Record<TransformOp, Operation> = {
  map: (v, arg, fail) => list(v, "map", fail).map((item) => at(item, arg)),
  pluck: (v, arg, fail) => list(v, "pluck", fail).map((item) => at(item, arg)),
  select: (v, arg, fail) => list(v, "select", fail).filter((item) => matchesAll(item, arg, "select", fail)),
  reject: (v, arg, fail) => list(v, "reject", fail).filter((item) => !matchesAll(item, arg, "reject", fail)),
  first: (v, arg, fail) => list(v, "first", fail).slice(0, count(arg, 1)),
  last: (v, arg, fail) => {
    const items = list(v, "last", fail);
    const n = count(arg, 1);
    return n === 0 ? [] : items.slice(-n);
  },
  flatten: (v, arg, fail) => (list(v, "flatten", fail) as unknown[]).flat(count(arg, 1)) as Json[],
  compact: (v, _arg, fail) => list(v, "compact", fail).filter((item) => item !== null),
  uniq: (v, _arg, fail) =>
    list(v, "uniq", fail).filter((item, i, all) => all.findIndex((other) => deepEqual(other, item)) === i),
  reverse: (v, _arg, fail) => [...list(v, "reverse", fail)].reverse(),
  sort: (v, arg, fail) => {
    const items = list(v, "sort", fail);
    const keyed = items.map((item) => ({ item, key: at(item, arg) }));
    const kinds = new Set(keyed.map((k) => typeof k.key));
    if (keyed.length && (kinds.size > 1 || !(kinds.has("number") || kinds.has("string")) || keyed.some((k) => k.key === null))) {
      fail(`"sort" needs all numbers or all strings${typeof arg === "string" && arg ? ` at "${arg}"` : ""}`);
    }
    return keyed
      .sort((a, b) => (a.key! < b.key! ? -1 : a.key! > b.key! ? 1 : 0))
      .map((k) => k.item);
  },
  count: (v) => {
    if (v === null) return 0;
    if (Array.isArray(v) || typeof v === "string") return v.length;
    if (isPlainObject(v)) return Object.keys(v).length;
    return 1;
  },
  sum: (v, arg, fail) =>
    list(v, "sum", fail).reduce<number>((total, item, i) => {
      const n = at(item, arg);
      if (typeof n !== "number") return fail(`"sum" needs numbers, item ${i} is ${describe(n)}`);
      return total + n;
    }, 0),
  keys: (v) => (isPlainObject(v) ? Object.keys(v) : []),
  values: (v) => (isPlainObject(v) ? Object.values(v) : []),
  pick: (v, arg, fail) => {
    const source = map(v, "pick", fail);
    const out: JsonObject = {};
    for (const key of keyList(arg)) if (!FORBIDDEN_KEYS.has(key) && Object.hasOwn(source, key)) setOwn(out, key, source[key]!);
    return out;
  },
  omit: (v, arg, fail) => {
    const drop = new Set(keyList(arg));
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(map(v, "omit", fail))) if (!drop.has(key)) setOwn(out, key, item);
    return out;
  },
  merge: (v, arg, fail) => {
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(map(v, "merge", fail))) setOwn(out, key, item);
    for (const [key, item] of Object.entries(map(arg, "merge argument", fail))) setOwn(out, key, item);
    return out;
  },
};

/** Applies the transform ops in order to a value; pure data operations, never code. */
export function applyExpression(value: Json, expr: z.infer<typeof expression>, fail: (message: string) => never): Json {
  const steps = Array.isArray(expr) ? expr.flatMap((e) => Object.entries(e)) : Object.entries(expr);
  let current = value;
  for (const [op, arg] of steps) current = operations[op as TransformOp](current, (arg ?? null) as Json, fail);
  return current;
}

/** Pure data operations on `input` (a path, default the whole ctx) into `ctx[output]`. */
export const transform: StepType<typeof schema._output> = {
  type: "transform",
  schema,
  pure: true,
  outputs: (step) => [step.output],
  references: (step) => (step.input === undefined ? [] : [{ key: "input", kind: "path", value: step.input }]),
  execute: (step, state, tools) => {
    const source = step.input === undefined
      ? structuredClone(state.ctx as JsonObject)
      : lookup(step.input, { input: state.input, ctx: state.ctx, now: tools.now });
    const fail = (message: string): never => {
      throw new ExecutionError(`Transform "${step.id}": ${message}`, { stepId: step.id });
    };
    const output = applyExpression(source, step.expression, fail);
    const ctx = { ...state.ctx };
    setOwn(ctx, step.output, output);
    return proceed({ output, ctx });
  },
};
