import { z } from "zod";
import { ExecutionError } from "../errors.ts";
import { type Attempted, attemptedOutcome, attemptKeys, settled, withAttempts } from "./attempts.ts";
import { cloneJson, toJson } from "../json.ts";
import type { Json, ServiceMethod } from "../types.ts";
import { type ReferenceSite, stepSchema, type StepState, type StepTools, type StepType } from "./step.ts";
import { rateSchema } from "./flow.ts";

const target = {
  service: z.string().min(1),
  method: z.string().min(1).optional(),
  input: z.unknown().optional(),
  ...attemptKeys,
};

const schema = stepSchema("call", {
  ...target,
  output: z.string().min(1).optional(),
  compensate: z.strictObject(target).optional(),
  /** Calls of this step across all executions, per key, held to `limit` per `period` seconds (a service's quota). */
  rate: rateSchema.optional(),
});

type CallStep = typeof schema._output;
/** What a call calls and how: a `call` step, or its `compensate:`. */
type CallTarget = Pick<CallStep, "id" | "service" | "method" | "timeout" | "retries" | "retry_delay" | "retry_backoff">;

function findMethod(step: CallTarget, services: Record<string, unknown>): ServiceMethod {
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
  references: (step) => {
    const sites: ReferenceSite[] = step.input === undefined ? [] : [{ key: "input", kind: "value", value: step.input }];
    if (step.compensate?.input !== undefined) {
      sites.push({ key: "compensate.input", kind: "value", value: step.compensate.input, extraRoots: step.output ? [step.output] : [] });
    }
    return sites;
  },
  execute: async (step, state, tools) => {
    const input = step.input === undefined ? null : tools.resolve(step.input);
    return attemptedOutcome(await callService(step, input, state, tools), step.output, state);
  },
  compensation: {
    resolve: (step, state, tools) => (step.compensate!.input === undefined ? null : tools.resolve(step.compensate!.input, state.ctx)),
    run: async (step, input, state, tools) => settled(await callService({ ...step.compensate!, id: step.id }, input, state, tools)),
  },
};

/** Calls the service with the target's attempts; its result as plain JSON. */
async function callService(step: CallTarget, input: Json, state: StepState, tools: StepTools): Promise<Attempted<Json>> {
  const method = findMethod(step, tools.services as Record<string, unknown>);
  const label = step.method ? `${step.service}.${step.method}` : step.service;
  const attempted = await withAttempts(
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
  if (attempted.later !== undefined) return attempted;
  const raw = attempted.value;
  return { value: raw === undefined ? null : toJson(raw, `The result of ${label} (step "${step.id}")`), attempt: attempted.attempt };
}
