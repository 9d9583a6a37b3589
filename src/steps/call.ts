import { z } from "zod";
import { ExecutionError } from "../errors.ts";
import { attemptKeys, withAttempts } from "./attempts.ts";
import { cloneJson, setOwn, toJson } from "../json.ts";
import type { ServiceMethod } from "../types.ts";
import { rateSchema } from "./flow.ts";
import { proceed, stepSchema, type StepType } from "./step.ts";

const schema = stepSchema("call", {
  service: z.string().min(1),
  method: z.string().min(1).optional(),
  input: z.unknown().optional(),
  output: z.string().min(1).optional(),
  ...attemptKeys,
  /** Calls of this step across all executions, per key, held to `limit` per `period` seconds (a service's quota). */
  rate: rateSchema.optional(),
});

type CallStep = typeof schema._output;

function findMethod(step: CallStep, services: Record<string, unknown>): ServiceMethod {
  const service = Object.hasOwn(services, step.service) ? services[step.service] : undefined;
  const label = step.method ? `${step.service}.${step.method}` : step.service;
  if (service === undefined) {
    throw new ExecutionError(`Unknown service "${step.service}" (step "${step.id}" calls ${label})`, { stepId: step.id });
  }
  if (!step.method) {
    if (typeof service !== "function") {
      throw new ExecutionError(`Service "${step.service}" is not a function; step "${step.id}" must name a method`, { stepId: step.id });
    }
    return service as ServiceMethod;
  }
  const method = service && typeof service === "object" && Object.hasOwn(service, step.method)
    ? (service as Record<string, unknown>)[step.method]
    : undefined;
  if (typeof method !== "function") {
    throw new ExecutionError(`Unknown method "${step.method}" of service "${step.service}" (step "${step.id}")`, { stepId: step.id });
  }
  return method.bind(service) as ServiceMethod;
}

/**
 * Calls a registered service with the step's attempts (attempts.ts); the result (plain JSON only) goes to
 * `ctx[output]`. The service gets the step's idempotency key, the same across attempts, re-deliveries and takeovers.
 */
export const call: StepType<CallStep> = {
  type: "call",
  schema,
  outputs: (step) => (step.output ? [step.output] : []),
  references: (step) => (step.input === undefined ? [] : [{ key: "input", kind: "value", value: step.input }]),
  execute: async (step, state, tools) => {
    const method = findMethod(step, tools.services as Record<string, unknown>);
    const input = step.input === undefined ? null : tools.resolve(step.input);
    const label = step.method ? `${step.service}.${step.method}` : step.service;
    const { value: raw, attempt } = await withAttempts(
      step,
      state,
      tools,
      (n, signal) =>
        method(cloneJson(input), {
          executionId: state.executionId,
          stepId: step.id,
          attempt: n,
          signal,
          idempotencyKey: state.idempotencyKey,
        }),
    );
    const output = raw === undefined ? null : toJson(raw, `The result of ${label} (step "${step.id}")`);
    if (!step.output) return proceed({ output, attempt });
    const ctx = { ...state.ctx };
    setOwn(ctx, step.output, output);
    return proceed({ output, ctx, changed: [step.output], attempt });
  },
};
