import { z } from "zod";
import { ExecutionError, TimeoutError } from "../errors.ts";
import { cloneJson, setOwn, toJson } from "../json.ts";
import type { Json, ServiceMethod } from "../types.ts";
import { rateSchema } from "./flow.ts";
import { proceed, stepSchema, type StepTools, type StepType } from "./step.ts";

const schema = stepSchema("call", {
  service: z.string().min(1),
  method: z.string().min(1).optional(),
  input: z.unknown().optional(),
  output: z.string().min(1).optional(),
  timeout: z.number().positive().optional(),
  retries: z.number().int().min(0).max(100).default(0),
  retry_delay: z.number().min(0).default(1),
  retry_backoff: z.number().min(1).default(2),
  /** Calls of this step across all executions, per key, held to `limit` per `period` seconds (a service's quota). */
  rate: rateSchema.optional(),
});

export type CallStep = typeof schema._output;

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

async function attemptOnce(
  method: ServiceMethod,
  input: Json,
  step: CallStep,
  context: { executionId: string; attempt: number; idempotencyKey: string; signal: AbortSignal },
  setTimer: StepTools["setTimer"],
): Promise<unknown> {
  const controller = new AbortController();
  const onAbort = () => controller.abort(context.signal.reason);
  if (context.signal.aborted) onAbort();
  else context.signal.addEventListener("abort", onAbort, { once: true });
  let cancelTimer: (() => void) | undefined;
  try {
    const aborted = new Promise<never>((_, reject) => {
      const fail = () =>
        reject(controller.signal.reason instanceof Error ? controller.signal.reason : new ExecutionError(`Step "${step.id}" was aborted`));
      if (controller.signal.aborted) fail();
      controller.signal.addEventListener("abort", fail, { once: true });
    });
    if (step.timeout !== undefined) {
      cancelTimer = setTimer(
        step.timeout * 1000,
        () =>
          controller.abort(
            new TimeoutError(`Step "${step.id}" timed out after ${step.timeout}s (attempt ${context.attempt})`, { stepId: step.id }),
          ),
      );
    }
    const call = Promise.resolve().then(() =>
      method(cloneJson(input), {
        executionId: context.executionId,
        stepId: step.id,
        attempt: context.attempt,
        signal: controller.signal,
        idempotencyKey: context.idempotencyKey,
      })
    );
    return await Promise.race([call, aborted]);
  } finally {
    cancelTimer?.();
    context.signal.removeEventListener("abort", onAbort);
  }
}

/**
 * Calls a registered service with up to `1 + retries` attempts, waiting `retry_delay * retry_backoff^(k-1)`
 * seconds before attempt k+1; the result (plain JSON only) goes to `ctx[output]`.
 */
export const call: StepType<CallStep> = {
  type: "call",
  schema,
  outputs: (step) => (step.output ? [step.output] : []),
  references: (step) => (step.input === undefined ? [] : [{ key: "input", kind: "value", value: step.input }]),
  execute: async (step, state, tools) => {
    const method = findMethod(step, tools.services as Record<string, unknown>);
    const input = step.input === undefined ? null : tools.resolve(step.input);
    const attempts = 1 + step.retries;
    const first = state.retryAttempt ?? 1;
    let lastError: unknown;
    for (let attempt = first; attempt <= attempts; attempt++) {
      if (attempt > first) {
        const delayMs = step.retry_delay * step.retry_backoff ** (attempt - 2) * 1000;
        await tools.waitToRetry(delayMs, attempt, lastError);
      }
      if (tools.signal.aborted) throw tools.signal.reason;
      let raw: unknown;
      try {
        raw = await attemptOnce(method, input, step, {
          executionId: state.executionId,
          attempt,
          idempotencyKey: state.scope,
          signal: tools.signal,
        }, tools.setTimer);
      } catch (error) {
        lastError = error;
        if (tools.signal.aborted) break;
        continue;
      }
      const label = step.method ? `${step.service}.${step.method}` : step.service;
      const output = raw === undefined ? null : toJson(raw, `The result of ${label} (step "${step.id}")`);
      if (!step.output) return proceed({ output, attempt });
      const ctx = { ...state.ctx };
      setOwn(ctx, step.output, output);
      return proceed({ output, ctx, changed: [step.output], attempt });
    }
    throw lastError;
  },
};
