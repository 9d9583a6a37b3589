import { z } from "zod";
import { DiagramQuery } from "./dashboard/index.ts";
import { PROBLEM_CONTENT_TYPE } from "./problems.ts";
import {
  Accepted,
  Entry,
  EntryList,
  EventsQuery,
  Execution,
  ExecutionPage,
  ExecutionParams,
  ExecutionResult,
  ExecutionSummary,
  HaltInfo,
  Health,
  InputSpec,
  ListQuery,
  Problem,
  ResumeBody,
  RunBody,
  Step,
  StreamBody,
  WorkflowDetail,
  WorkflowEvent,
  WorkflowList,
  WorkflowParams,
  WorkflowSummary,
} from "./schemas.ts";

type JsonSchema = Record<string, unknown>;

interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
  /** Default application/json. */
  contentType?: string;
  headers?: Record<string, { description: string; schema: JsonSchema }>;
}

interface Operation {
  method: "get" | "post" | "delete";
  /** Hono path (`/executions/:id`). */
  path: string;
  operationId: string;
  summary: string;
  tag: string;
  params?: z.ZodObject;
  query?: z.ZodObject;
  headers?: { name: string; description: string }[];
  body?: z.ZodType;
  responses: Record<number, ResponseSpec>;
  /** No bearer token (GET /health, POST /qstash). */
  open?: boolean;
  /** Reads or writes the store: may answer 503. */
  store?: boolean;
}

const problem = (description: string): ResponseSpec => ({ description, schema: Problem, contentType: PROBLEM_CONTENT_TYPE });

/** Every route of the app. A test checks this list against the routes the app actually registers. */
export const OPERATIONS: readonly Operation[] = [
  {
    method: "get", path: "/health", operationId: "health", tag: "meta", open: true,
    summary: "Liveness and version (never requires a token)",
    responses: { 200: { description: "Up", schema: Health } },
  },
  {
    method: "get", path: "/openapi.json", operationId: "openapi", tag: "meta",
    summary: "This document",
    responses: { 200: { description: "OpenAPI 3.1 document", schema: z.record(z.string(), z.unknown()) } },
  },
  {
    method: "get", path: "/workflows", operationId: "listWorkflows", tag: "workflows",
    summary: "The workflows this app serves",
    responses: { 200: { description: "Workflows", schema: WorkflowList } },
  },
  {
    method: "get", path: "/workflows/:id", operationId: "getWorkflow", tag: "workflows", params: WorkflowParams,
    summary: "A workflow's definition, hash and Mermaid diagram",
    responses: { 200: { description: "The workflow", schema: WorkflowDetail }, 404: problem("Unknown workflow") },
  },
  {
    method: "post", path: "/workflows/:id/executions", operationId: "startExecution", tag: "executions", store: true,
    params: WorkflowParams, body: RunBody,
    summary: "Start an execution (async by default)",
    responses: {
      200: { description: "mode sync: the result (completed, halted or failed)", schema: ExecutionResult },
      202: { description: "mode async: the execution is queued (or already done by an inline queue)", schema: Accepted },
      404: problem("Unknown workflow"),
      409: problem("The execution id belongs to another workflow"),
      422: problem("The input breaks the workflow's input rules; `errors` names each input"),
    },
  },
  {
    method: "post", path: "/workflows/:id/executions/stream", operationId: "streamExecution", tag: "events", store: true,
    params: WorkflowParams, body: StreamBody,
    summary: "Start an execution and stream its events as Server-Sent Events",
    responses: {
      200: {
        description: "`id: <executionId>:<seq>` / `event: <type>` / `data: <WorkflowEvent JSON>` frames, as the run goes, until it ends or halts (docs/events.md)",
        contentType: "text/event-stream",
        schema: z.string(),
      },
      404: problem("Unknown workflow"),
      409: problem("The execution id belongs to another workflow"),
      422: problem("The input breaks the workflow's input rules"),
    },
  },
  {
    method: "get", path: "/executions", operationId: "listExecutions", tag: "executions", store: true, query: ListQuery,
    summary: "Executions, newest first, a page at a time",
    responses: { 200: { description: "A page of executions", schema: ExecutionPage } },
  },
  {
    method: "get", path: "/executions/:id", operationId: "getExecution", tag: "executions", store: true, params: ExecutionParams,
    summary: "An execution's record",
    responses: { 200: { description: "The execution", schema: Execution }, 404: problem("Unknown execution") },
  },
  {
    method: "delete", path: "/executions/:id", operationId: "deleteExecution", tag: "executions", store: true, params: ExecutionParams,
    summary: "Delete an execution, its history and its events",
    responses: { 204: { description: "Deleted" }, 404: problem("Unknown execution") },
  },
  {
    method: "get", path: "/executions/:id/entries", operationId: "listEntries", tag: "executions", store: true, params: ExecutionParams,
    summary: "An execution's history, one entry per executed step",
    responses: { 200: { description: "The history", schema: EntryList }, 404: problem("Unknown execution") },
  },
  {
    method: "get", path: "/executions/:id/events", operationId: "executionEvents", tag: "events", store: true, params: ExecutionParams,
    query: EventsQuery,
    headers: [{ name: "Last-Event-ID", description: "Replay the events after this one: `<executionId>:<seq>` or a bare `<seq>`" }],
    summary: "An execution's events as Server-Sent Events: replay, then live until it ends or halts",
    responses: {
      200: {
        description: "The stored events after the given one as `id: <executionId>:<seq>` / `event: <type>` / `data: <WorkflowEvent JSON>` frames, then new ones as they are stored, until the execution completes, fails or halts (docs/events.md)",
        contentType: "text/event-stream",
        schema: z.string(),
      },
      204: { description: "The execution has ended (or halted) and there is nothing after the given event: an EventSource stops reconnecting" },
      404: problem("Unknown execution"),
    },
  },
  {
    method: "post", path: "/executions/:id/resume", operationId: "resumeExecution", tag: "executions", store: true,
    params: ExecutionParams, body: ResumeBody,
    summary: "Resume a halted execution with a response or an approval decision",
    responses: {
      200: { description: "mode sync: the result", schema: ExecutionResult },
      202: { description: "mode async: the resume is queued (or already done by an inline queue)", schema: Accepted },
      404: problem("Unknown execution, or its workflow is not served by this app"),
      409: problem("The execution is not halted"),
      422: problem("The resume payload is not acceptable to the engine"),
    },
  },
  {
    method: "post", path: "/qstash", operationId: "qstashCallback", tag: "queue", open: true, store: true,
    body: z.record(z.string(), z.unknown()).describe("A job published by the QStash adapter"),
    summary: "QStash delivery of a job (authenticated by `Upstash-Signature`, not by the bearer token)",
    headers: [{ name: "Upstash-Signature", description: "JWT signed with the current or next signing key" }],
    responses: {
      200: { description: "Done, or a duplicate delivery of a job already done" },
      401: problem("Missing or invalid signature: nothing ran"),
    },
  },
  {
    method: "post", path: "/qstash/failure", operationId: "qstashFailureCallback", tag: "queue", open: true, store: true,
    body: z.record(z.string(), z.unknown()).describe("QStash's failure callback: a job whose deliveries were all refused"),
    summary: "QStash failure callback (authenticated by `Upstash-Signature`, not by the bearer token)",
    headers: [{ name: "Upstash-Signature", description: "JWT signed with the current or next signing key" }],
    responses: {
      200: { description: "Recorded" },
      401: problem("Missing or invalid signature"),
    },
  },
  {
    method: "get", path: "/dashboard", operationId: "dashboard", tag: "dashboard", open: true,
    summary: "The dashboard page (holds no data: its script calls this API with the token the user enters; docs/dashboard.md)",
    responses: { 200: { description: "HTML, with a strict Content-Security-Policy", contentType: "text/html", schema: z.string() } },
  },
  {
    method: "get", path: "/dashboard/app.js", operationId: "dashboardScript", tag: "dashboard", open: true,
    summary: "The dashboard's script",
    responses: { 200: { description: "JavaScript module", contentType: "text/javascript", schema: z.string() } },
  },
  {
    method: "get", path: "/dashboard/app.css", operationId: "dashboardStyle", tag: "dashboard", open: true,
    summary: "The dashboard's stylesheet",
    responses: { 200: { description: "CSS", contentType: "text/css", schema: z.string() } },
  },
  {
    method: "get", path: "/dashboard/workflows/:id/diagram.svg", operationId: "workflowDiagramSvg", tag: "dashboard",
    params: WorkflowParams, query: DiagramQuery,
    summary: "A workflow's graph as SVG, optionally with an execution's path highlighted",
    responses: { 200: { description: "SVG document", contentType: "image/svg+xml", schema: z.string() }, 404: problem("Unknown workflow") },
  },
];

/** Schemas that get a name under `components.schemas` (and are referenced by `$ref`). */
const RESPONSE_COMPONENTS: Record<string, z.ZodType> = {
  Health, InputSpec, Step, WorkflowSummary, WorkflowList, WorkflowDetail, HaltInfo, ExecutionResult, Accepted,
  Execution, ExecutionSummary, ExecutionPage, Entry, EntryList, WorkflowEvent, Problem,
};
const REQUEST_COMPONENTS: Record<string, z.ZodType> = { RunBody, ResumeBody, StreamBody };

function components(schemas: Record<string, z.ZodType>, io: "input" | "output") {
  const registry = z.registry<{ id: string }>();
  for (const [id, schema] of Object.entries(schemas)) registry.add(schema, { id });
  const generated = z.toJSONSchema(registry, { io, unrepresentable: "any", uri: (id) => `#/components/schemas/${id}` });
  const out: Record<string, JsonSchema> = {};
  for (const [id, schema] of Object.entries(generated.schemas)) {
    const { $schema: _s, $id: _i, ...rest } = schema as JsonSchema;
    out[id] = rest;
  }
  return out;
}

function inline(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const { $schema: _s, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as JsonSchema;
  return rest;
}

function schemaOf(schema: z.ZodType, io: "input" | "output"): JsonSchema {
  const names = io === "input" ? REQUEST_COMPONENTS : RESPONSE_COMPONENTS;
  const name = Object.keys(names).find((key) => names[key] === schema);
  return name ? { $ref: `#/components/schemas/${name}` } : inline(schema, io);
}

function parameters(schema: z.ZodObject | undefined, where: "path" | "query") {
  if (!schema) return [];
  return Object.entries(schema.shape).map(([name, field]) => {
    const { description, ...json } = inline(field as z.ZodType, "input");
    return {
      name,
      in: where,
      required: where === "path" || !(field as z.ZodType).safeParse(undefined).success,
      ...(description ? { description } : {}),
      schema: json,
    };
  });
}

const STORE_DOWN: ResponseSpec = {
  ...problem("The store is unavailable: retry after the given delay"),
  headers: { "Retry-After": { description: "Seconds", schema: { type: "integer" } } },
};

function responsesOf(op: Operation) {
  const all: Record<number, ResponseSpec> = { ...op.responses };
  if (op.params || op.query || op.body) all[400] ??= problem("Malformed JSON, or a body, query or parameter that breaks its schema; `errors` lists each problem");
  if (!op.open) {
    all[401] ??= {
      ...problem("Missing or wrong bearer token"),
      headers: { "WWW-Authenticate": { description: "`Bearer`", schema: { type: "string" } } },
    };
  }
  if (op.body) {
    all[413] ??= problem("The body is larger than the configured limit (default 1 MiB)");
    all[415] ??= problem("The body is not JSON");
  }
  all[500] ??= problem("Unexpected error (details are logged, never sent)");
  if (op.store) all[503] ??= STORE_DOWN;
  const out: Record<string, unknown> = {};
  for (const status of Object.keys(all).map(Number).sort((a, b) => a - b)) {
    const spec = all[status]!;
    out[String(status)] = {
      description: spec.description,
      ...(spec.headers ? { headers: spec.headers } : {}),
      ...(spec.schema ? { content: { [spec.contentType ?? "application/json"]: { schema: schemaOf(spec.schema, "output") } } } : {}),
    };
  }
  return out;
}

/** `/executions/:id` → `/executions/{id}`. */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z0-9_]+)/g, "{$1}");
}

/** The OpenAPI 3.1 document of the API, generated from the same zod schemas the validators use. */
export function openApiDocument(options: { version?: string } = {}): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const path = (paths[openApiPath(op.path)] ??= {});
    path[op.method] = {
      operationId: op.operationId,
      summary: op.summary,
      tags: [op.tag],
      ...(op.open ? { security: [] } : {}),
      parameters: [
        ...parameters(op.params, "path"),
        ...parameters(op.query, "query"),
        ...(op.headers ?? []).map((h) => ({ name: h.name, in: "header", required: false, description: h.description, schema: { type: "string" } })),
      ],
      ...(op.body
        ? { requestBody: { required: false, content: { "application/json": { schema: schemaOf(op.body, "input") } } } }
        : {}),
      responses: responsesOf(op),
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "durable-workflow",
      version: options.version ?? "unknown",
      description: "Durable workflows over HTTP. Every error is application/problem+json (RFC 9457).",
    },
    security: [{ bearerAuth: [] }],
    paths,
    components: {
      schemas: { ...components(RESPONSE_COMPONENTS, "output"), ...components(REQUEST_COMPONENTS, "input") },
      securitySchemes: {
        bearerAuth: {
          type: "http",
          scheme: "bearer",
          description: "Required on every route but GET /health, POST /qstash and the dashboard page and assets when the app has a token",
        },
      },
    },
  };
}
