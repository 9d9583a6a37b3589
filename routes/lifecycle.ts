import type { OpenAPIHono } from "@hono/zod-openapi";
import { Engine } from "../src/engine/engine.ts";
import { AsyncRunner } from "../src/runners/async.ts";
import { SyncRunner } from "../src/runners/sync.ts";
import { actorOf, logAction } from "./auth.ts";
import type { AppContext, AppEnv } from "./context.ts";
import { requireExecution } from "./executions.ts";
import { continueWhenDue, statusOf } from "./later.ts";
import { api, json, problem, route } from "./route.ts";
import { Accepted, CancelBody, Execution, ExecutionParams, ExecutionResult, pick, RetryBody } from "./schemas.ts";
import { requireWorkflow } from "./workflows.ts";

const cancelExecution = route({
  method: "post",
  path: "/executions/{id}/cancel",
  operationId: "cancelExecution",
  tags: ["executions"],
  summary: "Cancel a pending, running or halted execution: jobs that arrive later do nothing",
  request: { params: ExecutionParams, body: { content: { "application/json": { schema: CancelBody } } } },
  responses: {
    200: json(
      ExecutionResult,
      "The execution, now `cancelled`; when its workflow declares compensations, `compensated` says how they went (or, while a worker holding it undoes them, `running` with `compensating`)",
    ),
    404: problem("Unknown execution"),
    409: problem("The execution has already ended"),
  },
}, { store: true });

const retryExecution = route({
  method: "post",
  path: "/executions/{id}/retry",
  operationId: "retryExecution",
  tags: ["executions"],
  summary: "Run a failed execution again from the step that failed, on the definition it started with",
  request: { params: ExecutionParams, body: { content: { "application/json": { schema: RetryBody } } } },
  responses: {
    200: json(ExecutionResult, "mode sync: the result"),
    202: json(Accepted, "mode async: the execution is reopened and queued (or already done by an inline queue)"),
    404: problem("Unknown execution"),
    409: problem("The execution is not failed"),
  },
}, { store: true });

const recoverExecution = route({
  method: "post",
  path: "/executions/{id}/recover",
  operationId: "recoverExecution",
  tags: ["executions"],
  summary: "Hand a stuck execution (an expired lease, a lost job, a lost approval timer) back to the queue",
  request: { params: ExecutionParams },
  responses: {
    202: json(Accepted, "Queued (or already done by an inline queue)"),
    404: problem("Unknown execution"),
    409: problem("The execution runs under a live lease (the detail gives its expiry), or is not stuck"),
  },
}, { store: true });

const migrateExecution = route({
  method: "post",
  path: "/executions/{id}/migrate",
  operationId: "migrateExecution",
  tags: ["executions"],
  summary: "Move a halted or pending execution onto its workflow's current version",
  request: { params: ExecutionParams },
  responses: {
    200: json(Execution, "The execution, now on the current version"),
    404: problem("Unknown execution, or its workflow is not served by this app"),
    409: problem("The execution is not halted or pending, or stands on steps the current version lacks (named)"),
  },
}, { store: true });

/** The execution's workflow at its current version; the engine runs the execution on its pinned one anyway. */
async function workflowOf(app: AppContext, id: string) {
  return await requireWorkflow(app, (await requireExecution(app, id)).workflowId);
}

/** POST /executions/:id/cancel, /retry, /recover and /migrate: what an operator does (docs/async.md). */
export function lifecycleRoutes(): OpenAPIHono<AppEnv> {
  const routes = api();

  routes.openapi(cancelExecution, async (c) => {
    const app = c.get("app");
    const { id } = c.req.valid("param");
    const { reason } = c.req.valid("json");
    const workflow = await workflowOf(app, id);
    const actor = actorOf(c);
    const result = await new SyncRunner(workflow, app.runnerOptions).cancel(id, { ...(reason === undefined ? {} : { reason }), actor });
    logAction(c, "cancel", { executionId: id, workflowId: workflow.id, reason });
    await continueWhenDue(app, workflow.id, result); // the waiters a freed flow-control slot lets start
    return c.json(pick(ExecutionResult, result), 200);
  });

  routes.openapi(retryExecution, async (c) => {
    const app = c.get("app");
    const { id } = c.req.valid("param");
    const workflow = await workflowOf(app, id);
    const actor = actorOf(c);
    if (c.req.valid("json").mode === "sync") {
      const result = await new SyncRunner(workflow, app.runnerOptions).retry(id, { actor });
      logAction(c, "retry", { executionId: id, workflowId: workflow.id });
      await continueWhenDue(app, workflow.id, result);
      return c.json(pick(ExecutionResult, result), 200);
    }
    const runner = new AsyncRunner(workflow, { ...app.runnerOptions, adapter: app.adapter });
    await runner.retry(id, { actor });
    logAction(c, "retry", { executionId: id, workflowId: workflow.id });
    return c.json({ executionId: id, status: await statusOf(runner, id) }, 202);
  });

  routes.openapi(recoverExecution, async (c) => {
    const app = c.get("app");
    const { id } = c.req.valid("param");
    const workflow = await workflowOf(app, id);
    const runner = new AsyncRunner(workflow, { ...app.runnerOptions, adapter: app.adapter });
    await runner.recover(id, { actor: actorOf(c) });
    logAction(c, "recover", { executionId: id, workflowId: workflow.id });
    return c.json({ executionId: id, status: await statusOf(runner, id) }, 202);
  });

  routes.openapi(migrateExecution, async (c) => {
    const app = c.get("app");
    const { id } = c.req.valid("param");
    const current = await workflowOf(app, id);
    const execution = await new Engine(current, app.runnerOptions).migrate(id, current, { actor: actorOf(c) });
    logAction(c, "migrate", { executionId: id, workflowId: current.id, version: current.version, hash: current.hash });
    return c.json(pick(Execution, execution), 200);
  });

  return routes;
}
