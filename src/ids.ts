/**
 * The id rules, in one place: workflow ids (definitions, jobs, routes) and execution ids (stores, engine,
 * jobs, routes). Both are safe in Redis key names, QStash deduplication ids and URLs.
 */
import { z } from "zod";

/** Workflow ids: 1 to 100 letters, digits, `_` or `-`. */
const WORKFLOW_ID_PATTERN = /^[A-Za-z0-9_-]{1,100}$/;
const WORKFLOW_ID_RULE = "must be 1 to 100 letters, digits, _ or -";

/** Execution ids: 1 to 200 letters, digits and `_ - . : [ ]` (child and loop ids use `:` and `[i]`). */
export const EXECUTION_ID_PATTERN = /^[A-Za-z0-9_\-.:\[\]]{1,200}$/;
export const EXECUTION_ID_RULE = "must be 1 to 200 letters, digits and _ - . : [ ]";

export const workflowIdSchema: z.ZodString = z.string().regex(WORKFLOW_ID_PATTERN, WORKFLOW_ID_RULE);
export const executionIdSchema: z.ZodString = z.string().regex(EXECUTION_ID_PATTERN, EXECUTION_ID_RULE);
