import { z } from "zod";
import { ExecutionError } from "../errors.ts";
import type { Json, JsonObject } from "../types.ts";
import { halt, proceed, stepSchema, type StepType, target, wakeAtOf } from "./step.ts";

const schema = stepSchema("approval", {
  prompt: z.string().min(1),
  context: z.unknown().optional(),
  approvers: z.array(z.string()).optional(),
  on_reject: target.optional(),
  timeout: z.number().positive().optional(),
  on_timeout: target.optional(),
});

function withoutDecision(ctx: Readonly<JsonObject>): JsonObject {
  const { approved: _consumed, ...rest } = ctx;
  return rest;
}

/**
 * First entry halts with `{ type: "approval", prompt, context, approvers, timeout, requested_at, expires_at }`
 * and resumes into itself; with a timeout the halt's wake time is `expires_at`. On resume: past the timeout → `on_timeout` (even when approved), `approved: true`
 * → `next`, `false` → `on_reject` or `ExecutionError("Rejected")`, no decision → halts again, unchanged.
 * The decision is consumed (removed from ctx).
 */
/** The keys an approval changes: it consumes the decision. */
const DECISION = ["approved"];

export const approval: StepType<typeof schema._output> = {
  type: "approval",
  schema,
  topLevelOnly: true,
  targets: (step) => [
    ...(step.on_reject ? [{ key: "on_reject", target: step.on_reject }] : []),
    ...(step.on_timeout ? [{ key: "on_timeout", target: step.on_timeout }] : []),
  ],
  references: (step) => [
    { key: "prompt", kind: "value", value: step.prompt },
    ...(step.context === undefined ? [] : [{ key: "context", kind: "value" as const, value: step.context }]),
  ],
  execute: (step, state, tools) => {
    const previous = state.resumed?.haltData;
    if (previous && previous.type === "approval") {
      const ctx = withoutDecision(state.ctx);
      const decision = state.ctx.approved;
      const expiresAt = typeof previous.expires_at === "string" ? Date.parse(previous.expires_at) : NaN;
      if (!Number.isNaN(expiresAt) && tools.now().getTime() >= expiresAt) {
        if (!step.on_timeout) throw new ExecutionError(`Approval "${step.id}" timed out`, { stepId: step.id });
        return proceed({ next: step.on_timeout, ctx, changed: DECISION, output: { approved: null, timed_out: true } });
      }
      if (decision === true) return proceed({ ctx, changed: DECISION, output: { approved: true } });
      if (decision === false) {
        if (!step.on_reject) throw new ExecutionError("Rejected", { stepId: step.id });
        return proceed({ next: step.on_reject, ctx, changed: DECISION, output: { approved: false } });
      }
      return halt({
        data: previous,
        prompt: String(previous.prompt ?? step.prompt),
        resumeStep: step.id,
        ...wakeAtOf(previous),
        ctx,
        changed: DECISION,
      });
    }
    const prompt = tools.resolve(step.prompt);
    const requestedAt = tools.now();
    const data: JsonObject = {
      type: "approval",
      prompt: typeof prompt === "string" ? prompt : JSON.stringify(prompt),
      context: step.context === undefined ? null : tools.resolve(step.context),
      approvers: (step.approvers ?? []) as Json,
      timeout: step.timeout ?? null,
      requested_at: requestedAt.toISOString(),
      expires_at: step.timeout ? new Date(requestedAt.getTime() + step.timeout * 1000).toISOString() : null,
    };
    return halt({
      data,
      prompt: data.prompt as string,
      resumeStep: step.id,
      ...wakeAtOf(data),
      ctx: withoutDecision(state.ctx),
      changed: DECISION,
    });
  },
};
