import { ValidationError } from "../errors.ts";
import type { Json } from "../types.ts";
import { MAX_INPUT_DEPTH, MAX_INPUT_VALUES } from "./inputs.ts";
import { formatPath, type RawIssue } from "./issues.ts";
import { copyPlainJson } from "./plain.ts";

/** The answer to a halt: `response` (any JSON) goes to `ctx.response`, `approved` (a boolean) to `ctx.approved`. */
export interface ResumeAnswer {
  response?: Json;
  approved?: boolean;
}

/**
 * Checks a resume answer before it is accepted or enqueued, the same way on every path (sync and async routes,
 * `AsyncRunner.resume`, the job performer, `Engine.resume`): `approved` must be a boolean, `response` plain JSON
 * within the input's depth and size limits, with no `__proto__`, `constructor` or `prototype` key at any depth.
 * Returns a fresh copy; every problem is reported at once in a ValidationError.
 */
export function checkResumeAnswer(answer: { response?: unknown; approved?: unknown }): ResumeAnswer {
  const issues: RawIssue[] = [];
  const out: ResumeAnswer = {};
  if (answer.approved !== undefined) {
    if (typeof answer.approved === "boolean") out.approved = answer.approved;
    else issues.push({ path: ["approved"], message: "must be a boolean" });
  }
  if (answer.response !== undefined) {
    const copied = copyPlainJson(answer.response, ["response"], {
      maxDepth: MAX_INPUT_DEPTH,
      maxValues: MAX_INPUT_VALUES,
      what: "response",
    });
    issues.push(...copied.issues);
    out.response = copied.value;
  }
  if (issues.length) {
    throw new ValidationError("Invalid resume answer", issues.map((issue) => ({ path: formatPath(issue.path), message: issue.message })));
  }
  return out;
}
