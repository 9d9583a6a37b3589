import { z } from "zod";
import { cloneJson } from "../json.ts";
import { FINISHED, proceed, stepSchema, type StepType } from "./step.ts";

const schema = stepSchema("end", { result: z.unknown().optional() });

/** Resolves `result` (or the whole ctx) into `ctx.result` and ends the run. */
export const end: StepType<typeof schema._output> = {
  type: "end",
  schema,
  pure: true,
  outputs: () => ["result"],
  references: (step) => (step.result === undefined ? [] : [{ key: "result", kind: "value", value: step.result }]),
  execute: (step, state, tools) => {
    const result = step.result === undefined ? cloneJson(state.ctx) : tools.resolve(step.result);
    return proceed({ next: FINISHED, output: result, ctx: { ...state.ctx, result }, changed: ["result"] });
  },
};
