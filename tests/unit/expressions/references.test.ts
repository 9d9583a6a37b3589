import { describe, expect, test } from "bun:test";
import { findReferences, getPath, lookup, type ReferenceScope, resolveValue, truthy } from "../../../src/expressions/references.ts";
import { ExecutionError } from "../../../src/errors.ts";
import type { Json, JsonObject } from "../../../src/types.ts";

const NOW = new Date("2024-05-06T07:08:09.010Z");

function scope(ctx: JsonObject = {}, input: JsonObject = {}, now: () => Date = () => NOW): ReferenceScope {
  return { input, ctx, now };
}

const input: JsonObject = {
  user: { name: "Ann", age: 41, admin: false, tags: ["a", "b"], address: null },
  items: [{ sku: "x1", qty: 2 }, { sku: "y2", qty: 0 }],
  empty: "",
  zero: 0,
};
const s = scope({ order: { id: 7, lines: [10, 20] }, flag: false, nothing: null, list: ["p", "q"] }, input);

describe("whole-string references", () => {
  test("a whole-string reference keeps the value's type (number)", () => {
    expect(resolveValue("$input.user.age", s)).toBe(41);
  });

  test("a whole-string reference keeps the value's type (object)", () => {
    expect(resolveValue("$input.user.tags", s)).toEqual(["a", "b"]);
    expect(resolveValue("$order", s)).toEqual({ id: 7, lines: [10, 20] });
  });

  test("a whole-string reference to null is null, not a string", () => {
    expect(resolveValue("$input.user.address", s)).toBeNull();
  });

  test("false stays false", () => {
    expect(resolveValue("$input.user.admin", s)).toBe(false);
    expect(resolveValue("$flag", s)).toBe(false);
  });

  test("0 and empty string stay as they are", () => {
    expect(resolveValue("$input.zero", s)).toBe(0);
    expect(resolveValue("$input.empty", s)).toBe("");
  });

  test("list items are reached by index", () => {
    expect(resolveValue("$list.0", s)).toBe("p");
    expect(resolveValue("$input.items.1.sku", s)).toBe("y2");
  });

  test("`$input` alone is the whole run input", () => {
    expect(resolveValue("$input", s)).toEqual(input);
  });

  test("the resolved value is a copy, not the ctx's own object", () => {
    const ctx: JsonObject = { order: { id: 1 } };
    const resolved = resolveValue("$order", scope(ctx)) as JsonObject;
    resolved.id = 2;
    expect(ctx.order).toEqual({ id: 1 });
  });
});

describe("missing paths", () => {
  test("missing path resolves to null", () => {
    expect(resolveValue("$input.user.nope", s)).toBeNull();
    expect(resolveValue("$undefined_variable", s)).toBeNull();
  });

  test("an index past the end of a list resolves to null", () => {
    expect(resolveValue("$list.5", s)).toBeNull();
  });

  test("a path through a scalar resolves to null", () => {
    expect(resolveValue("$input.user.name.first", s)).toBeNull();
  });

  test("a path through null resolves to null", () => {
    expect(resolveValue("$nothing.x", s)).toBeNull();
  });

  test("a non-numeric segment on a list resolves to null", () => {
    expect(resolveValue("$list.length", s)).toBeNull();
    expect(resolveValue("$list.first", s)).toBeNull();
  });

  test("an index with a leading zero is not an index", () => {
    expect(resolveValue("$list.01", s)).toBeNull();
  });

  test("string properties such as length do not resolve", () => {
    expect(resolveValue("$input.user.name.length", s)).toBeNull();
  });
});

describe("forbidden segments", () => {
  test("`__proto__` never resolves", () => {
    expect(resolveValue("$input.__proto__", s)).toBeNull();
    expect(resolveValue("$order.__proto__", s)).toBeNull();
  });

  test("`constructor` never resolves", () => {
    expect(resolveValue("$input.constructor", s)).toBeNull();
    expect(resolveValue("$order.constructor.name", s)).toBeNull();
    expect(resolveValue("$list.constructor", s)).toBeNull();
  });

  test("`prototype` never resolves", () => {
    expect(resolveValue("$order.constructor.prototype", s)).toBeNull();
  });

  test("`__proto__` as a root never resolves", () => {
    expect(resolveValue("$__proto__", s)).toBeNull();
    expect(resolveValue("$constructor", s)).toBeNull();
  });

  test("an own `__proto__` key (from JSON.parse) is not readable either", () => {
    const data = JSON.parse('{"__proto__": {"secret": 1}}') as JsonObject;
    expect(resolveValue("$data.__proto__.secret", scope({ data }))).toBeNull();
  });

  test("inherited properties never resolve", () => {
    expect(resolveValue("$order.toString", s)).toBeNull();
    expect(resolveValue("$order.hasOwnProperty", s)).toBeNull();
  });

  test("a prototype-pollution attempt through resolveValue does not pollute Object.prototype", () => {
    const attack = JSON.parse('{"__proto__": {"polluted": "yes"}, "a": {"__proto__": {"polluted": "yes"}}}');
    try {
      resolveValue(attack, s);
    } catch (error) {
      expect(error).toBeInstanceOf(ExecutionError);
    }
    try {
      resolveValue([attack], s);
    } catch (error) {
      expect(error).toBeInstanceOf(ExecutionError);
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>).polluted).toBeUndefined();
  });

  test("a value with an own `__proto__` key is refused with an ExecutionError naming the key", () => {
    const attack = JSON.parse('{"__proto__": {"polluted": "yes"}}');
    expect(() => resolveValue(attack, s)).toThrow(ExecutionError);
    expect(() => resolveValue(attack, s)).toThrow(/__proto__/);
  });
});

describe("interpolation", () => {
  test("references inside a longer string are interpolated", () => {
    expect(resolveValue("Hello $input.user.name!", s)).toBe("Hello Ann!");
  });

  test("several references in one string are all interpolated", () => {
    expect(resolveValue("$input.user.name is $input.user.age", s)).toBe("Ann is 41");
  });

  test("interpolated null becomes empty string", () => {
    expect(resolveValue("[$nothing]", s)).toBe("[]");
  });

  test("an interpolated missing path becomes empty string", () => {
    expect(resolveValue("[$input.nope]", s)).toBe("[]");
  });

  test("objects interpolate as JSON", () => {
    expect(resolveValue("order: $order", s)).toBe('order: {"id":7,"lines":[10,20]}');
  });

  test("lists interpolate as JSON", () => {
    expect(resolveValue("tags: $input.user.tags", s)).toBe('tags: ["a","b"]');
  });

  test("false interpolates as false", () => {
    expect(resolveValue("admin=$input.user.admin", s)).toBe("admin=false");
  });

  test("numbers interpolate as their text", () => {
    expect(resolveValue("qty=$input.items.0.qty;", s)).toBe("qty=2;");
  });

  test("a trailing dot ends the reference", () => {
    expect(resolveValue("Bye $input.user.name.", s)).toBe("Bye Ann.");
  });

  test("`$5.00` is left alone", () => {
    expect(resolveValue("$5.00", s)).toBe("$5.00");
    expect(resolveValue("Price: $5.00", s)).toBe("Price: $5.00");
  });

  test("a lone `$` is left alone", () => {
    expect(resolveValue("$", s)).toBe("$");
    expect(resolveValue("cost in $ and € ", s)).toBe("cost in $ and € ");
  });

  test("`${...}` is left alone", () => {
    expect(resolveValue("${input.user.name}", s)).toBe("${input.user.name}");
  });

  test("a string without `$` is returned unchanged", () => {
    expect(resolveValue("plain text", s)).toBe("plain text");
  });

  test("an interpolated value is not resolved again", () => {
    const t = scope({ text: "$secret", secret: "leaked" });
    expect(resolveValue("say $text", t)).toBe("say $secret");
    expect(resolveValue("$text", t)).toBe("$secret");
  });

  test("replacement patterns in an interpolated value are kept literally", () => {
    expect(resolveValue("x $v y", scope({ v: "$& $1 $$" }))).toBe("x $& $1 $$ y");
  });
});

describe("roots", () => {
  test("`input` is the run input, not a ctx variable named input", () => {
    const t = scope({ input: { name: "from ctx" } }, { name: "from input" });
    expect(resolveValue("$input.name", t)).toBe("from input");
  });

  test("now comes from the injected clock", () => {
    expect(resolveValue("$now", s)).toBe("2024-05-06T07:08:09.010Z");
  });

  test("now is read at each resolution", () => {
    let t = 0;
    const clock = scope({}, {}, () => new Date(t));
    expect(resolveValue("$now", clock)).toBe("1970-01-01T00:00:00.000Z");
    t = 1000;
    expect(resolveValue("$now", clock)).toBe("1970-01-01T00:00:01.000Z");
  });

  test("now interpolates as the ISO-8601 string", () => {
    expect(resolveValue("at $now.", s)).toBe("at 2024-05-06T07:08:09.010Z.");
  });

  test("now wins over a ctx variable named now", () => {
    expect(resolveValue("$now", scope({ now: "ctx" }))).toBe("2024-05-06T07:08:09.010Z");
  });

  test("any other root is a ctx variable", () => {
    expect(resolveValue("$order.id", s)).toBe(7);
  });

  test("a root may start with an underscore", () => {
    expect(resolveValue("$_last_error", scope({ _last_error: "boom" }))).toBe("boom");
  });

  test("path segments may contain hyphens", () => {
    expect(resolveValue("$data.first-name", scope({ data: { "first-name": "Ann" } }))).toBe("Ann");
  });
});

describe("recursive resolution", () => {
  test("values are resolved recursively inside objects and lists", () => {
    const value = { who: "$input.user.name", nested: { ages: ["$input.user.age", "x"] }, list: [["$order.id"]] };
    expect(resolveValue(value, s)).toEqual({ who: "Ann", nested: { ages: [41, "x"] }, list: [[7]] });
  });

  test("keys are not resolved", () => {
    expect(resolveValue({ $order: "$order.id" }, s)).toEqual({ $order: 7 });
  });

  test("non-string scalars are returned as they are", () => {
    expect(resolveValue(3, s)).toBe(3);
    expect(resolveValue(true, s)).toBe(true);
    expect(resolveValue(null, s)).toBeNull();
  });

  test("undefined resolves to null", () => {
    expect(resolveValue(undefined, s)).toBeNull();
  });

  test("resolving does not mutate the definition value", () => {
    const value = { a: "$order.id", b: ["$list.0"] };
    resolveValue(value, s);
    expect(value).toEqual({ a: "$order.id", b: ["$list.0"] });
  });
});

describe("lookup and getPath", () => {
  test("lookup takes a path without `$`", () => {
    expect(lookup("order.lines.1", s)).toBe(20);
    expect(lookup("input.user.name", s)).toBe("Ann");
  });

  test("lookup of `now` is the clock's ISO string", () => {
    expect(lookup("now", s)).toBe("2024-05-06T07:08:09.010Z");
  });

  test("lookup of an empty path is null", () => {
    expect(lookup("", s)).toBeNull();
  });

  test("getPath with no segments returns the value itself", () => {
    expect(getPath({ a: 1 }, [])).toEqual({ a: 1 });
  });

  test("getPath of undefined is null", () => {
    expect(getPath(undefined, [])).toBeNull();
    expect(getPath(undefined, ["a"])).toBeNull();
  });

  test("getPath keeps false at the end of a path", () => {
    expect(getPath({ a: [false] } as Json, ["a", "0"])).toBe(false);
  });

  test("getPath descends into null-prototype objects", () => {
    const bare = Object.assign(Object.create(null) as JsonObject, { a: 1 });
    expect(getPath(bare, ["a"])).toBe(1);
  });

  test("getPath does not descend into class instances", () => {
    expect(getPath(new Date(0) as unknown as Json, ["getTime"])).toBeNull();
    expect(getPath(new Map([["a", 1]]) as unknown as Json, ["a"])).toBeNull();
  });
});

describe("findReferences", () => {
  test("finds every reference with its root and path", () => {
    expect(findReferences({ a: "$input.x", b: ["Hi $user.name and $now"] })).toEqual([
      { root: "input", path: "input.x" },
      { root: "user", path: "user.name" },
      { root: "now", path: "now" },
    ]);
  });

  test("does not report references in keys", () => {
    expect(findReferences({ $input: 1 })).toEqual([]);
  });

  test("does not report `$5.00`", () => {
    expect(findReferences("costs $5.00")).toEqual([]);
  });

  test("finds nothing in non-strings", () => {
    expect(findReferences(42)).toEqual([]);
    expect(findReferences(null)).toEqual([]);
  });
});

describe("truthiness", () => {
  test("null is falsy", () => expect(truthy(null)).toBe(false));
  test("missing is falsy", () => expect(truthy(undefined)).toBe(false));
  test("false is falsy", () => expect(truthy(false)).toBe(false));
  test("0 is truthy", () => expect(truthy(0)).toBe(true));
  test("empty string is truthy", () => expect(truthy("")).toBe(true));
  test("empty list is truthy", () => expect(truthy([])).toBe(true));
  test("empty mapping is truthy", () => expect(truthy({})).toBe(true));
  test("true is truthy", () => expect(truthy(true)).toBe(true));
  test('the string "false" is truthy', () => expect(truthy("false")).toBe(true));
});
