/**
 * The id rules, in one place: workflow ids (definitions, jobs, routes) and execution ids (stores, engine,
 * jobs, routes). Both are safe in Redis key names, QStash deduplication ids and URLs.
 */
import { z } from "zod";
import { ValidationError } from "./errors.ts";

/** Workflow ids: 1 to 100 letters, digits, `_` or `-`. */
const WORKFLOW_ID_PATTERN = /^[A-Za-z0-9_-]{1,100}$/;
const WORKFLOW_ID_RULE = "must be 1 to 100 letters, digits, _ or -";

/** Execution ids: 1 to 200 letters, digits and `_ - . : [ ]` (child and loop ids use `:` and `[i]`). */
export const EXECUTION_ID_PATTERN = /^[A-Za-z0-9_\-.:\[\]]{1,200}$/;
export const EXECUTION_ID_RULE = "must be 1 to 200 letters, digits and _ - . : [ ]";

export const workflowIdSchema: z.ZodString = z.string().regex(WORKFLOW_ID_PATTERN, WORKFLOW_ID_RULE);
export const executionIdSchema: z.ZodString = z.string().regex(EXECUTION_ID_PATTERN, EXECUTION_ID_RULE);

/** Throws a ValidationError naming `id` (path `executionId`) unless it is an execution id. */
export function assertExecutionId(id: unknown): asserts id is string {
  if (typeof id !== "string" || !EXECUTION_ID_PATTERN.test(id)) {
    throw new ValidationError("Invalid execution id", [{
      path: "executionId",
      message: `${JSON.stringify(id)} ${EXECUTION_ID_RULE}`,
    }]);
  }
}
