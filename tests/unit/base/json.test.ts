import { describe, expect, test } from "bun:test";
import { ExecutionError } from "../../../src/errors.ts";
import {
  cloneJson,
  copyPlain,
  deepEqual,
  deepFreeze,
  FORBIDDEN_KEYS,
  getOwn,
  isPlainObject,
  jsonSize,
  readBodyUpTo,
  setOwn,
  toJson,
} from "../../../src/json.ts";
import type { Json, JsonObject } from "../../../src/types.ts";

const polluted = () => (({}) as Record<string, unknown>).polluted;

/** The error toJson throws for a value (fails the test if it does not throw). */
function rejection(value: unknown, what?: string): ExecutionError {
  try {
    toJson(value, what);
  } catch (error) {
    expect(error).toBeInstanceOf(ExecutionError);
    return error as ExecutionError;
  }
  throw new Error("toJson did not throw");
}

describe("toJson accepts plain JSON", () => {
  test("scalars come back as they are", () => {
    expect(toJson(null)).toBeNull();
    expect(toJson("s")).toBe("s");
    expect(toJson(false)).toBe(false);
    expect(toJson(-1.5)).toBe(-1.5);
  });
  test("nested objects and lists come back equal", () => {
    const value = { a: [1, { b: null }, "x"], c: { d: true } };
    expect(toJson(value)).toEqual(value);
  });
  test("the result is a deep copy", () => {
    const value = { a: { b: [1] } };
    const copy = toJson(value) as { a: { b: number[] } };
    copy.a.b.push(2);
    expect(value.a.b).toEqual([1]);
  });
  test("a null-prototype object is accepted", () => {
    const bare = Object.assign(Object.create(null), { a: 1 });
    expect(toJson(bare)).toEqual({ a: 1 });
  });
  test("an object value that is undefined is dropped, as JSON.stringify does", () => {
    expect(toJson({ a: 1, b: undefined })).toEqual({ a: 1 });
  });
  test("the same object twice (not a cycle) is accepted", () => {
    const shared = { x: 1 };
    expect(toJson({ a: shared, b: [shared, shared] })).toEqual({ a: { x: 1 }, b: [{ x: 1 }, { x: 1 }] });
  });
  test("`constructor`-like values that are strings are fine", () => {
    expect(toJson({ kind: "constructor" })).toEqual({ kind: "constructor" });
  });
});

describe("toJson rejects what is not JSON, naming the path", () => {
  test("rejects functions", () => {
    expect(rejection({ a: { f: () => 1 } }).message).toBe("value is not JSON: $.a.f is a function");
  });
  test("rejects class instances", () => {
    class Order {}
    expect(rejection({ order: new Order() }).message).toBe("value is not JSON: $.order is a Order");
  });
  test("rejects a Date", () => {
    expect(rejection([new Date(0)]).message).toBe("value is not JSON: $[0] is a Date");
  });
  test("rejects a Map", () => {
    expect(rejection({ m: new Map() }).message).toContain("$.m is a Map");
  });
  test("rejects NaN", () => {
    expect(rejection({ n: NaN }).message).toBe("value is not JSON: $.n is NaN");
  });
  test("rejects Infinity", () => {
    expect(rejection({ list: [1, Infinity] }).message).toBe("value is not JSON: $.list[1] is Infinity");
  });
  test("rejects -Infinity", () => {
    expect(rejection(-Infinity).message).toBe("value is not JSON: $ is -Infinity");
  });
  test("rejects a bigint", () => {
    expect(rejection({ big: 1n }).message).toBe("value is not JSON: $.big is a bigint");
  });
  test("rejects a symbol", () => {
    expect(rejection([Symbol("s")]).message).toBe("value is not JSON: $[0] is a symbol");
  });
  test("rejects a cycle through an object", () => {
    const a: Record<string, unknown> = { x: 1 };
    a.self = a;
    expect(rejection(a).message).toBe("value is not JSON: $.self is a circular reference");
  });
  test("rejects a cycle through a list", () => {
    const list: unknown[] = [1];
    list.push({ back: list });
    expect(rejection(list).message).toBe("value is not JSON: $[1].back is a circular reference");
  });
  test("rejects undefined in arrays", () => {
    expect(rejection({ list: [1, undefined] }).message).toBe("value is not JSON: $.list[1] is undefined");
  });
  test("rejects the holes of a sparse array", () => {
    expect(rejection({ list: [1, , 3] }).message).toBe("value is not JSON: $.list[1] is undefined");
  });
  test("rejects undefined at the top", () => {
    expect(rejection(undefined).message).toBe("value is not JSON: $ is undefined");
  });
  test("rejects `__proto__` keys", () => {
    const value = JSON.parse('{"a": {"__proto__": {"polluted": true}}}');
    expect(rejection(value).message).toBe('value has a forbidden key "__proto__" at $.a');
    expect(polluted()).toBeUndefined();
  });
  test("rejects `constructor` and `prototype` keys", () => {
    expect(rejection({ constructor: 1 }).message).toContain('"constructor"');
    expect(rejection({ prototype: 1 }).message).toContain('"prototype"');
  });
  test("the message starts with what the value is", () => {
    expect(rejection({ f: () => 1 }, 'The output of step "s"').message).toBe('The output of step "s" is not JSON: $.f is a function');
  });
});

describe("deepEqual", () => {
  test("equal scalars are equal", () => {
    expect(deepEqual("a", "a")).toBe(true);
    expect(deepEqual(null, null)).toBe(true);
    expect(deepEqual(true, true)).toBe(true);
  });
  test("numbers compare numerically: 1 == 1.0", () => expect(deepEqual(1, 1.0)).toBe(true));
  test("0 and -0 are equal", () => expect(deepEqual(0, -0)).toBe(true));
  test("a number and its string are not equal", () => expect(deepEqual(1, "1")).toBe(false));
  test("null and false are not equal", () => expect(deepEqual(null, false)).toBe(false));
  test("0 and false are not equal", () => expect(deepEqual(0, false)).toBe(false));
  test("null and undefined are not equal", () => expect(deepEqual(null, undefined)).toBe(false));
  test("lists are equal item by item", () => {
    expect(deepEqual([1, [2, { a: 3 }]], [1, [2, { a: 3 }]])).toBe(true);
    expect(deepEqual([1, 2], [2, 1])).toBe(false);
    expect(deepEqual([1], [1, 1])).toBe(false);
  });
  test("mappings are equal regardless of key order", () => expect(deepEqual({ a: 1, b: 2 }, { b: 2, a: 1 })).toBe(true));
  test("mappings with different keys are not equal", () => {
    expect(deepEqual({ a: 1 }, { b: 1 })).toBe(false);
    expect(deepEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
  });
  test("a key with null differs from a missing key", () => expect(deepEqual({ a: null }, {})).toBe(false));
  test("a list is not equal to a mapping", () => {
    expect(deepEqual([], {})).toBe(false);
    expect(deepEqual({ 0: "a" }, ["a"])).toBe(false);
  });
  test("an inherited key does not count", () => {
    const b = Object.create({ a: 1 });
    expect(deepEqual({ a: 1 }, b)).toBe(false);
  });
  test("a null-prototype mapping equals a plain one", () => {
    expect(deepEqual(Object.assign(Object.create(null), { a: 1 }), { a: 1 })).toBe(true);
  });
  test("class instances are only equal to themselves", () => {
    expect(deepEqual(new Date(0), new Date(0))).toBe(false);
  });
});

describe("setOwn and getOwn", () => {
  test("setOwn sets an enumerable, writable own property", () => {
    const object: JsonObject = {};
    setOwn(object, "a", 1);
    expect(Object.getOwnPropertyDescriptor(object, "a")).toEqual({ value: 1, enumerable: true, writable: true, configurable: true });
  });
  test("setOwn overwrites an existing key", () => {
    const object: JsonObject = { a: 1 };
    setOwn(object, "a", 2);
    expect(object).toEqual({ a: 2 });
  });
  test("setOwn refuses `__proto__` and never touches Object.prototype", () => {
    const object: JsonObject = {};
    expect(() => setOwn(object, "__proto__", { polluted: true })).toThrow(ExecutionError);
    expect(polluted()).toBeUndefined();
    expect(Object.getPrototypeOf(object)).toBe(Object.prototype);
  });
  test("setOwn refuses `constructor`", () => {
    const object: JsonObject = {};
    expect(() => setOwn(object, "constructor", { prototype: { polluted: true } })).toThrow(/"constructor" is not allowed/);
    expect(polluted()).toBeUndefined();
  });
  test("setOwn refuses `prototype`", () => {
    expect(() => setOwn({}, "prototype", { polluted: true })).toThrow(ExecutionError);
    expect(polluted()).toBeUndefined();
  });
  test("setOwn on a null-prototype object does not change its prototype", () => {
    const bare = Object.create(null) as JsonObject;
    expect(() => setOwn(bare, "__proto__", { polluted: true })).toThrow(ExecutionError);
    expect(Object.getPrototypeOf(bare)).toBeNull();
  });
  test("setOwn defines a key that shadows an Object.prototype method as an own property", () => {
    const object: JsonObject = {};
    setOwn(object, "__defineGetter__", 1);
    expect(Object.hasOwn(object, "__defineGetter__")).toBe(true);
    expect(polluted()).toBeUndefined();
  });
  test("the forbidden keys are __proto__, constructor and prototype", () => {
    expect([...FORBIDDEN_KEYS].sort()).toEqual(["__proto__", "constructor", "prototype"]);
  });
  test("getOwn reads own properties only", () => {
    expect(getOwn({ a: 1 }, "a")).toBe(1);
    expect(getOwn({}, "toString")).toBeUndefined();
    expect(getOwn({}, "constructor")).toBeUndefined();
  });
  test("getOwn never reads a forbidden key, even an own one", () => {
    expect(getOwn(JSON.parse('{"__proto__": 1}'), "__proto__")).toBeUndefined();
  });
});

describe("isPlainObject", () => {
  test("object literals and null-prototype objects are plain", () => {
    expect(isPlainObject({})).toBe(true);
    expect(isPlainObject(Object.create(null))).toBe(true);
  });
  test("lists, null, class instances and scalars are not plain", () => {
    expect(isPlainObject([])).toBe(false);
    expect(isPlainObject(null)).toBe(false);
    expect(isPlainObject(new Date())).toBe(false);
    expect(isPlainObject("x")).toBe(false);
  });
});

describe("cloneJson and jsonSize", () => {
  test("cloneJson is a deep copy", () => {
    const value: Json = { a: [1] };
    const copy = cloneJson(value) as { a: number[] };
    copy.a.push(2);
    expect(value).toEqual({ a: [1] });
  });
  test("jsonSize counts UTF-8 bytes", () => {
    expect(jsonSize("é")).toBe(4); // "é" in quotes: 1 + 2 + 1
  });
});

describe("deepFreeze", () => {
  test("freezes the value and every object and array inside it", () => {
    const value = { a: { b: [1, { c: 2 }] } };
    expect(deepFreeze(value)).toBe(value);
    expect([value, value.a, value.a.b, value.a.b[1]].every((part) => Object.isFrozen(part))).toBe(true);
  });
  test("leaves primitives and null as they are", () => {
    expect([deepFreeze(1), deepFreeze("s"), deepFreeze(null)]).toEqual([1, "s", null]);
  });
});

describe("readBodyUpTo", () => {
  const post = (body: BodyInit, headers: Record<string, string> = {}) =>
    new Request("http://localhost/", { method: "POST", body, headers, duplex: "half" } as RequestInit);
  /** A stream of `chunks` chunks of 60 bytes that counts what was pulled. */
  const counted = (chunks: number) => {
    const pulled = { count: 0 };
    const stream = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulled.count++ < chunks) controller.enqueue(new TextEncoder().encode("x".repeat(60)));
        else controller.close();
      },
    });
    return { stream, pulled };
  };

  test("a body with its Content-Length within the limit comes back whole", async () => {
    const bytes = await readBodyUpTo(post("hello", { "content-length": "5" }), 10);
    expect(new TextDecoder().decode(bytes)).toBe("hello");
  });

  test("a Content-Length within the limit that lies (a message built in-process) is still refused past the limit", async () => {
    expect(await readBodyUpTo(post("x".repeat(200), { "content-length": "10" }), 100)).toBeUndefined();
  });

  test("an encoded body is read by chunks: refused once past the limit, without reading the rest", async () => {
    const { stream, pulled } = counted(100);
    expect(await readBodyUpTo(post(stream, { "content-length": "50", "content-encoding": "gzip" }), 100)).toBeUndefined();
    expect(pulled.count).toBeLessThan(10);
  });
});

describe("copyPlain", () => {
  test("plain JSON comes back as the JSON round trip gives it, sharing nothing", () => {
    const value = { s: "é😀", n: 1.5, t: true, z: null, list: [1, { a: [] }], nested: { b: { c: "d" } } };
    const copy = copyPlain(value) as JsonObject;
    expect(copy).toStrictEqual(JSON.parse(JSON.stringify(value)));
    expect(copy.list).not.toBe(value.list);
    expect((copy.nested as JsonObject).b).not.toBe(value.nested.b);
    expect(Object.keys(copy)).toEqual(Object.keys(value));
  });

  test("-0 becomes 0 and a null-prototype object a plain one, as through JSON", () => {
    expect(Object.is(copyPlain(-0), 0)).toBe(true);
    const bare = Object.assign(Object.create(null), { a: 1 });
    const copy = copyPlain({ bare }) as JsonObject;
    expect(Object.getPrototypeOf(copy.bare)).toBe(Object.prototype);
    expect(copy).toStrictEqual({ bare: { a: 1 } });
  });

  test("anything the JSON round trip would change or refuse gives undefined", () => {
    class Point {
      x = 1;
    }
    const deep: JsonObject = {};
    let at = deep;
    for (let i = 0; i < 70; i++) at = (at.next = {}) as JsonObject;
    for (
      const value of [
        undefined,
        NaN,
        Infinity,
        10n,
        Symbol("s"),
        () => 1,
        new Date(0),
        new Map(),
        new Point(),
        [1, , 3],
        { a: undefined },
        { toJSON: () => 1 },
        JSON.parse('{"__proto__": {"x": 1}}'),
        deep,
      ]
    ) {
      expect(copyPlain({ inside: [value] })).toBeUndefined();
    }
  });

  test("a cycle gives undefined instead of overflowing the stack", () => {
    const cycle: JsonObject = {};
    cycle.self = cycle;
    expect(copyPlain(cycle)).toBeUndefined();
  });
});
