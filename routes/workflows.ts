import { Hono } from "hono";
import { workflowDiagram } from "../src/diagram/mermaid.ts";
import type { WorkflowDefinition } from "../src/definition/workflow.ts";
import { AsyncRunner } from "../src/runners/async.ts";
import { SyncRunner } from "../src/runners/sync.ts";
import { jsonBody } from "./body.ts";
import type { AppContext, AppEnv } from "./context.ts";
import { HttpProblem } from "./problems.ts";
import { ExecutionResult, pick, RunBody, WorkflowDetail, WorkflowParams, WorkflowSummary } from "./schemas.ts";
import { validate } from "./validate.ts";

export function requireWorkflow(app: AppContext, id: string): WorkflowDefinition {
  const workflow = app.workflow(id);
  if (!workflow) throw new HttpProblem(404, `Workflow "${id}" is not served by this app.`);
  return workflow;
}

function summary(workflow: WorkflowDefinition) {
  return pick(WorkflowSummary, { ...workflow, steps: workflow.steps.length });
}

/** GET /workflows, GET /workflows/:id, POST /workflows/:id/executions. */
export function workflowRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();

  routes.get("/workflows", (c) => c.json({ workflows: c.get("app").listWorkflows().map(summary) }));

  routes.get("/workflows/:id", validate("param", WorkflowParams), (c) => {
    const workflow = requireWorkflow(c.get("app"), c.req.valid("param").id);
    return c.json(pick(WorkflowDetail, { ...workflow, diagram: workflowDiagram(workflow) }));
  });

  routes.post("/workflows/:id/executions", validate("param", WorkflowParams), jsonBody(), validate("json", RunBody), async (c) => {
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
