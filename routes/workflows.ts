import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { loadWorkflow } from "../src/definition/load.ts";
import { workflowDiagram } from "../src/diagram/mermaid.ts";
import { VersionTakenError } from "../src/engine/definitions.ts";
import type { WorkflowDefinition } from "../src/definition/workflow.ts";
import { ValidationError } from "../src/errors.ts";
import { flowStoreOf, isGated } from "../src/engine/flow.ts";
import { AsyncRunner } from "../src/runners/async.ts";
import { QStashAdapter } from "../src/runners/adapters/qstash.ts";
import { SyncRunner } from "../src/runners/sync.ts";
import { rawJsonField } from "./body.ts";
import { missingServices } from "./catalog.ts";
import { actorOf, logAction } from "./auth.ts";
import { type AppContext, type AppEnv, appNow } from "./context.ts";
import { continueWhenDue, statusOf } from "./later.ts";
import { nextStarts } from "../src/runners/triggers.ts";
import { HttpProblem } from "./problems.ts";
import { api, json, problem, route } from "./route.ts";
import {
  Accepted,
  ExecutionResult,
  pick,
  RunBody,
  StoredWorkflow,
  TraceHeaders,
  WorkflowDetail,
  WorkflowFlow,
  WorkflowList,
  WorkflowParams,
  WorkflowSummary,
  WorkflowVersionList,
} from "./schemas.ts";

/** The workflow's current definition (the store's current version, else the app's own); 404 without one. */
export async function requireWorkflow(app: AppContext, id: string): Promise<WorkflowDefinition> {
  const workflow = await app.workflow(id);
  if (!workflow) throw new HttpProblem(404, `Workflow "${id}" is not served by this app.`);
  return workflow;
}

function summary(workflow: WorkflowDefinition) {
  return pick(WorkflowSummary, { ...workflow, steps: workflow.steps.length });
}

const listWorkflows = route({
  method: "get",
  path: "/workflows",
  operationId: "listWorkflows",
  tags: ["workflows"],
  summary: "The workflows this app serves (given in code or stored by PUT), each at its current version",
  responses: { 200: json(WorkflowList, "Workflows") },
}, { store: true });

const getWorkflow = route({
  method: "get",
  path: "/workflows/{id}",
  operationId: "getWorkflow",
  tags: ["workflows"],
  summary: "A workflow's current definition, hash and Mermaid diagram",
  request: { params: WorkflowParams },
  responses: { 200: json(WorkflowDetail, "The workflow"), 404: problem("Unknown workflow") },
}, { store: true });

const definitionText = z.string().describe("The workflow definition (the format of docs/workflow-format.md)");

const putWorkflow = route({
  method: "put",
  path: "/workflows/{id}",
  operationId: "putWorkflow",
  tags: ["workflows"],
  summary: "Store a definition and make it the workflow's current version: new runs use it, running ones keep theirs",
  request: {
    params: WorkflowParams,
    body: {
      required: true,
      content: {
        "application/yaml": { schema: definitionText },
        "text/yaml": { schema: definitionText },
        "application/json": { schema: z.record(z.string(), z.unknown()).describe("The workflow definition as JSON") },
      },
    },
  },
  responses: {
    200: json(StoredWorkflow, "That definition already is the current version"),
    201: json(StoredWorkflow, "Stored as the new current version"),
    409: problem("The definition's `id` is not the one in the path, or its `version` is stored with another definition"),
    422: problem("The definition is invalid (`errors` lists every problem, with line and column), or calls services this app lacks"),
  },
}, { store: true });

const listVersions = route({
  method: "get",
  path: "/workflows/{id}/versions",
  operationId: "listWorkflowVersions",
  tags: ["workflows"],
  summary: "Every stored version of a workflow, with how many executions are halted or pending on each",
  request: { params: WorkflowParams },
  responses: { 200: json(WorkflowVersionList, "The versions"), 404: problem("No version of this workflow is stored") },
}, { store: true });

const getFlow = route({
  method: "get",
  path: "/workflows/{id}/flow",
  operationId: "getWorkflowFlow",
  tags: ["workflows"],
  summary: "Flow control of a workflow: its limits, and every key in use with holders and queue lengths",
  request: { params: WorkflowParams },
  responses: { 200: json(WorkflowFlow, "The limits and their usage"), 404: problem("Unknown workflow") },
}, { store: true });

const startExecution = route({
  method: "post",
  path: "/workflows/{id}/executions",
  operationId: "startExecution",
  tags: ["executions"],
  summary: "Start an execution on the workflow's current version (async by default)",
  request: { params: WorkflowParams, headers: TraceHeaders, body: { content: { "application/json": { schema: RunBody } } } },
  responses: {
    200: json(
      ExecutionResult,
      "mode sync: the result (completed, halted, failed, or pending until `notBefore` with a continuation queued)",
    ),
    202: json(Accepted, "mode async: the execution is queued (or already done by an inline queue)"),
    404: problem("Unknown workflow"),
    409: problem("The execution id exists for another workflow or with another input"),
    422: problem("The input breaks the workflow's input rules; `errors` names each input"),
  },
}, { store: true });

/** Reads the body as text before any validator parses it: the stored source is exactly what was sent. */
const keepSource: MiddlewareHandler<AppEnv> = async (c, next) => {
  await c.req.text();
  await next();
};

/** GET /workflows, GET/PUT /workflows/:id, GET /workflows/:id/versions, POST /workflows/:id/executions. */
export function workflowRoutes(): OpenAPIHono<AppEnv> {
  const routes = api();

  routes.openapi(listWorkflows, async (c) => c.json({ workflows: (await c.get("app").listWorkflows()).map(summary) }, 200));

  routes.openapi(getWorkflow, async (c) => {
    const app = c.get("app");
    const workflow = await requireWorkflow(app, c.req.valid("param").id);
    const now = appNow(app);
    return c.json(pick(WorkflowDetail, { ...workflow, diagram: workflowDiagram(workflow), nextStarts: nextStarts(workflow, now) }), 200);
  });

  routes.openapi({ ...putWorkflow, middleware: [keepSource] }, async (c) => {
    const app = c.get("app");
    const { id } = c.req.valid("param");
    const source = await c.req.text();
    // Read and checked once: loadWorkflow's ValidationError holds the issues validateWorkflow would list.
    const workflow = loadOrProblem(source);
    if (workflow.id !== id) throw new HttpProblem(409, `The definition's id is "${workflow.id}", not "${id}" as in the path.`);
    const missing = missingServices(workflow, app.services);
    if (missing.length) {
      throw new HttpProblem(422, `Workflow "${id}" calls services this app does not have: ${missing.join(", ")}`, {
        errors: missing.map((name) => ({ path: "steps", message: `service "${name}" is not provided by this app` })),
      });
    }
    const { created } = await app.catalog.put(workflow, source, actorOf(c)).catch((error) => {
      if (error instanceof VersionTakenError) throw new HttpProblem(409, error.message, { errors: [error.issue] });
      throw error;
    });
    if (created) logAction(c, "put workflow", { workflowId: workflow.id, version: workflow.version, hash: workflow.hash });
    return c.json({ id, version: workflow.version, hash: workflow.hash }, created ? 201 : 200);
  });

  routes.openapi(listVersions, async (c) => {
    const { id } = c.req.valid("param");
    const versions = await c.get("app").store.definitionVersions(id);
    if (!versions.length) throw new HttpProblem(404, `No version of workflow "${id}" is stored.`);
    return c.json({
      versions: versions.map(({ version, hash, storedAt, storedBy, current, halted, pending }) => ({
        version,
        hash,
        storedAt,
        ...(storedBy ? { storedBy } : {}),
        current,
        halted,
        pending,
      })),
    }, 200);
  });

  routes.openapi(getFlow, async (c) => {
    const app = c.get("app");
    const workflow = await requireWorkflow(app, c.req.valid("param").id);
    const gated = isGated(workflow) || workflow.debounce !== undefined || workflow.steps.some((step) => step.rate !== undefined);
    const now = appNow(app).getTime();
    const keys = gated ? await flowStoreOf(app.store).flowState(workflow.id, now) : [];
    return c.json({
      workflowId: workflow.id,
      concurrency: workflow.concurrency ?? null,
      rate: workflow.rate ?? null,
      priority: workflow.priority ?? null,
      debounce: workflow.debounce ?? null,
      keys,
    }, 200);
  });

  routes.openapi(startExecution, async (c) => {
    const app = c.get("app");
    const workflowId = c.req.valid("param").id;
    // Read once: after that the run is saved on the version last resolved, and the save checks that it is still current
    // (a version PUT meanwhile, by any app, is read then and started on: Runner.onCurrent).
    const workflow = app.catalog.lastCurrent(workflowId) ?? await requireWorkflow(app, workflowId);
    const runnerOptions = { ...app.runnerOptions, definitions: app.catalog };
    const { executionId, mode, priority, labels } = c.req.valid("json");
    // The start request's W3C trace context becomes the parent of the execution's trace (docs/observability.md).
    const traceparent = c.req.header("traceparent");
    const input = (await rawJsonField(c, "input")) ?? {};
    // Starting an existing id is idempotent, but only for the same workflow.
    const existing = executionId === undefined ? null : await app.store.load(executionId);
    if (existing && existing.workflowId !== workflow.id) {
      throw new HttpProblem(409, `Execution "${executionId}" already exists and belongs to workflow "${existing.workflowId}".`);
    }
    if (mode === "sync") {
      const result = await new SyncRunner(workflow, runnerOptions).run(input, { executionId, labels, traceparent });
      await continueWhenDue(app, workflow.id, result);
      return c.json(pick(ExecutionResult, result), 200);
    }
    const runner = new AsyncRunner(workflow, { ...runnerOptions, adapter: app.adapter });
    const id = await runner.run(input, { executionId, priority, labels, traceparent });
    // A new run handed to QStash is pending when the answer is sent (a request saved: issue 22); an inline queue may
    // have run it already, and an existing id may be further along, so those are read.
    const status = !existing && app.adapter instanceof QStashAdapter ? "pending" : await statusOf(runner, id);
    return c.json({ executionId: id, status }, 202);
  });

  return routes;
}

/** The definition `source` holds, or a 422 listing every problem found in it. */
function loadOrProblem(source: string): WorkflowDefinition {
  try {
    return loadWorkflow(source);
  } catch (error) {
    if (!(error instanceof ValidationError) || error.issues.length === 0) throw error;
    const { issues } = error;
    throw new HttpProblem(422, `Invalid workflow definition (${issues.length} problem${issues.length === 1 ? "" : "s"})`, {
      errors: issues,
    });
  }
}
