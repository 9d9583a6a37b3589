import { z } from "zod";
import { ExecutionError } from "../errors.ts";
import { eventMatchSchema, eventNameSchema } from "../expressions/events.ts";
import { isPlainObject, setOwn } from "../json.ts";
import type { Json, JsonObject } from "../types.ts";
import { halt, proceed, stepSchema, type StepType, target, wakeAtOf } from "./step.ts";

const schema = stepSchema("wait_for_event", {
  event: z.union([eventNameSchema, z.array(eventNameSchema).min(1).max(20)]),
  match: eventMatchSchema.optional(),
  timeout: z.number().positive().optional(),
  on_timeout: target.optional(),
  output: z.string().min(1).optional(),
});

type WaitForEventStep = typeof schema._output;

/** The event a resume brings (`ctx.response`): `{ name, payload, id, received_at }` with one of the awaited names. */
function receivedEvent(response: Json | undefined, names: Json | undefined): JsonObject | null {
  if (!isPlainObject(response) || !Array.isArray(names)) return null;
  const { name, id, received_at } = response;
  if (typeof name !== "string" || !names.includes(name) || typeof id !== "string" || typeof received_at !== "string") return null;
  return { name, payload: response.payload ?? null, id, received_at };
}

function withoutResponse(ctx: Readonly<JsonObject>): JsonObject {
  const { response: _consumed, ...rest } = ctx;
  return rest;
}

/**
 * Halts with `{ type: "event", events, match, timeout, requested_at, expires_at, wait_id }` until one of the events
 * arrives (the engine and the store deliver it as the resume's response), then puts `{ name, payload, id,
 * received_at }` into `ctx[output]` and goes on at `next`. Resumed after `timeout` without an event → `on_timeout`,
 * or an ExecutionError. A resume that brings no event halts again, unchanged.
 */
export const waitForEvent: StepType<WaitForEventStep> = {
  type: "wait_for_event",
  schema,
  topLevelOnly: true,
  targets: (step) => (step.on_timeout ? [{ key: "on_timeout", target: step.on_timeout }] : []),
  outputs: (step) => (step.output ? [step.output] : []),
  references: (step) => (step.match?.value === undefined ? [] : [{ key: "match.value", kind: "value", value: step.match.value }]),
  execute: (step, state, tools) => {
    const previous = state.resumed?.haltData;
    if (previous && previous.type === "event") {
      const ctx = withoutResponse(state.ctx);
      const event = receivedEvent(state.ctx.response, previous.events);
      if (event) {
        if (step.output) setOwn(ctx, step.output, event);
        return proceed({ ctx, changed: ["response", ...(step.output ? [step.output] : [])], output: event });
      }
      const expiresAt = typeof previous.expires_at === "string" ? Date.parse(previous.expires_at) : NaN;
      if (!Number.isNaN(expiresAt) && tools.now().getTime() >= expiresAt) {
        if (!step.on_timeout) {
          throw new ExecutionError(
            `wait_for_event "${step.id}" timed out after ${previous.timeout}s waiting for ${(previous.events as string[]).join(" or ")}`,
            { stepId: step.id },
          );
        }
        return proceed({ next: step.on_timeout, ctx, changed: ["response"], output: { timed_out: true } });
      }
      return halt({
        data: previous,
        resumeStep: step.id,
        ...wakeAtOf(previous),
        ctx,
        changed: ["response"],
      });
    }
    const requestedAt = tools.now();
    const events = typeof step.event === "string" ? [step.event] : [...new Set(step.event)];
    const match = step.match ? { field: step.match.field, op: step.match.op, value: tools.resolve(step.match.value ?? null) } : null;
    const data: JsonObject = {
      type: "event",
      events,
      match,
      timeout: step.timeout ?? null,
      requested_at: requestedAt.toISOString(),
      expires_at: step.timeout ? new Date(requestedAt.getTime() + step.timeout * 1000).toISOString() : null,
      wait_id: `${step.id}@${requestedAt.getTime()}`,
    };
    return halt({ data, resumeStep: step.id, ...wakeAtOf(data) });
  },
};
