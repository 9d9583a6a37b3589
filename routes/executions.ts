import { Hono } from "hono";
import { ValidationError } from "../src/errors.ts";
import { AsyncRunner } from "../src/runners/async.ts";
import { SyncRunner } from "../src/runners/sync.ts";
import type { Execution as StoredExecution, Json } from "../src/types.ts";
import { jsonBody } from "./body.ts";
import type { AppContext, AppEnv } from "./context.ts";
import { HttpProblem } from "./problems.ts";
import {
  Entry,
  Execution,
  ExecutionParams,
  ExecutionResult,
  ExecutionSummary,
  ListQuery,
  pick,
  ResumeBody,
} from "./schemas.ts";
import { validate } from "./validate.ts";
import { requireWorkflow } from "./workflows.ts";

async function requireExecution(app: AppContext, id: string): Promise<StoredExecution> {
  const execution = await app.store.load(id);
  if (!execution) throw new HttpProblem(404, `Execution "${id}" not found.`);
  return execution;
}

/** GET /executions, GET/DELETE /executions/:id, GET /executions/:id/entries, POST /executions/:id/resume. */
export function executionRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.get("/executions", validate("query", ListQuery), async (c) => {
    const { workflowId, status, limit, cursor } = c.req.valid("query");
    let page;
    try {
      page = await c.get("app").store.find({ workflowId, status: status as StoredExecution["status"] | undefined, limit, cursor });
    } catch (error) {
      // The store checks the (opaque) cursor: a bad one is the client's mistake, not an input rule.
      if (error instanceof ValidationError) throw new HttpProblem(400, error.message, { errors: [{ path: "cursor", message: "is not a cursor of this API" }] });
      throw error;
    }
    return c.json({
      executions: page.executions.map((execution) => pick(ExecutionSummary, execution)),
      ...(page.cursor ? { cursor: page.cursor } : {}),
    });
  });

  routes.get("/executions/:id", validate("param", ExecutionParams), async (c) => {
    const execution = await requireExecution(c.get("app"), c.req.valid("param").id);
    return c.json(pick(Execution, execution));
  });

  routes.get("/executions/:id/entries", validate("param", ExecutionParams), async (c) => {
    const app = c.get("app");
    const { id } = c.req.valid("param");
    await requireExecution(app, id);
    const entries = await app.store.entries(id);
    return c.json({ entries: entries.map((entry) => pick(Entry, entry)) });
  });

  routes.post("/executions/:id/resume", validate("param", ExecutionParams), jsonBody(), validate("json", ResumeBody), async (c) => {
    const app = c.get("app");
    const { id } = c.req.valid("param");
    const { response, approved, mode } = c.req.valid("json");
    const execution = await requireExecution(app, id);
    const workflow = requireWorkflow(app, execution.workflowId);
    const answer = { response: response as Json | undefined, approved };
    if (mode === "sync") {
      const result = await new SyncRunner(workflow, app.runnerOptions).resume(id, answer);
      return c.json(pick(ExecutionResult, result), 200);
    }
    const runner = new AsyncRunner(workflow, { ...app.runnerOptions, adapter: app.adapter });
    await runner.resume(id, answer);
    const status = await runner.status(id);
    return c.json({ executionId: id, status: status === "unknown" ? "pending" : status }, 202);
  });

  routes.delete("/executions/:id", validate("param", ExecutionParams), async (c) => {
    const { id } = c.req.valid("param");
    if (!(await c.get("app").store.delete(id))) throw new HttpProblem(404, `Execution "${id}" not found.`);
    return c.body(null, 204);
  });

  return routes;
}
