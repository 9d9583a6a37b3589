import { describe, expect, test } from "bun:test";
import { applyInputRules } from "../../../src/definition/inputs.ts";
import { loadWorkflow } from "../../../src/definition/load.ts";
import { ValidationError } from "../../../src/errors.ts";

const ORDER = loadWorkflow(`id: order
name: Order
inputs:
  order_id: { type: string }
  quantity: { type: integer, default: 1 }
  price: { type: number, required: false }
  gift: { type: boolean, required: false }
  tags: { type: array, default: [] }
  options: { type: object, required: false, default: { express: false } }
  note:
    required: false
steps:
  - id: start
    type: start
`);

const OPEN = loadWorkflow("id: open\nname: Open\nsteps:\n  - id: start\n    type: start\n");

function errorOf(workflow: typeof ORDER, input: unknown): ValidationError {
  try {
    applyInputRules(workflow, input);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error("expected a ValidationError");
}

describe("input rules", () => {
  test("defaults are applied to missing inputs", () => {
    expect(applyInputRules(ORDER, { order_id: "A1" })).toEqual({ order_id: "A1", quantity: 1, tags: [], options: { express: false } });
  });

  test("a default is applied before the required check", () => {
    expect(ORDER.inputs!.quantity!.required).toBe(true);
    expect(applyInputRules(ORDER, { order_id: "A1" }).quantity).toBe(1);
  });

  test("a given value wins over the default", () => {
    expect(applyInputRules(ORDER, { order_id: "A1", quantity: 3 }).quantity).toBe(3);
  });

  test("a null value counts as missing: the default applies", () => {
    expect(applyInputRules(ORDER, { order_id: "A1", quantity: null }).quantity).toBe(1);
  });

  test("defaults are deep copies, never the definition's own values", () => {
    const first = applyInputRules(ORDER, { order_id: "A1" });
    (first.options as { express: boolean }).express = true;
    (first.tags as string[]).push("x");
    expect(applyInputRules(ORDER, { order_id: "A2" })).toMatchObject({ tags: [], options: { express: false } });
  });

  test("a required input without a default that is missing is an issue naming it", () => {
    expect(errorOf(ORDER, {}).issues).toEqual([{ path: "input.order_id", message: 'input "order_id" is required' }]);
  });

  test("an optional input may be missing", () => {
    expect(applyInputRules(ORDER, { order_id: "A1" })).not.toHaveProperty("price");
  });

  test("a wrong type is an issue naming the input, the expected and the actual type", () => {
    expect(errorOf(ORDER, { order_id: 42 }).issues).toEqual([{
      path: "input.order_id",
      message: 'input "order_id" must be of type string, got integer',
    }]);
  });

  test("integer accepts whole numbers only, number accepts any finite number", () => {
    expect(errorOf(ORDER, { order_id: "A", quantity: 1.5 }).issues[0]!.message).toBe(
      'input "quantity" must be of type integer, got number',
    );
    expect(applyInputRules(ORDER, { order_id: "A", quantity: 2.0, price: 3 })).toMatchObject({ quantity: 2, price: 3 });
    expect(applyInputRules(ORDER, { order_id: "A", price: 9.99 }).price).toBe(9.99);
  });

  test("boolean, array and object types are checked", () => {
    const issues = errorOf(ORDER, { order_id: "A", gift: "yes", tags: "a,b", options: [1] }).issues;
    expect(issues.map((i) => i.message)).toEqual([
      'input "gift" must be of type boolean, got string',
      'input "tags" must be of type array, got string',
      'input "options" must be of type object, got array',
    ]);
  });

  test("every violation is reported together", () => {
    const error = errorOf(ORDER, { quantity: "two", price: "free" });
    expect(error.issues.map((i) => i.path)).toEqual(["input.order_id", "input.quantity", "input.price"]);
    expect(error.message).toStartWith('Invalid input for workflow "order" (3 problems): ');
  });

  test("an input without a declared type accepts any JSON value", () => {
    expect(applyInputRules(ORDER, { order_id: "A", note: { any: ["thing"] } }).note).toEqual({ any: ["thing"] });
  });

  test("undeclared keys are kept", () => {
    expect(applyInputRules(ORDER, { order_id: "A", extra: 1 }).extra).toBe(1);
  });

  test("a workflow without inputs accepts any object as it is", () => {
    expect(applyInputRules(OPEN, { anything: [1, { b: 2 }] })).toEqual({ anything: [1, { b: 2 }] });
  });

  test("the result is a fresh deep copy of the input", () => {
    const input = { order_id: "A", nested: { list: [1] } };
    const result = applyInputRules(ORDER, input);
    expect(result).not.toBe(input);
    (result.nested as { list: number[] }).list.push(2);
    expect(input.nested.list).toEqual([1]);
  });

  test("an undefined input counts as an empty object", () => {
    expect(applyInputRules(OPEN, undefined)).toEqual({});
  });

  test("an input that is not a plain object is an issue", () => {
    for (const [input, kind] of [[null, "null"], [[1], "array"], ["text", "string"], [new Map(), "Map"]] as const) {
      const [issue] = errorOf(OPEN, input).issues;
      expect(issue!.path).toBe("input");
      expect(issue!.message).toContain("the input must be a JSON object");
      expect(issue!.message).toEndWith(`got ${kind}`);
    }
  });

  test("a __proto__ key anywhere in the input is rejected and Object.prototype stays clean", () => {
    const input = JSON.parse('{"order_id":"A","a":{"b":[{"__proto__":{"polluted":true}}]}}');
    expect(errorOf(ORDER, input).issues).toEqual([
      { path: "input.a.b[0].__proto__", message: 'the input key "__proto__" is not allowed (it could reach Object.prototype)' },
    ]);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  test("constructor and prototype keys are rejected", () => {
    const issues = errorOf(OPEN, { constructor: 1, nested: { prototype: 2 } }).issues;
    expect(issues.map((i) => i.path)).toEqual(["input.constructor", "input.nested.prototype"]);
  });

  test("values that are not plain JSON are rejected with their path", () => {
    const issues = errorOf(OPEN, { when: new Date(0), f: () => 1, n: Number.NaN, list: [undefined] }).issues;
    expect(issues.map((i) => [i.path, i.message])).toEqual([
      ["input.when", "the input is not plain JSON: a Date is not a JSON value"],
      ["input.f", "the input is not plain JSON: a function is not a JSON value"],
      ["input.n", "the input is not plain JSON: NaN is not a JSON number"],
      ["input.list[0]", "the input is not plain JSON: undefined is not a JSON value"],
    ]);
  });

  test("a circular input is rejected", () => {
    const input: Record<string, unknown> = {};
    input.self = input;
    expect(errorOf(OPEN, input).issues[0]!.message).toContain("circular");
  });

  test("JSON problems and rule violations are reported together", () => {
    const issues = errorOf(ORDER, { quantity: "x", bad: () => 1 }).issues;
    expect(issues.map((i) => i.path)).toEqual(["input.bad", "input.order_id", "input.quantity"]);
  });
});
