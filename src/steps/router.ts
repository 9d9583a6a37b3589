import { z } from "zod";
import { conditionSchema, evaluateCondition } from "../expressions/conditions.ts";
import { ExecutionError } from "../errors.ts";
import { proceed, stepSchema, type StepType, target } from "./step.ts";

const schema = stepSchema("router", {
  routes: z.array(z.strictObject({ when: conditionSchema, then: target })).default([]),
  default: target.optional(),
});

/** The first route whose condition holds wins, else `default`, else an error naming the step. */
export const router: StepType<typeof schema._output> = {
  type: "router",
  schema,
  pure: true,
  targets: (step) => [
    ...step.routes.map((r, i) => ({ key: `routes[${i}].then`, target: r.then })),
    ...(step.default ? [{ key: "default", target: step.default }] : []),
  ],
  references: (step) =>
    step.routes.flatMap((r, i) => [
      { key: `routes[${i}].when.field`, kind: "path" as const, value: r.when.field },
      ...(r.when.value === undefined ? [] : [{ key: `routes[${i}].when.value`, kind: "value" as const, value: r.when.value }]),
    ]),
  execute: (step, state, tools) => {
    const scope = { input: state.input, ctx: state.ctx, now: tools.now };
    const route = step.routes.find((r) => evaluateCondition(r.when, scope));
    const next = route?.then ?? step.default;
    if (!next) throw new ExecutionError(`Router "${step.id}" matched no route and has no default`, { stepId: step.id });
    return proceed({ next, output: { route: route ? step.routes.indexOf(route) : "default", next } });
  },
};
