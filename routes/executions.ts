import type { OpenAPIHono } from "@hono/zod-openapi";
import { checkResumeAnswer } from "../src/definition/answer.ts";
import { ValidationError } from "../src/errors.ts";
import { AsyncRunner } from "../src/runners/async.ts";
import { SyncRunner } from "../src/runners/sync.ts";
import type { Execution as StoredExecution } from "../src/types.ts";
import { rawJsonField } from "./body.ts";
import { actorOf, logAction } from "./auth.ts";
import type { AppContext, AppEnv } from "./context.ts";
import { continueWhenDue, statusOf } from "./later.ts";
import { HttpProblem } from "./problems.ts";
import { api, json, problem, route } from "./route.ts";
import {
  Accepted,
  Entry,
  EntryList,
  Execution,
  ExecutionPage,
  ExecutionParams,
  ExecutionResult,
  ExecutionSummary,
  ListQuery,
  pick,
  ResumeBody,
  TraceHeaders,
} from "./schemas.ts";
import { requireWorkflow } from "./workflows.ts";

export async function requireExecution(app: AppContext, id: string): Promise<StoredExecution> {
  const execution = await app.store.load(id);
  if (!execution) throw new HttpProblem(404, `Execution "${id}" not found.`);
  return execution;
}

const listExecutions = route({
  method: "get",
  path: "/executions",
  operationId: "listExecutions",
  tags: ["executions"],
  summary: "Executions, newest first, a page at a time",
  request: { query: ListQuery },
  responses: { 200: json(ExecutionPage, "A page of executions") },
}, { store: true });

const getExecution = route({
  method: "get",
  path: "/executions/{id}",
  operationId: "getExecution",
  tags: ["executions"],
  summary: "An execution's record",
  request: { params: ExecutionParams },
  responses: { 200: json(Execution, "The execution"), 404: problem("Unknown execution") },
}, { store: true });

const listEntries = route({
  method: "get",
  path: "/executions/{id}/entries",
  operationId: "listEntries",
  tags: ["executions"],
  summary: "An execution's history, one entry per executed step",
  request: { params: ExecutionParams },
  responses: { 200: json(EntryList, "The history"), 404: problem("Unknown execution") },
}, { store: true });

const resumeExecution = route({
  method: "post",
  path: "/executions/{id}/resume",
  operationId: "resumeExecution",
  tags: ["executions"],
  summary: "Resume a halted execution with a response or an approval decision",
  request: { params: ExecutionParams, headers: TraceHeaders, body: { content: { "application/json": { schema: ResumeBody } } } },
  responses: {
    200: json(ExecutionResult, "mode sync: the result"),
    202: json(Accepted, "mode async: the resume is queued (or already done by an inline queue)"),
    404: problem("Unknown execution, or its workflow is not served by this app"),
    409: problem("The execution is not halted"),
    422: problem("The resume payload is not acceptable to the engine"),
  },
}, { store: true });

const deleteExecution = route({
  method: "delete",
  path: "/executions/{id}",
  operationId: "deleteExecution",
  tags: ["executions"],
  summary: "Delete an execution, its history and its events",
  request: { params: ExecutionParams },
  responses: { 204: { description: "Deleted" }, 404: problem("Unknown execution") },
}, { store: true });

/** GET /executions, GET/DELETE /executions/:id, GET /executions/:id/entries, POST /executions/:id/resume. */
export function executionRoutes(): OpenAPIHono<AppEnv> {
  const routes = api();

  routes.openapi(listExecutions, async (c) => {
    const { workflowId, status, limit, cursor, ...times } = c.req.valid("query");
    const labels = labelFilters(c.req.queries());
    let page;
    try {
      page = await c.get("app").store.find({
        workflowId,
        status: status as StoredExecution["status"] | undefined,
        limit,
        cursor,
        ...times,
        ...(labels ? { labels } : {}),
      });
    } catch (error) {
      if (!(error instanceof ValidationError)) throw error;
      // The store checks the filters (its issues name them) and the (opaque) cursor (no issue: a bad one is the
      // client's mistake, not an input rule).
      const errors = error.issues.length
        ? error.issues.map(({ path, message }) => ({ path, message }))
        : [{ path: "cursor", message: "is not a cursor of this API" }];
      throw new HttpProblem(400, error.message, { errors });
    }
    return c.json({
      executions: page.executions.map((execution) => pick(ExecutionSummary, execution)),
      ...(page.cursor ? { cursor: page.cursor } : {}),
    }, 200);
  });

  routes.openapi(getExecution, async (c) => {
    const execution = await requireExecution(c.get("app"), c.req.valid("param").id);
    return c.json(pick(Execution, execution), 200);
  });

  routes.openapi(listEntries, async (c) => {
    const app = c.get("app");
    const { id } = c.req.valid("param");
    await requireExecution(app, id);
    const entries = await app.store.entries(id);
    return c.json({ entries: entries.map((entry) => pick(Entry, entry)) }, 200);
  });

  routes.openapi(resumeExecution, async (c) => {
    const app = c.get("app");
    const { id } = c.req.valid("param");
    const { mode } = c.req.valid("json");
    // Checked as sent (a zod copy would hide an own `__proto__` key): a refused answer changes and queues nothing.
    const answer = checkResumeAnswer({ response: await rawJsonField(c, "response"), approved: await rawJsonField(c, "approved") });
    const execution = await requireExecution(app, id);
    const workflow = await requireWorkflow(app, execution.workflowId);
    const actor = actorOf(c);
    // The resume request's W3C trace context: the segment that applies the answer links to it (docs/observability.md).
    const traceparent = c.req.header("traceparent");
    logAction(c, "resume", {
      executionId: id,
      workflowId: workflow.id,
      ...(answer.approved !== undefined ? { approved: answer.approved } : {}),
    });
    if (mode === "sync") {
      const result = await new SyncRunner(workflow, { ...app.runnerOptions, traceparent }).resume(id, { ...answer, actor });
      await continueWhenDue(app, workflow.id, result);
      return c.json(pick(ExecutionResult, result), 200);
    }
    const runner = new AsyncRunner(workflow, { ...app.runnerOptions, adapter: app.adapter });
    await runner.resume(id, { ...answer, actor, traceparent });
    return c.json({ executionId: id, status: await statusOf(runner, id) }, 202);
  });

  routes.openapi(deleteExecution, async (c) => {
    const { id } = c.req.valid("param");
    if (!(await c.get("app").store.delete(id))) throw new HttpProblem(404, `Execution "${id}" not found.`);
    return c.body(null, 204);
  });

  return routes;
}

/** The label filters of a query: `label.<name>=<value>` parameters, name → value (the first one of a name). */
function labelFilters(query: Record<string, string[]>): Record<string, string> | undefined {
  const labels: Record<string, string> = {};
  for (const [key, values] of Object.entries(query)) {
    if (key.startsWith("label.") && values[0] !== undefined) {
      Object.defineProperty(labels, key.slice("label.".length), { value: values[0], enumerable: true, writable: true, configurable: true });
    }
  }
  return Object.keys(labels).length ? labels : undefined;
}
