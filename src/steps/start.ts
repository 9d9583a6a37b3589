import { proceed, stepSchema, type StepType } from "./step.ts";
import { cloneJson } from "../json.ts";

const schema = stepSchema("start", {});

/** Copies the (already checked) run input into `ctx.input`. */
export const start: StepType<typeof schema._output> = {
  type: "start",
  schema,
  pure: true,
  replayable: true,
  outputs: () => ["input"],
  execute: (_step, state) => proceed({ ctx: { ...state.ctx, input: cloneJson(state.input) }, changed: ["input"] }),
};
