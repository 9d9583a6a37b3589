import { describe, expect, test } from "bun:test";
import { evaluateCondition, MAX_MATCH_SUBJECT, MAX_PATTERN_LENGTH, unsafePatternReason } from "../../../src/expressions/conditions.ts";
import type { ReferenceScope } from "../../../src/expressions/references.ts";
import { type Condition, conditionSchema } from "../../../src/expressions/conditions.ts";
import type { JsonObject } from "../../../src/types.ts";

const ctx: JsonObject = {
  n: 5,
  float: 1.0,
  str_num: "10",
  padded: " 7 ",
  text: "hello world",
  word: "abc",
  list: [1, "two", { three: 3 }, null],
  obj: { a: 1, "b-c": 2 },
  nothing: null,
  yes: true,
  no: false,
  zero: 0,
  empty_str: "",
  empty_list: [],
  empty_obj: {},
  limit: 3,
  names: ["ann", "bob"],
};
const scope: ReferenceScope = {
  input: { status: "paid", amount: "12.50" },
  ctx,
  now: () => new Date("2024-01-01T00:00:00.000Z"),
};

/** Evaluates with the op given literally (the default is tested on its own). */
function check(field: string, op: string, value?: unknown): boolean {
  return evaluateCondition({ field, op, value } as Condition, scope);
}

describe("eq / neq", () => {
  test("eq is true for equal scalars", () => expect(check("word", "eq", "abc")).toBe(true));
  test("eq is false for different scalars", () => expect(check("word", "eq", "abd")).toBe(false));
  test("eq compares numbers numerically: 1 == 1.0", () => expect(check("float", "eq", 1)).toBe(true));
  test("eq does not equate a number with its string", () => expect(check("n", "eq", "5")).toBe(false));
  test("eq is deep on lists", () => expect(check("list", "eq", [1, "two", { three: 3 }, null])).toBe(true));
  test("eq is deep on mappings regardless of key order", () => expect(check("obj", "eq", { "b-c": 2, a: 1 })).toBe(true));
  test("eq on a mapping with an extra key is false", () => expect(check("obj", "eq", { a: 1, "b-c": 2, d: 3 })).toBe(false));
  test("eq of a missing field and null is true", () => expect(check("missing", "eq", null)).toBe(true));
  test("eq of false and null is false", () => expect(check("no", "eq", null)).toBe(false));
  test("eq of 0 and false is false", () => expect(check("zero", "eq", false)).toBe(false));
  test("neq is the negation of eq (different)", () => expect(check("word", "neq", "xyz")).toBe(true));
  test("neq is the negation of eq (equal)", () => expect(check("float", "neq", 1)).toBe(false));
  test("field reaches into the run input", () => expect(check("input.status", "eq", "paid")).toBe(true));
  test("field reaches list items by index", () => expect(check("list.2.three", "eq", 3)).toBe(true));
});

describe("op defaults to eq", () => {
  test("a condition without op is an equality test", () => {
    expect(evaluateCondition({ field: "word", value: "abc" } as Condition, scope)).toBe(true);
    expect(evaluateCondition({ field: "word", value: "nope" } as Condition, scope)).toBe(false);
  });

  test("the condition schema fills in eq", () => {
    expect(conditionSchema.parse({ field: "x" }).op).toBe("eq");
  });

  test("a condition without value compares with null", () => {
    expect(evaluateCondition({ field: "nothing" } as Condition, scope)).toBe(true);
    expect(evaluateCondition({ field: "word" } as Condition, scope)).toBe(false);
  });
});

describe("gt / gte / lt / lte", () => {
  test("gt compares numbers", () => {
    expect(check("n", "gt", 4)).toBe(true);
    expect(check("n", "gt", 5)).toBe(false);
  });
  test("gte includes equality", () => {
    expect(check("n", "gte", 5)).toBe(true);
    expect(check("n", "gte", 6)).toBe(false);
  });
  test("lt compares numbers", () => {
    expect(check("n", "lt", 6)).toBe(true);
    expect(check("n", "lt", 5)).toBe(false);
  });
  test("lte includes equality", () => {
    expect(check("n", "lte", 5)).toBe(true);
    expect(check("n", "lte", 4)).toBe(false);
  });
  test("a numeric string field compares as a number", () => expect(check("str_num", "gt", 9)).toBe(true));
  test("a numeric string value compares as a number", () => expect(check("n", "lt", "10")).toBe(true));
  test("two numeric strings compare numerically, not alphabetically", () => expect(check("str_num", "gt", "9")).toBe(true));
  test("a decimal numeric string compares as a number", () => expect(check("input.amount", "gte", 12.5)).toBe(true));
  test("surrounding spaces are allowed in a numeric string", () => expect(check("padded", "gt", 6)).toBe(true));
  test("a non-numeric string is never greater or smaller", () => {
    expect(check("word", "gt", 1)).toBe(false);
    expect(check("word", "lt", 1)).toBe(false);
    expect(check("word", "gt", "abb")).toBe(false);
  });
  test("an empty string is not a number", () => {
    expect(check("empty_str", "lt", 1)).toBe(false);
    expect(check("empty_str", "gte", 0)).toBe(false);
  });
  test("null is not a number", () => {
    expect(check("nothing", "lt", 1)).toBe(false);
    expect(check("missing", "gte", 0)).toBe(false);
  });
  test("a boolean is not a number", () => expect(check("yes", "gt", 0)).toBe(false));
  test("a list is not a number", () => expect(check("empty_list", "gte", 0)).toBe(false));
  test('"Infinity" is not a numeric string', () => expect(check("n", "lt", "Infinity")).toBe(false));
});

describe("in / not_in", () => {
  test("in is true when the value list contains the field", () => expect(check("word", "in", ["x", "abc"])).toBe(true));
  test("in is false when the value list does not contain the field", () => expect(check("word", "in", ["x", "y"])).toBe(false));
  test("in uses deep equality", () => expect(check("obj", "in", [{ a: 1, "b-c": 2 }])).toBe(true));
  test("in with scalar value counts it as a one-item list", () => {
    expect(check("word", "in", "abc")).toBe(true);
    expect(check("word", "in", "ab")).toBe(false);
  });
  test("in with a scalar string value is not a substring test", () => expect(check("word", "in", "xxabcxx")).toBe(false));
  test("in with an empty list is false", () => expect(check("word", "in", [])).toBe(false));
  test("not_in is the negation of in", () => {
    expect(check("word", "not_in", ["x", "y"])).toBe(true);
    expect(check("word", "not_in", ["abc"])).toBe(false);
  });
  test("not_in with scalar value counts it as a one-item list", () => expect(check("n", "not_in", 5)).toBe(false));
});

describe("contains", () => {
  test("contains on string is a substring test", () => {
    expect(check("text", "contains", "lo wo")).toBe(true);
    expect(check("text", "contains", "xyz")).toBe(false);
  });
  test("contains on string with a non-string value is false", () => expect(check("str_num", "contains", 1)).toBe(false));
  test("contains on list finds a deep-equal element", () => {
    expect(check("list", "contains", { three: 3 })).toBe(true);
    expect(check("list", "contains", "two")).toBe(true);
    expect(check("list", "contains", null)).toBe(true);
    expect(check("list", "contains", "three")).toBe(false);
  });
  test("contains on list compares numbers numerically", () => expect(check("list", "contains", 1.0)).toBe(true));
  test("contains on object checks for a key", () => {
    expect(check("obj", "contains", "a")).toBe(true);
    expect(check("obj", "contains", "b-c")).toBe(true);
    expect(check("obj", "contains", "z")).toBe(false);
  });
  test("contains on object does not find inherited keys", () => {
    expect(check("obj", "contains", "toString")).toBe(false);
    expect(check("obj", "contains", "__proto__")).toBe(false);
  });
  test("contains on object does not look at values", () => expect(check("obj", "contains", 1)).toBe(false));
  test("contains on a number is false", () => expect(check("n", "contains", 5)).toBe(false));
  test("contains on a missing field is false", () => expect(check("missing", "contains", "a")).toBe(false));
});

describe("starts_with / ends_with", () => {
  test("starts_with on strings", () => {
    expect(check("text", "starts_with", "hello")).toBe(true);
    expect(check("text", "starts_with", "world")).toBe(false);
  });
  test("ends_with on strings", () => {
    expect(check("text", "ends_with", "world")).toBe(true);
    expect(check("text", "ends_with", "hello")).toBe(false);
  });
  test("starts_with needs a string field", () => expect(check("names", "starts_with", "ann")).toBe(false));
  test("starts_with needs a string value", () => expect(check("str_num", "starts_with", 1)).toBe(false));
  test("ends_with needs a string field", () => expect(check("n", "ends_with", "5")).toBe(false));
});

describe("matches", () => {
  test("matches a regex", () => {
    expect(check("text", "matches", "^hel+o\\s")).toBe(true);
    expect(check("text", "matches", "^world")).toBe(false);
  });
  test("matches is case-sensitive", () => expect(check("word", "matches", "ABC")).toBe(false));
  test("matches with an invalid pattern is false, never throws", () => {
    expect(() => check("text", "matches", "(unclosed")).not.toThrow();
    expect(check("text", "matches", "(unclosed")).toBe(false);
  });
  test("matches with a too-long pattern is false", () => {
    const pattern = "h" + ".?".repeat(MAX_PATTERN_LENGTH / 2);
    expect(pattern.length).toBe(MAX_PATTERN_LENGTH + 1);
    expect(check("text", "matches", pattern)).toBe(false);
  });
  test("matches with a pattern of exactly the limit still works", () => {
    const pattern = ".?".repeat(MAX_PATTERN_LENGTH / 2);
    expect(pattern.length).toBe(256);
    expect(check("text", "matches", pattern)).toBe(true);
  });
  test("matches with a too-long subject is false", () => {
    const t: ReferenceScope = { ...scope, ctx: { big: "a".repeat(MAX_MATCH_SUBJECT + 1) } };
    expect(evaluateCondition({ field: "big", op: "matches", value: "a" }, t)).toBe(false);
  });
  test("matches with a subject of exactly the limit still works", () => {
    const t: ReferenceScope = { ...scope, ctx: { big: "a".repeat(MAX_MATCH_SUBJECT) } };
    expect(evaluateCondition({ field: "big", op: "matches", value: "a$" }, t)).toBe(true);
  });
  test("matches needs a string field", () => expect(check("n", "matches", "5")).toBe(false));
  test("matches needs a string pattern", () => expect(check("str_num", "matches", 10)).toBe(false));
  test("the limits are 256 and 10 000", () => {
    expect(MAX_PATTERN_LENGTH).toBe(256);
    expect(MAX_MATCH_SUBJECT).toBe(10_000);
  });
});

describe("exists / empty", () => {
  test("exists is true for a present value, even false or 0", () => {
    expect(check("word", "exists")).toBe(true);
    expect(check("no", "exists")).toBe(true);
    expect(check("zero", "exists")).toBe(true);
    expect(check("empty_str", "exists")).toBe(true);
  });
  test("exists is false for null", () => expect(check("nothing", "exists")).toBe(false));
  test("exists is false for a missing field", () => expect(check("missing.deeper", "exists")).toBe(false));
  test("empty is true for null", () => expect(check("nothing", "empty")).toBe(true));
  test("empty is true for a missing field", () => expect(check("missing", "empty")).toBe(true));
  test('empty is true for ""', () => expect(check("empty_str", "empty")).toBe(true));
  test("empty is true for []", () => expect(check("empty_list", "empty")).toBe(true));
  test("empty is true for {}", () => expect(check("empty_obj", "empty")).toBe(true));
  test("empty is false for 0 and false", () => {
    expect(check("zero", "empty")).toBe(false);
    expect(check("no", "empty")).toBe(false);
  });
  test("empty is false for a non-empty string, list or mapping", () => {
    expect(check("word", "empty")).toBe(false);
    expect(check("names", "empty")).toBe(false);
    expect(check("obj", "empty")).toBe(false);
  });
  test("a whitespace string is not empty", () => expect(check("padded", "empty")).toBe(false));
});

describe("truthy / falsy", () => {
  test("0 is truthy", () => expect(check("zero", "truthy")).toBe(true));
  test('"" is truthy', () => expect(check("empty_str", "truthy")).toBe(true));
  test("[] is truthy", () => expect(check("empty_list", "truthy")).toBe(true));
  test("{} is truthy", () => expect(check("empty_obj", "truthy")).toBe(true));
  test("true is truthy", () => expect(check("yes", "truthy")).toBe(true));
  test("null is falsy", () => expect(check("nothing", "falsy")).toBe(true));
  test("missing is falsy", () => expect(check("missing", "falsy")).toBe(true));
  test("false is falsy", () => expect(check("no", "falsy")).toBe(true));
  test("falsy is the negation of truthy", () => {
    expect(check("zero", "falsy")).toBe(false);
    expect(check("no", "truthy")).toBe(false);
  });
});

describe("value as a $reference", () => {
  test("value may be a whole $reference to a ctx variable", () => expect(check("n", "gt", "$limit")).toBe(true));
  test("value may be a $reference into the input", () => expect(check("input.status", "eq", "$input.status")).toBe(true));
  test("a $reference value keeps its type", () => expect(check("names", "eq", "$names")).toBe(true));
  test("a $reference list value works with in", () => expect(check("input.status", "in", "$names")).toBe(false));
  test("a missing $reference value is null", () => expect(check("nothing", "eq", "$missing")).toBe(true));
  test("a value with an embedded reference is interpolated", () => {
    const t: ReferenceScope = { ...scope, ctx: { greeting: "hello paid" } };
    expect(evaluateCondition({ field: "greeting", op: "eq", value: "hello $input.status" }, t)).toBe(true);
  });
  test("an interpolated value compares as the resulting string", () => {
    expect(check("text", "eq", "hello world$nothing")).toBe(true);
    expect(check("text", "eq", "hello $input.status")).toBe(false);
  });
  test("`$now` as a value is the injected clock's time", () => {
    const t: ReferenceScope = { ...scope, ctx: { at: "2024-01-01T00:00:00.000Z" } };
    expect(evaluateCondition({ field: "at", op: "eq", value: "$now" }, t)).toBe(true);
  });
  test("a list value is resolved item by item", () => expect(check("n", "in", ["$limit", "$n"])).toBe(true));
  test("field is a path without `$`: a `$` field is a ctx variable of that name", () => {
    expect(check("$word", "eq", "abc")).toBe(false);
  });
});

describe("a condition that cannot be evaluated", () => {
  test("an unknown op is false", () => expect(check("word", "like", "abc")).toBe(false));
  test("a non-string field is false, never throws", () => {
    expect(() => evaluateCondition({ field: 42, op: "eq", value: 42 } as unknown as Condition, scope)).not.toThrow();
    expect(evaluateCondition({ field: 42, op: "exists" } as unknown as Condition, scope)).toBe(false);
  });
  test("a null condition is false, never throws", () => {
    expect(evaluateCondition(null as unknown as Condition, scope)).toBe(false);
  });
  test("a value that cannot be resolved is false, never throws", () => {
    const value = JSON.parse('{"__proto__": {"polluted": 1}}');
    expect(evaluateCondition({ field: "obj", op: "neq", value }, scope)).toBe(false);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
  test("a clock that throws makes the condition false", () => {
    const broken: ReferenceScope = {
      ...scope,
      now: () => {
        throw new Error("no clock");
      },
    };
    expect(evaluateCondition({ field: "now", op: "exists" }, broken)).toBe(false);
  });
  test("a field that is an empty path is null", () => {
    expect(evaluateCondition({ field: "", op: "exists" } as Condition, scope)).toBe(false);
  });
});

describe("patterns that could backtrack forever", () => {
  test("a repeated group holding a quantifier is refused, so matches is false at once", () => {
    const subject = `${"a".repeat(40)}!`;
    expect(evaluateCondition({ field: "s", op: "matches", value: "^(a+)+$" }, { ...scope, ctx: { s: subject } })).toBe(false);
  });

  test("alternation inside a repeated group and backreferences are refused", () => {
    expect(unsafePatternReason("(a|aa)*")).toMatch(/repeated group/);
    expect(unsafePatternReason("(a)\\1")).toMatch(/backreferences/);
  });

  test("ordinary patterns are allowed", () => {
    for (const p of ["^[a-z]+@[a-z]+\\.com$", "(ab)+", "(\\d{3})-(\\d{4})", "([+*])+"]) expect(unsafePatternReason(p)).toBeNull();
  });
});
