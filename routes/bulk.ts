/**
 * Bulk operator actions: cancel or retry every execution a filter selects (the list's filters: workflow, status,
 * labels, created/updated ranges), at most `max` of them, each answered on its own. `dryRun` lists what would be
 * acted on, so a client (the dashboard) can show it and ask for confirmation first.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { AsyncRunner } from "../src/runners/async.ts";
import { SyncRunner } from "../src/runners/sync.ts";
import type { FindQuery } from "../src/store/store.ts";
import { type ExecutionHead, type ExecutionStatus, isTerminal } from "../src/types.ts";
import { actorOf, logAction } from "./auth.ts";
import type { AppContext, AppEnv } from "./context.ts";
import { statusOf } from "./later.ts";
import { errorToResponse, HttpProblem } from "./problems.ts";
import { api, json, route } from "./route.ts";
import { ListQuery } from "./schemas.ts";
import { requireWorkflow } from "./workflows.ts";

/** Most executions one bulk request acts on. */
const MAX_BULK = 100;
/** Rows read while looking for executions to act on, at most (a filter that matches few of many stops here). */
const MAX_SCANNED = 2000;

const BulkFilter = ListQuery.pick({
  workflowId: true,
  status: true,
  createdFrom: true,
  createdTo: true,
  updatedFrom: true,
  updatedTo: true,
})
  .extend({ labels: z.record(z.string(), z.string()).optional().describe("Only executions carrying every one of these labels") })
  .strict()
  .describe("Which executions: the filters of GET /executions");

export const BulkBody = z.strictObject({
  filter: BulkFilter,
  max: z.number().int().min(1).max(MAX_BULK).describe(`Act on at most this many (1 to ${MAX_BULK}), newest first`),
  dryRun: z.boolean().optional().describe("List what would be acted on, and do nothing"),
  reason: z.string().max(500).optional().describe("cancel: why (kept as `Cancelled: <reason>`)"),
}).openapi("BulkBody");

const BulkResult = z.object({
  executionId: z.string(),
  workflowId: z.string(),
  ok: z.boolean(),
  status: z.string().optional().describe("ok: the status after the action (or now, with dryRun)"),
  error: z.object({ status: z.number().int(), detail: z.string() }).optional().describe(
    "not ok: the problem, as the single route would answer it",
  ),
});

export const BulkAnswer = z.object({
  action: z.enum(["cancel", "retry"]),
  dryRun: z.boolean(),
  results: z.array(BulkResult),
  more: z.boolean().describe("More executions match than were acted on (run it again, or raise `max`)"),
}).openapi("BulkAnswer");

function bulkRoute(action: "cancel" | "retry") {
  return route({
    method: "post",
    path: `/executions/${action}`,
    operationId: `${action}Executions`,
    tags: ["executions"],
    summary: action === "cancel"
      ? "Cancel every pending, running or halted execution a filter selects (bounded, each answered on its own)"
      : "Retry every failed execution a filter selects (bounded, each answered on its own; async)",
    request: { body: { content: { "application/json": { schema: BulkBody } } } },
    responses: { 200: json(BulkAnswer, "One result per execution selected") },
  }, { store: true });
}

/** Whether the action applies to an execution in this status. */
const APPLIES: Record<"cancel" | "retry", (status: ExecutionStatus) => boolean> = {
  cancel: (status) => !isTerminal(status),
  retry: (status) => status === "failed",
};

/** The newest executions the filter selects that the action applies to: at most `max`, and whether there are more. */
async function select(app: AppContext, query: FindQuery, max: number, applies: (status: ExecutionStatus) => boolean) {
  const found: ExecutionHead[] = [];
  let cursor: string | undefined;
  let scanned = 0;
  do {
    const page = await app.store.find({ ...query, limit: 100, ...(cursor ? { cursor } : {}) });
    scanned += page.executions.length;
    for (const head of page.executions) {
      if (!applies(head.status)) continue;
      if (found.length === max) return { found, more: true };
      found.push(head);
    }
    cursor = page.cursor;
  } while (cursor && scanned < MAX_SCANNED);
  return { found, more: cursor !== undefined };
}

async function perform(
  app: AppContext,
  action: "cancel" | "retry",
  head: ExecutionHead,
  reason: string | undefined,
  actor: string | undefined,
) {
  const workflow = await requireWorkflow(app, head.workflowId);
  if (action === "cancel") {
    return (await new SyncRunner(workflow, app.runnerOptions).cancel(head.id, { ...(reason === undefined ? {} : { reason }), actor }))
      .status;
  }
  const runner = new AsyncRunner(workflow, { ...app.runnerOptions, adapter: app.adapter });
  await runner.retry(head.id, { actor });
  return await statusOf(runner, head.id);
}

/** POST /executions/cancel and POST /executions/retry. */
export function bulkRoutes(): OpenAPIHono<AppEnv> {
  const routes = api();
  for (const action of ["cancel", "retry"] as const) {
    routes.openapi(bulkRoute(action), async (c) => {
      const app = c.get("app");
      const { filter, max, dryRun = false, reason } = c.req.valid("json");
      const { status, ...rest } = filter;
      if (status !== undefined && !APPLIES[action](status as ExecutionStatus)) {
        throw new HttpProblem(422, `No ${status} execution can be ${action === "cancel" ? "cancelled" : "retried"}.`, {
          errors: [{ path: "filter.status", message: action === "cancel" ? "use pending, running or halted" : "use failed" }],
        });
      }
      const query: FindQuery = {
        ...rest,
        ...(status ? { status: status as ExecutionStatus } : action === "retry" ? { status: "failed" } : {}),
      };
      const { found, more } = await select(app, query, max, APPLIES[action]);
      const results = [];
      for (const head of found) {
        const base = { executionId: head.id, workflowId: head.workflowId };
        if (dryRun) {
          results.push({ ...base, ok: true, status: head.status });
          continue;
        }
        try {
          results.push({ ...base, ok: true, status: await perform(app, action, head, reason, actorOf(c)) });
        } catch (error) {
          const problem = errorToResponse(error, c);
          const { detail } = await problem.json() as { detail: string };
          results.push({ ...base, ok: false, error: { status: problem.status, detail } });
        }
      }
      if (!dryRun) {
        logAction(c, `bulk ${action}`, {
          filter,
          ok: results.filter((r) => r.ok).map((r) => r.executionId),
          failed: results.filter((r) => !r.ok).map((r) => r.executionId),
        });
      }
      return c.json({ action, dryRun, results, more }, 200);
    });
  }
  return routes;
}
