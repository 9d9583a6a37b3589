import { describe, expect, test } from "bun:test";
import { ExecutionError } from "../../../src/errors.ts";
import type { StepState, StepTools } from "../../../src/steps/step.ts";
import { applyExpression, transform, TRANSFORM_OPS } from "../../../src/steps/transform.ts";
import type { Json, JsonObject } from "../../../src/types.ts";

class OpError extends Error {}
const fail = (message: string): never => {
  throw new OpError(message);
};
type Expr = Parameters<typeof applyExpression>[1];
const run = (value: Json, expr: Record<string, unknown> | Record<string, unknown>[]): Json => applyExpression(value, expr as Expr, fail);

const people: Json = [
  { name: "Ann", age: 41, team: { id: "a" }, active: true },
  { name: "Bob", age: 29, team: { id: "b" }, active: false },
  { name: "Cid", age: 35, team: { id: "a" }, active: true },
];

describe("map / pluck", () => {
  test("map takes each item's value at a path", () => {
    expect(run(people, { map: "name" })).toEqual(["Ann", "Bob", "Cid"]);
  });
  test("map follows a nested path", () => {
    expect(run(people, { map: "team.id" })).toEqual(["a", "b", "a"]);
  });
  test("map gives null for a missing path", () => {
    expect(run([{ a: 1 }, { b: 2 }, 3], { map: "a" })).toEqual([1, null, null]);
  });
  test("map with an index path reaches into nested lists", () => {
    expect(run([[1, 2], [3, 4]], { map: "1" })).toEqual([2, 4]);
  });
  test("map with a numeric index argument reaches into nested lists", () => {
    expect(run([[1, 2], [3, 4]], { map: 0 })).toEqual([1, 3]);
  });
  test("map keeps false values", () => {
    expect(run(people, { map: "active" })).toEqual([true, false, true]);
  });
  test("pluck is the same as map", () => {
    expect(run(people, { pluck: "age" })).toEqual([41, 29, 35]);
  });
  test("map with a non-path argument is an error naming the op", () => {
    expect(() => run(people, { map: { a: 1 } })).toThrow(/"map" needs a path/);
  });
  test("map does not follow `__proto__`", () => {
    expect(run([JSON.parse('{"__proto__": {"x": 1}}')], { map: "__proto__.x" })).toEqual([null]);
  });
});

describe("select / reject", () => {
  test("select keeps the items where every path deep-equals its value", () => {
    expect(run(people, [{ select: { "team.id": "a", active: true } }, { map: "name" }])).toEqual(["Ann", "Cid"]);
  });
  test("select compares deeply", () => {
    expect(run(people, [{ select: { team: { id: "b" } } }, { map: "name" }])).toEqual(["Bob"]);
  });
  test("select with a missing path matches null", () => {
    expect(run([{ a: null }, { a: 1 }, {}], { select: { a: null } })).toEqual([{ a: null }, {}]);
  });
  test("select with an empty mapping keeps every item", () => {
    expect(run(people, { select: {} })).toEqual(people);
  });
  test("reject keeps the others", () => {
    expect(run(people, [{ reject: { "team.id": "a" } }, { map: "name" }])).toEqual(["Bob"]);
  });
  test("select with a non-mapping argument is an error naming the op", () => {
    expect(() => run(people, { select: "name" })).toThrow(/"select" needs a mapping/);
  });
  test("reject with a non-mapping argument is an error even on an empty list", () => {
    expect(() => run([], { reject: ["a"] })).toThrow(/"reject" needs a mapping/);
  });
});

describe("first / last", () => {
  test("first defaults to a list of one item", () => {
    expect(run([1, 2, 3], { first: null })).toEqual([1]);
  });
  test("first N gives the first N items", () => {
    expect(run([1, 2, 3], { first: 2 })).toEqual([1, 2]);
  });
  test("first 0 gives an empty list", () => {
    expect(run([1, 2, 3], { first: 0 })).toEqual([]);
  });
  test("first N longer than the list gives the whole list", () => {
    expect(run([1, 2], { first: 5 })).toEqual([1, 2]);
  });
  test("last defaults to a list of one item", () => {
    expect(run([1, 2, 3], { last: null })).toEqual([3]);
  });
  test("last N gives the last N items", () => {
    expect(run([1, 2, 3], { last: 2 })).toEqual([2, 3]);
  });
  test("last 0 gives an empty list", () => {
    expect(run([1, 2, 3], { last: 0 })).toEqual([]);
  });
  test("last N longer than the list gives the whole list", () => {
    expect(run([1, 2], { last: 9 })).toEqual([1, 2]);
  });
  test("first of an empty list is an empty list", () => {
    expect(run([], { first: null })).toEqual([]);
  });
  test("a negative N is an error naming the op", () => {
    expect(() => run([1, 2], { last: -1 })).toThrow(/"last" needs a whole number/);
  });
  test("a fractional N is an error naming the op", () => {
    expect(() => run([1, 2], { first: 1.5 })).toThrow(/"first" needs a whole number/);
  });
  test("a string N is an error naming the op", () => {
    expect(() => run([1, 2], { first: "2" })).toThrow(/"first" needs a whole number/);
  });
});

describe("flatten", () => {
  test("flatten defaults to one level", () => {
    expect(run([1, [2, [3, [4]]]], { flatten: null })).toEqual([1, 2, [3, [4]]]);
  });
  test("flatten takes a depth", () => {
    expect(run([1, [2, [3, [4]]]], { flatten: 2 })).toEqual([1, 2, 3, [4]]);
  });
  test("flatten 0 leaves the list as it is", () => {
    expect(run([1, [2]], { flatten: 0 })).toEqual([1, [2]]);
  });
  test("flatten does not touch mappings", () => {
    expect(run([{ a: [1] }, [{ b: 2 }]], { flatten: null })).toEqual([{ a: [1] }, { b: 2 }]);
  });
  test("flatten with a bad depth is an error naming the op", () => {
    expect(() => run([[1]], { flatten: "deep" })).toThrow(/"flatten" needs a whole number/);
  });
});

describe("compact / uniq / reverse", () => {
  test("compact removes nulls only", () => {
    expect(run([0, null, "", false, [], null, {}], { compact: null })).toEqual([0, "", false, [], {}]);
  });
  test("uniq removes deep-equal duplicates, keeping the first", () => {
    expect(run([{ a: 1 }, 1, { a: 1 }, "1", 1, [2], [2]], { uniq: null })).toEqual([{ a: 1 }, 1, "1", [2]]);
  });
  test("uniq treats mappings with different key order as equal", () => {
    expect(run([{ a: 1, b: 2 }, { b: 2, a: 1 }], { uniq: null })).toEqual([{ a: 1, b: 2 }]);
  });
  test("reverse reverses the list", () => {
    expect(run([1, 2, 3], { reverse: null })).toEqual([3, 2, 1]);
  });
  test("reverse does not mutate its input", () => {
    const items: Json = [1, 2, 3];
    run(items, { reverse: null });
    expect(items).toEqual([1, 2, 3]);
  });
});

describe("sort", () => {
  test("sort orders numbers numerically", () => {
    expect(run([10, 9, 100, -1, 2.5], { sort: null })).toEqual([-1, 2.5, 9, 10, 100]);
  });
  test("sort orders strings by code point", () => {
    expect(run(["b", "a", "B", "é", "A", "aa"], { sort: null })).toEqual(["A", "B", "a", "aa", "b", "é"]);
  });
  test("sort puts characters above U+FFFF after U+E000..U+FFFF (code points, not UTF-16 units)", () => {
    expect(run(["😀", "\uFFFD", "\uE000", "z"], { sort: null })).toEqual(["z", "\uE000", "\uFFFD", "😀"]);
  });
  test("a shorter prefix sorts first", () => {
    expect(run(["abc", "ab", "a"], { sort: null })).toEqual(["a", "ab", "abc"]);
  });
  test("sort by a path", () => {
    expect(run(people, [{ sort: "age" }, { map: "name" }])).toEqual(["Bob", "Cid", "Ann"]);
  });
  test("sort by a nested path of strings", () => {
    expect(run(people, [{ sort: "team.id" }, { map: "name" }])).toEqual(["Ann", "Cid", "Bob"]);
  });
  test("sort is stable", () => {
    const items: Json = [{ k: 1, n: "a" }, { k: 0, n: "b" }, { k: 1, n: "c" }, { k: 0, n: "d" }];
    expect(run(items, [{ sort: "k" }, { map: "n" }])).toEqual(["b", "d", "a", "c"]);
  });
  test("sort of an empty list is an empty list", () => {
    expect(run([], { sort: null })).toEqual([]);
  });
  test("sort of mixed types is an error", () => {
    expect(() => run([1, "2"], { sort: null })).toThrow(/"sort" needs all numbers or all strings/);
  });
  test("sort with a missing key is an error naming the path", () => {
    expect(() => run([{ age: 1 }, {}], { sort: "age" })).toThrow(/"sort" needs all numbers or all strings at "age"/);
  });
  test("sort of booleans is an error", () => {
    expect(() => run([true, false], { sort: null })).toThrow(/"sort"/);
  });
  test("sort of mappings is an error", () => {
    expect(() => run([{ a: 1 }, { a: 2 }], { sort: null })).toThrow(/"sort"/);
  });
  test("sort of a single null is an error", () => {
    expect(() => run([null], { sort: null })).toThrow(/"sort"/);
  });
  test("sort does not mutate its input", () => {
    const items: Json = [3, 1, 2];
    run(items, { sort: null });
    expect(items).toEqual([3, 1, 2]);
  });
});

describe("count", () => {
  test("count of a list is its length", () => expect(run([1, null, 3], { count: null })).toBe(3));
  test("count of a string is its length", () => expect(run("hello", { count: null })).toBe(5));
  test("count of a string counts characters, not UTF-16 units", () => expect(run("a😀", { count: null })).toBe(2));
  test("count of a mapping is its number of keys", () => expect(run({ a: 1, b: null }, { count: null })).toBe(2));
  test("count of null is 0", () => expect(run(null, { count: null })).toBe(0));
  test("count of a number is 1", () => expect(run(42, { count: null })).toBe(1));
  test("count of false is 1", () => expect(run(false, { count: null })).toBe(1));
  test("count of an empty list is 0", () => expect(run([], { count: null })).toBe(0));
});

describe("sum", () => {
  test("sum adds the numbers", () => expect(run([1, 2, 3.5], { sum: null })).toBe(6.5));
  test("sum of an empty list is 0", () => expect(run([], { sum: null })).toBe(0));
  test("sum at a path", () => expect(run(people, { sum: "age" })).toBe(105));
  test("sum of a non-number is an error naming the op and the item", () => {
    expect(() => run([1, "2"], { sum: null })).toThrow(/"sum" needs numbers, item 1 is a string/);
  });
  test("sum with a missing path is an error", () => {
    expect(() => run([{ n: 1 }, {}], { sum: "n" })).toThrow(/"sum" needs numbers, item 1 is null/);
  });
  test("sum of a boolean is an error", () => {
    expect(() => run([true], { sum: null })).toThrow(/"sum"/);
  });
});

describe("keys / values", () => {
  test("keys of a mapping", () => expect(run({ a: 1, b: 2 }, { keys: null })).toEqual(["a", "b"]));
  test("values of a mapping", () => expect(run({ a: 1, b: [2] }, { values: null })).toEqual([1, [2]]));
  test("keys of a list is []", () => expect(run([1, 2], { keys: null })).toEqual([]));
  test("keys of a string is []", () => expect(run("ab", { keys: null })).toEqual([]));
  test("keys of null is []", () => expect(run(null, { keys: null })).toEqual([]));
  test("values of a list is []", () => expect(run([1, 2], { values: null })).toEqual([]));
  test("values of a number is []", () => expect(run(7, { values: null })).toEqual([]));
});

describe("pick / omit", () => {
  const record: Json = { id: 1, name: "Ann", secret: "x", note: null };
  test("pick with one key", () => expect(run(record, { pick: "name" })).toEqual({ name: "Ann" }));
  test("pick with a list of keys", () => expect(run(record, { pick: ["id", "name"] })).toEqual({ id: 1, name: "Ann" }));
  test("pick ignores keys that are not there", () => expect(run(record, { pick: ["id", "nope"] })).toEqual({ id: 1 }));
  test("pick keeps a null value", () => expect(run(record, { pick: "note" })).toEqual({ note: null }));
  test("pick never reads inherited or forbidden keys", () => {
    expect(run(record, { pick: ["toString", "constructor", "__proto__"] })).toEqual({});
  });
  test("omit with one key", () => expect(run(record, { omit: "secret" })).toEqual({ id: 1, name: "Ann", note: null }));
  test("omit with a list of keys", () => expect(run(record, { omit: ["secret", "note"] })).toEqual({ id: 1, name: "Ann" }));
  test("pick on a non-mapping is an error naming the op", () => {
    expect(() => run([1], { pick: "a" })).toThrow(/"pick" needs a mapping, got a list/);
  });
  test("omit on a non-mapping is an error naming the op", () => {
    expect(() => run("x", { omit: "a" })).toThrow(/"omit" needs a mapping, got a string/);
  });
  test("pick with a mapping argument is an error", () => {
    expect(() => run(record, { pick: { id: true } })).toThrow(/"pick" needs a key or a list of keys/);
  });
  test("omit does not mutate its input", () => {
    const input: Json = { a: 1, b: 2 };
    run(input, { omit: "a" });
    expect(input).toEqual({ a: 1, b: 2 });
  });
});

describe("merge", () => {
  test("merge is a shallow merge, the argument winning", () => {
    expect(run({ a: 1, b: { x: 1 } }, { merge: { b: { y: 2 }, c: 3 } })).toEqual({ a: 1, b: { y: 2 }, c: 3 });
  });
  test("merge on a non-mapping is an error naming the op", () => {
    expect(() => run([1], { merge: { a: 1 } })).toThrow(/"merge" needs a mapping, got a list/);
  });
  test("merge with a non-mapping argument is an error", () => {
    expect(() => run({ a: 1 }, { merge: [1] })).toThrow(/"merge argument" needs a mapping/);
  });
  test("merge does not mutate its input", () => {
    const input: Json = { a: 1 };
    run(input, { merge: { b: 2 } });
    expect(input).toEqual({ a: 1 });
  });
  test("merge with an own `__proto__` key does not pollute Object.prototype", () => {
    const arg = JSON.parse('{"__proto__": {"polluted": "yes"}}');
    expect(() => run({ a: 1 }, { merge: arg })).toThrow();
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe("list ops on a non-list", () => {
  for (const op of ["map", "pluck", "select", "reject", "first", "last", "flatten", "compact", "uniq", "reverse", "sort", "sum"]) {
    test(`a list op on a non-list names the op: ${op}`, () => {
      const arg = op === "select" || op === "reject" ? { a: 1 } : null;
      expect(() => run({ a: 1 }, { [op]: arg })).toThrow(new RegExp(`"${op}" needs a list, got a mapping`));
    });
  }
  test("a long string is shortened in the error message", () => {
    expect(() => run("x".repeat(1000), { first: null })).toThrow(`"first" needs a list, got a string ("${"x".repeat(36)}...)`);
  });
  test("a list op on null says it got null", () => {
    expect(() => run(null, { first: null })).toThrow(/"first" needs a list, got null/);
  });
});

describe("expressions", () => {
  test("ops are applied in order", () => {
    expect(run(people, { select: { active: true }, map: "age", sum: null })).toBe(76);
  });
  test("the order of the mapping matters", () => {
    expect(run([3, 1, 2], { sort: null, first: 2 })).toEqual([1, 2]);
    expect(run([3, 1, 2], { first: 2, sort: null })).toEqual([1, 3]);
  });
  test("the list-of-mappings form repeats an op", () => {
    expect(run([[[1]], [[2]]], [{ flatten: null }, { flatten: null }])).toEqual([1, 2]);
  });
  test("the list-of-mappings form can pick then merge then omit", () => {
    expect(run({ a: 1, b: 2, c: 3 }, [{ pick: ["a", "b"] }, { merge: { d: 4 } }, { omit: "a" }])).toEqual({ b: 2, d: 4 });
  });
  test("an empty expression returns the value unchanged", () => {
    expect(run([1, 2], {})).toEqual([1, 2]);
  });
  test("an unknown op is an error, never an Object.prototype method", () => {
    expect(() => run([1], { toString: null })).toThrow(/unknown op "toString"/);
    expect(() => run([1], { constructor: null })).toThrow(/unknown op "constructor"/);
  });
  test("the input value is never mutated by a chain of ops", () => {
    const input: Json = [{ n: 2 }, { n: 1 }];
    run(input, [{ sort: "n" }, { reverse: null }, { map: "n" }]);
    expect(input).toEqual([{ n: 2 }, { n: 1 }]);
  });
  test("the table lists exactly the 18 ops of the spec", () => {
    expect([...TRANSFORM_OPS].sort()).toEqual(
      [
        "compact",
        "count",
        "first",
        "flatten",
        "keys",
        "last",
        "map",
        "merge",
        "omit",
        "pick",
        "pluck",
        "reject",
        "reverse",
        "select",
        "sort",
        "sum",
        "uniq",
        "values",
      ],
    );
  });
});

describe("transform step", () => {
  const base = { id: "t", type: "transform", output: "result" };
  const state = (ctx: JsonObject, input: JsonObject = {}): StepState =>
    ({ executionId: "e1", workflowId: "w", input, ctx, scope: "e1:t", nested: false }) as StepState;
  const tools = { now: () => new Date(0) } as unknown as StepTools;
  const execute = (step: Record<string, unknown>, ctx: JsonObject, input: JsonObject = {}) =>
    transform.execute(transform.schema.parse({ ...base, ...step }), state(ctx, input), tools);

  test("the schema accepts the list-of-mappings form", () => {
    expect(transform.schema.safeParse({ ...base, expression: [{ flatten: null }, { flatten: 2 }] }).success).toBe(true);
  });
  test("the schema rejects an unknown op", () => {
    expect(transform.schema.safeParse({ ...base, expression: { eval: "1+1" } }).success).toBe(false);
  });
  test("the schema requires output", () => {
    expect(transform.schema.safeParse({ id: "t", type: "transform", expression: {} }).success).toBe(false);
  });
  test("input is a path without `$` into the ctx", async () => {
    const outcome = await execute({ input: "order.items", expression: { count: null } }, { order: { items: [1, 2] } });
    expect(outcome).toMatchObject({ kind: "continue", output: 2, ctx: { result: 2 } });
  });
  test("input may start at the run input", async () => {
    const outcome = await execute({ input: "input.tags", expression: { first: null } }, {}, { tags: ["x", "y"] });
    expect(outcome).toMatchObject({ output: ["x"] });
  });
  test("without input the whole ctx is transformed", async () => {
    const outcome = await execute({ expression: { keys: null } }, { a: 1, b: 2 });
    expect(outcome).toMatchObject({ output: ["a", "b"], ctx: { a: 1, b: 2, result: ["a", "b"] } });
  });
  test("a missing input is null", async () => {
    const outcome = await execute({ input: "nope", expression: { count: null } }, {});
    expect(outcome).toMatchObject({ output: 0 });
  });
  test("the transform argument is taken literally, not resolved", async () => {
    const outcome = await execute({ input: "x", expression: { merge: { b: "$x" } } }, { x: { a: 1 } });
    expect(outcome).toMatchObject({ output: { a: 1, b: "$x" } });
  });
  test("a list op on a non-list is an ExecutionError naming the step and the op", async () => {
    let error: unknown;
    try {
      await execute({ input: "x", expression: { first: null } }, { x: "text" });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ExecutionError);
    expect((error as ExecutionError).message).toBe('Transform "t": "first" needs a list, got a string ("text")');
    expect((error as ExecutionError).stepId).toBe("t");
  });
  test("the state's ctx is not mutated", async () => {
    const ctx: JsonObject = { list: [3, 1, 2] };
    await execute({ input: "list", expression: { sort: null } }, ctx);
    expect(ctx).toEqual({ list: [3, 1, 2] });
  });
});
