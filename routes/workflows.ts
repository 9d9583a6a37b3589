import type { OpenAPIHono } from "@hono/zod-openapi";
import { workflowDiagram } from "../src/diagram/mermaid.ts";
import type { WorkflowDefinition } from "../src/definition/workflow.ts";
import { AsyncRunner } from "../src/runners/async.ts";
import { SyncRunner } from "../src/runners/sync.ts";
import type { AppContext, AppEnv } from "./context.ts";
import { HttpProblem } from "./problems.ts";
import { api, json, problem, route } from "./route.ts";
import { Accepted, ExecutionResult, pick, RunBody, WorkflowDetail, WorkflowList, WorkflowParams, WorkflowSummary } from "./schemas.ts";

export function requireWorkflow(app: AppContext, id: string): WorkflowDefinition {
  const workflow = app.workflow(id);
  if (!workflow) throw new HttpProblem(404, `Workflow "${id}" is not served by this app.`);
  return workflow;
}

function summary(workflow: WorkflowDefinition) {
  return pick(WorkflowSummary, { ...workflow, steps: workflow.steps.length });
}

const listWorkflows = route({
  method: "get", path: "/workflows", operationId: "listWorkflows", tags: ["workflows"],
  summary: "The workflows this app serves",
  responses: { 200: json(WorkflowList, "Workflows") },
});

const getWorkflow = route({
  method: "get", path: "/workflows/{id}", operationId: "getWorkflow", tags: ["workflows"],
  summary: "A workflow's definition, hash and Mermaid diagram",
  request: { params: WorkflowParams },
  responses: { 200: json(WorkflowDetail, "The workflow"), 404: problem("Unknown workflow") },
});

const startExecution = route({
  method: "post", path: "/workflows/{id}/executions", operationId: "startExecution", tags: ["executions"],
  summary: "Start an execution (async by default)",
  request: { params: WorkflowParams, body: { content: { "application/json": { schema: RunBody } } } },
  responses: {
    200: json(ExecutionResult, "mode sync: the result (completed, halted or failed)"),
    202: json(Accepted, "mode async: the execution is queued (or already done by an inline queue)"),
    404: problem("Unknown workflow"),
    409: problem("The execution id belongs to another workflow"),
    422: problem("The input breaks the workflow's input rules; `errors` names each input"),
  },
}, { store: true });

/** GET /workflows, GET /workflows/:id, POST /workflows/:id/executions. */
export function workflowRoutes(): OpenAPIHono<AppEnv> {
  const routes = api();

  routes.openapi(listWorkflows, (c) => c.json({ workflows: c.get("app").listWorkflows().map(summary) }, 200));

  routes.openapi(getWorkflow, (c) => {
    const workflow = requireWorkflow(c.get("app"), c.req.valid("param").id);
    return c.json(pick(WorkflowDetail, { ...workflow, diagram: workflowDiagram(workflow) }), 200);
  });

  routes.openapi(startExecution, async (c) => {
    const app = c.get("app");
    const workflow = requireWorkflow(app, c.req.valid("param").id);
    const { input = {}, executionId, mode } = c.req.valid("json");
    if (executionId !== undefined) {
      // Starting an existing id is idempotent, but only for the same workflow.
      const existing = await app.store.load(executionId);
      if (existing && existing.workflowId !== workflow.id) {
        throw new HttpProblem(409, `Execution "${executionId}" already exists and belongs to workflow "${existing.workflowId}".`);
      }
    }
    if (mode === "sync") {
      const result = await new SyncRunner(workflow, app.runnerOptions).run(input, { executionId });
      return c.json(pick(ExecutionResult, result), 200);
    }
    const runner = new AsyncRunner(workflow, { ...app.runnerOptions, adapter: app.adapter });
    const id = await runner.run(input, { executionId });
    const status = await runner.status(id);
    return c.json({ executionId: id, status: status === "unknown" ? "pending" : status }, 202);
  });

  return routes;
}
