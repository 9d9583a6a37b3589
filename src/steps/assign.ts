import { z } from "zod";
import { setOwn } from "../json.ts";
import type { JsonObject } from "../types.ts";
import { proceed, stepSchema, type StepType } from "./step.ts";

const schema = stepSchema("assign", { set: z.record(z.string().min(1), z.unknown()) });

/** Sets each key in order; a value may reference keys set earlier in the same step. */
export const assign: StepType<typeof schema._output> = {
  type: "assign",
  schema,
  pure: true,
  outputs: (step) => Object.keys(step.set),
  references: (step) =>
    Object.entries(step.set).map(([key, value], i, all) => ({
      key: `set.${key}`,
      kind: "value" as const,
      value,
      extraRoots: all.slice(0, i).map(([k]) => k),
    })),
  execute: (step, state, tools) => {
    const ctx: JsonObject = { ...state.ctx };
    const changed = Object.keys(step.set);
    const output: JsonObject = {};
    for (const key of changed) {
      const value = tools.resolve(step.set[key], ctx);
      setOwn(ctx, key, value);
      setOwn(output, key, value);
    }
    return proceed({ ctx, changed, output });
  },
};
