import { z } from "zod";
import { ExecutionError } from "../errors.ts";
import { isPlainObject, setOwn } from "../json.ts";
import type { Json } from "../types.ts";
import { halt, proceed, stepSchema, type StepType } from "./step.ts";

const schema = stepSchema("workflow", {
  workflow_id: z.string().min(1),
  input: z.unknown().optional(),
  output: z.string().min(1).optional(),
  timeout: z.number().positive().optional(),
});

/**
 * Runs a registered child workflow in the same store with the id `<parent id>:<step id>` (inside a loop
 * body `<parent id>:<loop id>[<index>]:<step id>`). A halted child halts the parent, and resuming the
 * parent resumes the same child; inside loop bodies and parallel branches a halting child fails the step.
 */
export const workflow: StepType<typeof schema._output> = {
  type: "workflow",
  schema,
  outputs: (step) => (step.output ? [step.output] : []),
  references: (step) => (step.input === undefined ? [] : [{ key: "input", kind: "value", value: step.input }]),
  execute: async (step, state, tools) => {
    const input = step.input === undefined ? {} : tools.resolve(step.input);
    if (!isPlainObject(input)) {
      throw new ExecutionError(`Step "${step.id}": the child workflow's input must be a mapping`, { stepId: step.id });
    }
    const resume = state.resumed
      ? {
        response: (state.ctx.response ?? null) as Json,
        approved: typeof state.ctx.approved === "boolean" ? state.ctx.approved : undefined,
      }
      : undefined;
    const child = await tools.runChild({
      workflowId: step.workflow_id,
      childId: state.scope,
      input,
      timeoutSeconds: step.timeout,
      resume,
      mayHalt: !state.nested,
    });
    if (child.status === "halted") {
      return halt({ ...child.halt, resumeStep: step.id });
    }
    if (!step.output) return proceed({ output: child.output });
    const ctx = { ...state.ctx };
    setOwn(ctx, step.output, child.output);
    return proceed({ output: child.output, ctx, changed: [step.output] });
  },
};
