import { z } from "zod";
import { errorText, ExecutionError } from "../errors.ts";
import { deepEqual, setOwn } from "../json.ts";
import type { Json, JsonObject } from "../types.ts";
import { type NestedRun, nestedStep, proceed, type StepDefinition, stepSchema, type StepType } from "./step.ts";

const schema = stepSchema("parallel", {
  branches: z.array(nestedStep).min(1),
  wait: z.union([z.enum(["all", "any"]), z.number().int().positive()]).default("all"),
  output: z.string().min(1).optional(),
});

type Settled = { ok: true; run: NestedRun } | { ok: false; error: unknown };

/** Applies the keys a branch changed (added, changed or removed relative to `base`) onto `target`. */
function mergeChanges(target: JsonObject, base: Readonly<JsonObject>, branch: JsonObject): void {
  for (const [key, value] of Object.entries(branch)) {
    if (!Object.hasOwn(base, key) || !deepEqual(base[key], value)) setOwn(target, key, value);
  }
  for (const key of Object.keys(base)) if (!Object.hasOwn(branch, key)) delete target[key];
}

/**
 * Runs each branch step concurrently on the same input state. `all`: any failure fails the step; `any`:
 * the first success wins and the others are aborted; N: at least N successes. ctx changes of the
 * successful branches are merged key by key in branch order; branch outputs (null for failed) go to `ctx[output]`.
 */
export const parallel: StepType<typeof schema._output> = {
  type: "parallel",
  schema,
  outputs: (step) => (step.output ? [step.output] : []),
  bodies: (step) => [{ key: "branches", steps: step.branches as StepDefinition[], locals: [] }],
  execute: async (step, state, tools) => {
    const branches = step.branches as StepDefinition[];
    const controllers = branches.map(() => new AbortController());
    const settled: (Settled | undefined)[] = [];
    let winner = -1;
    const runs = branches.map((branch, i) =>
      tools.runSteps([branch], { ...state.ctx }, {
        parentId: step.id,
        scope: state.scope,
        signal: AbortSignal.any([tools.signal, controllers[i]!.signal]),
      }).then(
        (run) => {
          settled[i] = { ok: true, run };
          if (step.wait === "any" && winner < 0) {
            winner = i;
            controllers.forEach((c, j) => j !== i && c.abort(new ExecutionError(`Branch "${branches[j]!.id}" lost the race`)));
          }
        },
        (error) => {
          settled[i] = { ok: false, error };
        },
      )
    );
    await Promise.all(runs);
    const results = settled as Settled[];
    const successes = step.wait === "any" ? (winner < 0 ? [] : [winner]) : results.flatMap((r, i) => (r.ok ? [i] : []));
    const firstError = () => {
      const i = results.findIndex((r) => !r.ok);
      const failed = results[i] as { ok: false; error: unknown };
      return `branch "${branches[i]!.id}" failed: ${errorText(failed.error)}`;
    };
    const fail = (message: string): never => {
      throw new ExecutionError(`Parallel "${step.id}": ${message}`, { stepId: step.id });
    };
    if (step.wait === "all" && successes.length < branches.length) fail(firstError());
    if (step.wait === "any" && successes.length === 0) fail(`no branch succeeded; ${firstError()}`);
    if (typeof step.wait === "number" && successes.length < step.wait) {
      fail(`${successes.length} of ${branches.length} branches succeeded, ${step.wait} needed; ${firstError()}`);
    }
    const ctx: JsonObject = { ...state.ctx };
    for (const i of successes) mergeChanges(ctx, state.ctx, (results[i] as { ok: true; run: NestedRun }).run.ctx);
    const outputs: Json[] = results.map((r, i) => (successes.includes(i) && r.ok ? r.run.output : null));
    if (step.output) setOwn(ctx, step.output, outputs);
    return proceed({ ctx, output: outputs });
  },
};
