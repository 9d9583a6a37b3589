// deno-lint-ignore-file no-explicit-any -- the JSON Schema is walked as untyped JSON
import { describe, expect, test } from "bun:test";
import { z } from "zod";
import { buildWorkflowJsonSchema, workflowJsonSchema } from "../../../src/definition/schema.ts";
import { objectShape } from "../../../src/definition/shape.ts";
import { BUILT_IN_STEP_TYPES, StepRegistry } from "../../../src/steps/registry.ts";
import { proceed } from "../../../src/steps/step.ts";

type Schema = Record<string, any>;
const schema = workflowJsonSchema as Schema;

/** Follows a local `$ref` ("#/$defs/step"). */
function resolve(root: Schema, ref: string): Schema | undefined {
  return ref.slice(2).split("/").reduce<any>((node, part) => node?.[part], root);
}

function stepDef(root: Schema, type: string): Schema {
  const entry = root.$defs.step.oneOf.find((e: Schema) => resolve(root, e.$ref)?.properties?.type?.const === type);
  expect(entry).toBeDefined();
  return resolve(root, entry.$ref)!;
}

describe("workflow JSON Schema", () => {
  test("is a draft 2020-12 schema of a mapping with id, name and steps required", () => {
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(schema.type).toBe("object");
    expect(schema.required).toEqual(["id", "name", "steps"]);
    expect(Object.keys(schema.properties)).toEqual([
      "id",
      "name",
      "version",
      "description",
      "timeout",
      "inputs",
      "labels",
      "steps",
      "triggers",
      "concurrency",
      "rate",
      "priority",
      "debounce",
    ]);
  });

  test("steps are a oneOf with one entry per built-in step type, told apart by a const type", () => {
    const oneOf = schema.$defs.step.oneOf as Schema[];
    expect(oneOf.length).toBe(BUILT_IN_STEP_TYPES.length);
    const types = oneOf.map((entry) => resolve(schema, entry.$ref)!.properties.type.const);
    expect(types.sort()).toEqual(BUILT_IN_STEP_TYPES.map((t) => t.type).sort());
    expect(schema.$defs.step.properties.type.enum).toHaveLength(BUILT_IN_STEP_TYPES.length);
  });

  test("the step list and nested do / branches refer back to the step definition", () => {
    expect(schema.properties.steps.items).toEqual({ $ref: "#/$defs/step" });
    expect(stepDef(schema, "loop").properties.do.items).toEqual({ $ref: "#/$defs/step" });
    expect(stepDef(schema, "parallel").properties.branches.items).toEqual({ $ref: "#/$defs/step" });
  });

  test("every key of every step type's zod schema is in its JSON Schema (nothing is copied by hand)", () => {
    for (const type of BUILT_IN_STEP_TYPES) {
      const keys = Object.keys(objectShape(type.schema)!);
      expect(Object.keys(stepDef(schema, type.type).properties)).toEqual(expect.arrayContaining(keys));
    }
  });

  test("every $ref resolves", () => {
    const refs: string[] = [];
    const walk = (node: unknown) => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === "object") {
        for (const [key, value] of Object.entries(node)) {
          if (key === "$ref") refs.push(value as string);
          else walk(value);
        }
      }
    };
    walk(schema);
    expect(refs.length).toBeGreaterThan(11);
    for (const ref of refs) expect(resolve(schema, ref)).toBeDefined();
  });

  test("strict objects reject unknown keys but accept x- keys", () => {
    const call = stepDef(schema, "call");
    expect(call.additionalProperties).toBe(false);
    expect(call.patternProperties).toEqual({ "^x-": {} });
    expect(schema.patternProperties).toEqual({ "^x-": {} });
    const route = stepDef(schema, "router").properties.routes.items;
    expect(route.additionalProperties).toBe(false);
    expect(route.patternProperties).toEqual({ "^x-": {} });
  });

  test("the gem's aliases next_step and method_name are accepted, but not together with next and method", () => {
    const call = stepDef(schema, "call");
    expect(call.properties.next_step).toEqual(call.properties.next);
    expect(call.properties.method_name).toEqual(call.properties.method);
    expect(call.allOf).toEqual([{ not: { required: ["next", "next_step"] } }, { not: { required: ["method", "method_name"] } }]);
    expect(stepDef(schema, "end").properties.method_name).toBeUndefined();
  });

  test("version accepts a string or a number and inputs are typed", () => {
    expect(schema.properties.version.anyOf.map((s: Schema) => s.type)).toEqual(["string", "number"]);
    const spec = schema.properties.inputs.anyOf[0].additionalProperties.anyOf[0];
    expect(spec.properties.type.enum).toEqual(["string", "integer", "number", "boolean", "array", "object"]);
  });

  test("step defaults are not required keys", () => {
    expect(stepDef(schema, "call").required).toEqual(["id", "type", "service"]);
  });

  test("the published schema is plain JSON and frozen", () => {
    expect(JSON.parse(JSON.stringify(schema))).toEqual(schema);
    expect(Object.isFrozen(schema)).toBe(true);
    expect(Object.isFrozen(schema.$defs.step)).toBe(true);
  });

  test("a step type registered in a registry appears in buildWorkflowJsonSchema(registry)", () => {
    const registry = new StepRegistry();
    registry.register("notify", { schema: z.object({ channel: z.string(), urgent: z.boolean().optional() }), execute: () => proceed() });
    const built = buildWorkflowJsonSchema(registry) as Schema;
    expect(built.$defs.step.oneOf).toHaveLength(BUILT_IN_STEP_TYPES.length + 1);
    const notify = stepDef(built, "notify");
    expect(notify.properties.channel).toEqual({ type: "string" });
    expect(notify.properties.urgent).toEqual({ type: "boolean" });
    expect(notify.required).toEqual(expect.arrayContaining(["id", "type", "channel"]));
    expect(notify.patternProperties).toEqual({ "^x-": {} });
    expect(schema.$defs.step.oneOf).toHaveLength(BUILT_IN_STEP_TYPES.length);
  });

  test("a user schema zod cannot express still yields an entry for its type", () => {
    const registry = new StepRegistry();
    registry.register("odd", { schema: z.object({ when: z.date() }), execute: () => proceed() });
    const odd = stepDef(buildWorkflowJsonSchema(registry) as Schema, "odd");
    expect(odd.properties.type.const).toBe("odd");
  });
});
