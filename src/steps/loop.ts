import { z } from "zod";
import { conditionSchema, evaluateCondition } from "../expressions/conditions.ts";
import { truthy } from "../expressions/references.ts";
import { ExecutionError } from "../errors.ts";
import { setOwn } from "../json.ts";
import type { Json, JsonObject } from "../types.ts";
import { nestedStep, proceed, runAgain, stepSchema, type StepType, target } from "./step.ts";

const DEFAULT_LOOP_MAX = 100;

const schema = stepSchema("loop", {
  over: z.unknown().optional(),
  as: z.string().min(1).default("item"),
  index_as: z.string().min(1).default("index"),
  while: conditionSchema.optional(),
  do: z.array(nestedStep).min(1),
  output: z.string().min(1).optional(),
  max: z.number().int().positive().max(100_000).default(DEFAULT_LOOP_MAX),
  on_exhausted: target.optional(),
}).superRefine((step, issue) => {
  if ((step.over === undefined) === (step.while === undefined)) {
    issue.addIssue({ code: "custom", path: ["over"], message: "a loop needs exactly one of `over` and `while`" });
  }
});

type LoopStep = typeof schema._output;

/** Removes the loop variables, restoring any value they shadowed before the loop. */
function withoutLoopVariables(ctx: JsonObject, before: Readonly<JsonObject>, names: string[]): JsonObject {
  const out = { ...ctx };
  for (const name of names) {
    if (Object.hasOwn(before, name)) setOwn(out, name, before[name]!);
    else delete out[name];
  }
  return out;
}

/**
 * foreach (`over`, `as`, `index_as`) or while (`while`, `iteration` from 1); body steps run in order with
 * state carried across iterations; the list of per-iteration outputs goes to `ctx[output]`. A body that
 * sets `break_loop` to a truthy value stops the loop. Checkpoints after every iteration with side effects.
 */
export const loop: StepType<LoopStep> = {
  type: "loop",
  schema,
  targets: (step) => (step.on_exhausted ? [{ key: "on_exhausted", target: step.on_exhausted }] : []),
  outputs: (step) => (step.output ? [step.output] : []),
  bodies: (step) => [{
    key: "do",
    steps: step.do as LoopStep["do"] & { id: string; type: string }[],
    locals: step.over !== undefined ? [step.as, step.index_as, "break_loop"] : ["iteration", "break_loop"],
  }],
  references: (step) => [
    ...(step.over === undefined ? [] : [{ key: "over", kind: "value" as const, value: step.over }]),
    ...(step.while === undefined ? [] : [
      { key: "while.field", kind: "path" as const, value: step.while.field, extraRoots: ["iteration", "break_loop"] },
      ...(step.while.value === undefined
        ? []
        : [{ key: "while.value", kind: "value" as const, value: step.while.value, extraRoots: ["iteration"] }]),
    ]),
  ],
  execute: async (step, state, tools) => {
    const cursor = state.loop && state.loop.stepId === step.id ? state.loop : null;
    const before: Readonly<JsonObject> = cursor ? cursor.before : state.ctx;
    const outputs: Json[] = cursor ? [...cursor.outputs] : [];
    let ctx: JsonObject = { ...state.ctx };
    let index = cursor ? cursor.index : 0;
    const fail = (message: string): never => {
      throw new ExecutionError(`Loop "${step.id}": ${message}`, { stepId: step.id });
    };
    /** Keys the loop changed since the step began and since its last checkpoint; null once a body step did not say which. */
    let changed: Set<string> | null = new Set();
    let unsaved: Set<string> | null = new Set();
    const note = (keys: readonly string[] | undefined) => {
      if (!keys) changed = unsaved = null;
      for (const key of keys ?? []) {
        changed?.add(key);
        unsaved?.add(key);
      }
    };
    /**
     * Runs iteration i (`vars`: the loop variables it set); checkpoints after it when it had side effects and another
     * iteration may follow, with the keys changed since the last one. True: the loop stops (break_loop); "yield": the
     * call's budget is used up, the cursor stored.
     */
    const iterate = async (i: number, last: boolean, from: JsonObject, vars: string[]): Promise<boolean | "yield"> => {
      const base = { ctx: from, changed: vars };
      const run = await tools.runSteps(step.do as never, ctx, { parentId: step.id, scope: `${state.scope}[${i}]`, base });
      ctx = run.ctx;
      outputs.push(run.output);
      note(vars);
      note(run.changed);
      const stop = truthy(ctx.break_loop);
      if (!stop && !last && run.sideEffects && tools.checkpointLoop) {
        const keys = unsaved ? [...unsaved] : undefined;
        unsaved = new Set();
        if (await tools.checkpointLoop({ index: i + 1, outputs, ctx, changed: keys }) === "yield") return "yield";
      }
      return stop;
    };
    let exhausted = false;
    let stopped: boolean | "yield" = false;
    if (step.over !== undefined) {
      const items = tools.resolve(step.over, before);
      if (!Array.isArray(items)) fail(`\`over\` must resolve to a list, got ${items === null ? "null" : typeof items}`);
      const list = items as Json[];
      if (list.length > step.max) fail(`${list.length} items is more than max ${step.max}`);
      for (; index < list.length; index++) {
        const from = ctx;
        ctx = { ...ctx };
        setOwn(ctx, step.as, list[index]!);
        setOwn(ctx, step.index_as, index);
        stopped = await iterate(index, index + 1 === list.length, from, [step.as, step.index_as]);
        if (stopped) break;
      }
    } else {
      const scope = { input: state.input, now: tools.now };
      for (;; index++) {
        const probe = { ...ctx, iteration: index + 1 };
        if (!evaluateCondition(step.while!, { ...scope, ctx: probe })) break;
        if (index >= step.max) {
          exhausted = true;
          break;
        }
        const from = ctx;
        ctx = probe;
        stopped = await iterate(index, false, from, ["iteration"]);
        if (stopped) break;
      }
    }
    if (stopped === "yield") return runAgain();
    const variables = [step.as, step.index_as, "iteration", "break_loop"];
    ctx = withoutLoopVariables(ctx, before, variables);
    note(variables);
    if (step.output) setOwn(ctx, step.output, outputs);
    const keys = changed ? [...changed as Set<string>, ...(step.output ? [step.output] : [])] : undefined;
    if (exhausted) {
      if (!step.on_exhausted) fail(`more than max ${step.max} iterations`);
      return proceed({ next: step.on_exhausted, ctx, output: outputs, changed: keys });
    }
    return proceed({ ctx, output: outputs, changed: keys });
  },
};
