import { z } from "zod";
import { ExecutionError } from "../errors.ts";
import { cloneJson, deepEqual, FORBIDDEN_KEYS, isPlainObject, setOwn } from "../json.ts";
import { getPath, lookup, splitPath } from "../expressions/references.ts";
import type { Json, JsonObject } from "../types.ts";
import { proceed, stepSchema, type StepType } from "./step.ts";

export const TRANSFORM_OPS = [
  "map",
  "pluck",
  "select",
  "reject",
  "first",
  "last",
  "flatten",
  "compact",
  "uniq",
  "reverse",
  "sort",
  "count",
  "sum",
  "keys",
  "values",
  "pick",
  "omit",
  "merge",
] as const;
type TransformOp = (typeof TRANSFORM_OPS)[number];

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

type Fail = (message: string) => never;
type Operation = (value: Json, arg: Json, fail: Fail) => Json;

const list = (value: Json, op: string, fail: Fail): Json[] =>
  Array.isArray(value) ? value : fail(`"${op}" needs a list, got ${describe(value)}`);
const map = (value: Json, op: string, fail: Fail): JsonObject =>
  isPlainObject(value) ? value : fail(`"${op}" needs a mapping, got ${describe(value)}`);

/** A path argument (`a.b`, or an index as a number); null or "" means the item itself. */
function pathOf(arg: Json, op: string, fail: Fail): string[] | null {
  if (arg === null || arg === "") return null;
  if (typeof arg === "string") return splitPath(arg);
  if (typeof arg === "number" && Number.isInteger(arg) && arg >= 0) return [String(arg)];
  return fail(`"${op}" needs a path, got ${describe(arg)}`);
}
const at = (item: Json, path: string[] | null): Json => (path ? getPath(item, path) : item);

/** A count argument (N, depth): a whole number ≥ 0, or null for the default. */
function amount(arg: Json, op: string, fallback: number, fail: Fail): number {
  if (arg === null) return fallback;
  if (typeof arg === "number" && Number.isInteger(arg) && arg >= 0) return arg;
  return fail(`"${op}" needs a whole number >= 0, got ${describe(arg)}`);
}

function keyList(arg: Json, op: string, fail: Fail): string[] {
  const keys = Array.isArray(arg) ? arg : arg === null ? [] : [arg];
  return keys.map((key) =>
    typeof key === "string" || typeof key === "number" ? String(key) : fail(`"${op}" needs a key or a list of keys, got ${describe(key)}`)
  );
}

function describe(value: Json): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "a mapping";
  const text = JSON.stringify(value);
  return `a ${typeof value} (${text.length > 40 ? `${text.slice(0, 37)}...` : text})`;
}

/** `select` / `reject` criteria: every path must deep-equal its value. */
function criteria(arg: Json, op: string, fail: Fail): (item: Json) => boolean {
  if (!isPlainObject(arg)) return fail(`"${op}" needs a mapping of path: value, got ${describe(arg)}`);
  const pairs = Object.entries(arg).map(([path, expected]) => [splitPath(path), expected] as const);
  return (item) => pairs.every(([path, expected]) => deepEqual(getPath(item, path), expected));
}

/** Strings by code point: UTF-16 code units order U+E000..U+FFFF after the surrogates of U+10000 and up. */
function byCodePoint(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}
const codePointRank = (unit: number): number => (unit >= 0xe000 ? unit - 0x800 : unit >= 0xd800 ? unit + 0x2000 : unit);

const operations: Record<TransformOp, Operation> = {
  map: (v, arg, fail) => {
    const path = pathOf(arg, "map", fail);
    return list(v, "map", fail).map((item) => at(item, path));
  },
  pluck: (v, arg, fail) => {
    const path = pathOf(arg, "pluck", fail);
    return list(v, "pluck", fail).map((item) => at(item, path));
  },
  select: (v, arg, fail) => {
    const items = list(v, "select", fail);
    return items.filter(criteria(arg, "select", fail));
  },
  reject: (v, arg, fail) => {
    const items = list(v, "reject", fail);
    const matches = criteria(arg, "reject", fail);
    return items.filter((item) => !matches(item));
  },
  first: (v, arg, fail) => {
    const items = list(v, "first", fail);
    return items.slice(0, amount(arg, "first", 1, fail));
  },
  last: (v, arg, fail) => {
    const items = list(v, "last", fail);
    const n = amount(arg, "last", 1, fail);
    return n === 0 ? [] : items.slice(-n);
  },
  flatten: (v, arg, fail) => {
    const items = list(v, "flatten", fail);
    return (items as unknown[]).flat(amount(arg, "flatten", 1, fail)) as Json[];
  },
  compact: (v, _arg, fail) => list(v, "compact", fail).filter((item) => item !== null),
  uniq: (v, _arg, fail) => list(v, "uniq", fail).filter((item, i, all) => all.findIndex((other) => deepEqual(other, item)) === i),
  reverse: (v, _arg, fail) => [...list(v, "reverse", fail)].reverse(),
  sort: (v, arg, fail) => {
    const items = list(v, "sort", fail);
    const path = pathOf(arg, "sort", fail);
    const keyed = items.map((item) => ({ item, key: at(item, path) }));
    const allNumbers = keyed.every((k) => typeof k.key === "number");
    const allStrings = keyed.every((k) => typeof k.key === "string");
    if (!allNumbers && !allStrings) {
      fail(`"sort" needs all numbers or all strings${path ? ` at "${path.join(".")}"` : ""}`);
    }
    const compare = allNumbers
      ? (a: Json, b: Json) => (a as number) - (b as number)
      : (a: Json, b: Json) => byCodePoint(a as string, b as string);
    return keyed.sort((a, b) => compare(a.key, b.key)).map((k) => k.item);
  },
  count: (v) => {
    if (v === null) return 0;
    if (typeof v === "string") return [...v].length;
    if (Array.isArray(v)) return v.length;
    if (isPlainObject(v)) return Object.keys(v).length;
    return 1;
  },
  sum: (v, arg, fail) => {
    const items = list(v, "sum", fail);
    const path = pathOf(arg, "sum", fail);
    const total = items.reduce<number>((sum, item, i) => {
      const n = at(item, path);
      if (typeof n !== "number") return fail(`"sum" needs numbers, item ${i} is ${describe(n)}`);
      return sum + n;
    }, 0);
    // Rounded to 15 significant digits: drops binary noise (39.98 + 49.5 is 89.48, not 89.47999999999999).
    return Number(total.toPrecision(15));
  },
  keys: (v) => (isPlainObject(v) ? Object.keys(v) : []),
  values: (v) => (isPlainObject(v) ? Object.values(v) : []),
  pick: (v, arg, fail) => {
    const source = map(v, "pick", fail);
    const out: JsonObject = {};
    for (const key of keyList(arg, "pick", fail)) {
      if (!FORBIDDEN_KEYS.has(key) && Object.hasOwn(source, key)) setOwn(out, key, source[key]!);
    }
    return out;
  },
  omit: (v, arg, fail) => {
    const source = map(v, "omit", fail);
    const drop = new Set(keyList(arg, "omit", fail));
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(source)) if (!drop.has(key)) setOwn(out, key, item);
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
export function applyExpression(value: Json, expr: z.infer<typeof expression>, fail: Fail): Json {
  const steps = Array.isArray(expr) ? expr.flatMap((e) => Object.entries(e)) : Object.entries(expr);
  let current = value;
  for (const [op, arg] of steps) {
    // Own keys only: an unchecked expression must not reach Object.prototype's methods (`toString`...).
    if (!Object.hasOwn(operations, op)) fail(`unknown op "${op}"`);
    current = operations[op as TransformOp](current, (arg ?? null) as Json, fail);
  }
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
      ? cloneJson(state.ctx as JsonObject)
      : lookup(step.input, { input: state.input, ctx: state.ctx, now: tools.now });
    const fail = (message: string): never => {
      throw new ExecutionError(`Transform "${step.id}": ${message}`, { stepId: step.id });
    };
    const output = applyExpression(source, step.expression, fail);
    const ctx = { ...state.ctx };
    setOwn(ctx, step.output, output);
    return proceed({ output, ctx, changed: [step.output] });
  },
};
