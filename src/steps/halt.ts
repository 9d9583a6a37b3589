import { z } from "zod";
import { isPlainObject } from "../json.ts";
import type { JsonObject } from "../types.ts";
import { halt as haltWith, stepSchema, type StepType, target } from "./step.ts";

const schema = stepSchema("halt", {
  reason: z.string().optional(),
  data: z.record(z.string(), z.unknown()).optional(),
  resume_step: target.optional(),
});

/** Halts with `{ reason, halted_at, ...data }`; a resume continues at `resume_step`, else `next`. */
export const halt: StepType<typeof schema._output> = {
  type: "halt",
  schema,
  topLevelOnly: true,
  targets: (step) => (step.resume_step ? [{ key: "resume_step", target: step.resume_step }] : []),
  references: (step) => [
    ...(step.reason === undefined ? [] : [{ key: "reason", kind: "value" as const, value: step.reason }]),
    ...(step.data === undefined ? [] : [{ key: "data", kind: "value" as const, value: step.data }]),
  ],
  execute: (step, _state, tools) => {
    const reason = step.reason === undefined ? "Halted" : tools.resolve(step.reason);
    const extra = step.data === undefined ? {} : tools.resolve(step.data);
    const data: JsonObject = {
      reason: typeof reason === "string" ? reason : JSON.stringify(reason),
      halted_at: tools.now().toISOString(),
      ...(isPlainObject(extra) ? extra : {}),
    };
    return haltWith({ data, prompt: data.reason as string, resumeStep: step.resume_step ?? step.next });
  },
};
