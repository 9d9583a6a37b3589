import { z } from "zod";
import { deepFreeze } from "../json.ts";
import { defaultStepRegistry, StepRegistry } from "../steps/registry.ts";
import { concurrencySchema, debounceSchema, prioritySchema, rateSchema } from "../steps/flow.ts";
import { nestedStep } from "../steps/step.ts";
import { checkTimeZone, parseCron } from "../expressions/cron.ts";
import { eventMatchSchema, eventNameSchema } from "../expressions/events.ts";
import { INPUT_TYPES } from "./workflow.ts";
import { LABEL_NAME_PATTERN, LABEL_NAME_RULE, MAX_LABEL_VALUE_LENGTH, MAX_LABELS, workflowIdSchema } from "../ids.ts";

/** One declared input. A null spec (`order_id:`) means `{ required: true }`. */
export const inputSpecSchema = z.strictObject({
  type: z.enum(INPUT_TYPES).optional(),
  required: z.boolean().default(true),
  default: z.unknown().optional(),
  description: z.string().optional(),
});

/** A string that `check` accepts; what it throws is the issue. */
function checkedString(check: (text: string) => unknown) {
  return z.string().superRefine((text, ctx) => {
    try {
      check(text);
    } catch (error) {
      ctx.addIssue({ code: "custom", message: (error as Error).message });
    }
  });
}

/** A cron trigger: `cron` (5 fields), `timezone` (IANA, default UTC), `input` of the runs it starts. */
const cronTriggerSchema = z.strictObject({
  cron: checkedString(parseCron),
  timezone: checkedString(checkTimeZone).optional(),
  input: z.record(z.string(), z.unknown()).optional(),
});

/** An event trigger: a matching event starts a run with its payload as input. */
const eventTriggerSchema = z.strictObject({ event: eventNameSchema, match: eventMatchSchema.optional() });

/** Stands for one step in the workflow schema: steps are checked one by one with their own type's schema. */
const stepPlaceholder = z.unknown();

/** The top-level keys of a definition (`x-` keys are removed before this schema sees them). */
export const workflowSchema = z.strictObject({
  id: workflowIdSchema,
  name: z.string().min(1),
  /** A number keeps its source text: `version: 1.0` → "1.0". */
  version: z.union([z.string().min(1).max(100), z.number()]).optional(),
  description: z.string().optional(),
  /** Whole-execution limit in seconds. */
  timeout: z.number().positive().optional(),
  inputs: z.record(z.string().min(1).max(100), inputSpecSchema.nullable()).nullable().optional(),
  /** Labels every execution gets: a literal or a reference to the input (`customer: $input.customer_id`). */
  labels: z.record(
    z.string().regex(LABEL_NAME_PATTERN, LABEL_NAME_RULE),
    z.union([z.string().min(1).max(MAX_LABEL_VALUE_LENGTH), z.number(), z.boolean()]),
  )
    .refine((labels) => Object.keys(labels).length <= MAX_LABELS, `at most ${MAX_LABELS} labels`)
    .optional(),
  steps: z.array(stepPlaceholder).min(1),
  triggers: z.array(z.union([cronTriggerSchema, eventTriggerSchema])).max(20).optional(),
  concurrency: concurrencySchema.optional(),
  rate: rateSchema.optional(),
  priority: prioritySchema.optional(),
  debounce: debounceSchema.optional(),
});

/** Key aliases kept for older workflow files: alias → canonical key. */
export const KEY_ALIASES: Readonly<Record<string, string>> = { next_step: "next", method_name: "method" };

type JsonSchema = Record<string, unknown>;

const META_KEYS = { "^x-": {} };

function toJsonSchema(schema: z.ZodType): JsonSchema {
  const out = z.toJSONSchema(schema, {
    target: "draft-2020-12",
    io: "input",
    unrepresentable: "any",
    override: (ctx) => {
      if (ctx.zodSchema === nestedStep || ctx.zodSchema === stepPlaceholder) {
        const node = ctx.jsonSchema as JsonSchema;
        for (const key of Object.keys(node)) delete node[key];
        node.$ref = "#/$defs/step";
      }
    },
  }) as JsonSchema;
  delete out.$schema;
  return out;
}

/** Every strict object also accepts `x-` keys, as the loader does. */
function allowMetaKeys(node: unknown): void {
  if (Array.isArray(node)) {
    node.forEach(allowMetaKeys);
    return;
  }
  if (node === null || typeof node !== "object") return;
  const schema = node as JsonSchema;
  if (schema.additionalProperties === false && schema.type === "object") {
    schema.patternProperties = { ...(schema.patternProperties as object | undefined), ...META_KEYS };
  }
  for (const value of Object.values(schema)) allowMetaKeys(value);
}

function stepJsonSchema(type: string, schema: z.ZodType): JsonSchema {
  let out: JsonSchema;
  try {
    out = toJsonSchema(schema);
  } catch {
    // A user schema zod cannot express (a transform, say): editors still learn the step's type.
    out = { type: "object", properties: { id: { type: "string" }, type: { const: type } }, required: ["id", "type"] };
  }
  const properties = out.properties as Record<string, unknown> | undefined;
  if (properties) {
    const exclusive: JsonSchema[] = [];
    for (const [alias, canonical] of Object.entries(KEY_ALIASES)) {
      if (properties[canonical] && !properties[alias]) {
        properties[alias] = structuredClone(properties[canonical]);
        exclusive.push({ not: { required: [canonical, alias] } });
      }
    }
    if (exclusive.length) out.allOf = [...((out.allOf as JsonSchema[] | undefined) ?? []), ...exclusive];
  }
  return { title: `${type} step`, ...out };
}

/**
 * The JSON Schema (draft 2020-12) of workflow files, generated from the zod schemas of the workflow and
 * of every step type in `registry`: `$defs.step` is a `oneOf` with one entry per step type (told apart by
 * `type`), and nested `do` / `branches` refer back to it. `x-` keys and the aliases of older workflow files are accepted.
 */
export function buildWorkflowJsonSchema(registry: StepRegistry = defaultStepRegistry): JsonSchema {
  const types = registry.all();
  const defs: Record<string, unknown> = {};
  for (const t of types) defs[`step_${t.type}`] = stepJsonSchema(t.type, t.schema as z.ZodType);
  defs.step = {
    title: "step",
    type: "object",
    required: ["id", "type"],
    properties: { type: { type: "string", enum: types.map((t) => t.type) } },
    oneOf: types.map((t) => ({ $ref: `#/$defs/step_${t.type}` })),
  };
  const top = toJsonSchema(workflowSchema);
  const innerDefs = (top.$defs as Record<string, unknown> | undefined) ?? {};
  delete top.$defs;
  const schema: JsonSchema = {
    $schema: "https://json-schema.org/draft/2020-12/schema",
    title: "Durable workflow definition",
    ...top,
    $defs: { ...innerDefs, ...defs },
  };
  allowMetaKeys(schema);
  return schema;
}

/** The JSON Schema of workflow files with the built-in step types (see `buildWorkflowJsonSchema` for user types). */
export const workflowJsonSchema: object = deepFreeze(buildWorkflowJsonSchema(new StepRegistry()));
