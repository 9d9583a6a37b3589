import { describe, expect, test } from "bun:test";
import { setup, TOKEN } from "../../support/routes.ts";

type Operation = {
  security?: unknown[];
  parameters?: { name: string; in: string }[];
  requestBody?: { content: Record<string, { schema: unknown }> };
  responses: Record<string, { content?: Record<string, { schema: unknown }>; headers?: Record<string, unknown> }>;
};

type Doc = {
  openapi: string;
  info: { version: string };
  security: unknown[];
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown>; securitySchemes: Record<string, { type: string; scheme: string }> };
};

async function fetchDoc(): Promise<{ text: string; doc: Doc }> {
  const { app } = setup();
  const response = await app.request("/openapi.json");
  expect(response.status).toBe(200);
  const text = await response.text();
  return { text, doc: JSON.parse(text) };
}

const SPEC_ROUTES = [
  "get /health",
  "get /workflows",
  "get /workflows/{id}",
  "post /workflows/{id}/executions",
  "post /workflows/{id}/executions/stream",
  "get /executions",
  "get /executions/{id}",
  "get /executions/{id}/entries",
  "get /executions/{id}/events",
  "post /executions/{id}/resume",
  "delete /executions/{id}",
  "post /qstash",
  "post /qstash/failure",
  "get /openapi.json",
  "put /workflows/{id}",
  "get /workflows/{id}/versions",
  "post /executions/cancel",
  "post /executions/retry",
  "post /events/{name}",
  "get /workflows/{id}/flow",
  "post /executions/{id}/cancel",
  "post /executions/{id}/retry",
  "post /executions/{id}/recover",
  "post /executions/{id}/migrate",
];

const DASHBOARD_ROUTES = [
  "get /",
  "get /dashboard",
  "get /dashboard/app.js",
  "get /dashboard/app.css",
  "get /dashboard/workflows/{id}/diagram.svg",
];

const OPEN_ROUTES = [
  "get /",
  "get /dashboard",
  "get /dashboard/app.css",
  "get /dashboard/app.js",
  "get /health",
  "post /qstash",
  "post /qstash/failure",
];

function operations(doc: Doc): string[] {
  return Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`));
}

describe("GET /openapi.json", () => {
  test("is valid JSON declaring OpenAPI 3.1.0", async () => {
    const { doc } = await fetchDoc();
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info.version).toBe("9.9.9-test");
  });

  test("lists every route of SPEC §8 (and QStash's failure callback, and the dashboard's)", async () => {
    const { doc } = await fetchDoc();
    expect(operations(doc).sort()).toEqual([...SPEC_ROUTES, ...DASHBOARD_ROUTES].sort());
  });

  test("documents every route the app registers (a trailing-slash twin of the dashboard page aside)", async () => {
    const { app } = setup();
    const { doc } = await fetchDoc();
    const registered = new Set(
      app.routes
        .filter((route) => route.method !== "ALL" && route.path !== "/dashboard/")
        .map((route) => `${route.method.toLowerCase()} ${route.path.replace(/:(\w+)/g, "{$1}")}`),
    );
    expect([...registered].sort()).toEqual(operations(doc).sort());
  });

  test("the routes documented without security are exactly those that answer without the token", async () => {
    const { app } = setup({ token: TOKEN });
    const { doc } = await fetchDoc();
    const open: string[] = [];
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const method of Object.keys(methods)) {
        const url = path.replace("{id}", "order_fulfillment");
        const response = await app.request(url, { method: method.toUpperCase() });
        if (response.status !== 401) open.push(`${method} ${path}`);
      }
    }
    expect(open.sort()).toEqual(OPEN_ROUTES);
  });

  test("declares the bearer scheme, required everywhere but /health, /qstash and the dashboard page and assets", async () => {
    const { doc } = await fetchDoc();
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: "http", scheme: "bearer" });
    expect(doc.security).toEqual([{ bearerAuth: [] }]);
    const open = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.entries(methods).filter(([, op]) => op.security?.length === 0).map(([method]) => `${method} ${path}`)
    );
    expect(open.sort()).toEqual(OPEN_ROUTES);
  });

  test("every protected route documents its 401", async () => {
    const { doc } = await fetchDoc();
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        if (op.security?.length === 0) continue;
        expect(`${method} ${path} ${Object.keys(op.responses).includes("401")}`).toBe(`${method} ${path} true`);
      }
    }
  });

  test("every error response is problem+json referencing the Problem schema", async () => {
    const { doc } = await fetchDoc();
    for (const methods of Object.values(doc.paths)) {
      for (const op of Object.values(methods)) {
        for (const [status, response] of Object.entries(op.responses)) {
          if (Number(status) < 400) continue;
          expect(response.content?.["application/problem+json"]?.schema).toEqual({ $ref: "#/components/schemas/Problem" });
        }
      }
    }
  });

  test("documents the statuses of each route", async () => {
    const { doc } = await fetchDoc();
    const statuses = (method: string, path: string) => Object.keys(doc.paths[path]![method]!.responses);
    expect(statuses("post", "/workflows/{id}/executions")).toEqual([
      "200",
      "202",
      "400",
      "401",
      "404",
      "409",
      "413",
      "415",
      "422",
      "500",
      "503",
    ]);
    expect(statuses("post", "/executions/{id}/resume")).toEqual(expect.arrayContaining(["200", "202", "404", "409"]));
    expect(statuses("delete", "/executions/{id}")).toEqual(expect.arrayContaining(["204", "404"]));
  });

  test("request bodies and parameters come from the validators' zod schemas", async () => {
    const { doc } = await fetchDoc();
    const run = doc.paths["/workflows/{id}/executions"]!.post!;
    expect(run.requestBody!.content["application/json"]!.schema).toEqual({ $ref: "#/components/schemas/RunBody" });
    expect(doc.components.schemas.RunBody).toMatchObject({
      type: "object",
      additionalProperties: false,
      properties: { mode: { enum: ["async", "sync"], default: "async" } },
    });
    expect(doc.paths["/executions"]!.get!.parameters!.map((p) => `${p.in}:${p.name}`)).toEqual([
      "query:workflowId",
      "query:status",
      "query:limit",
      "query:cursor",
      "query:createdFrom",
      "query:createdTo",
      "query:updatedFrom",
      "query:updatedTo",
    ]);
    expect(run.parameters!.map((p) => `${p.in}:${p.name}`)).toEqual(["path:id", "header:traceparent"]);
  });

  test("defines the response schemas of ExecutionResult, Execution, Entry and Problem", async () => {
    const { doc } = await fetchDoc();
    for (const name of ["ExecutionResult", "Execution", "Entry", "Problem", "ExecutionPage", "WorkflowDetail"]) {
      expect(doc.components.schemas[name]).toMatchObject({ type: "object" });
    }
  });

  test("every $ref points to a defined component", async () => {
    const { text, doc } = await fetchDoc();
    const refs = [...text.matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThan(10);
    for (const ref of refs) expect(Object.keys(doc.components.schemas)).toContain(ref);
  });

  test("every path template parameter is declared", async () => {
    const { doc } = await fetchDoc();
    for (const [path, methods] of Object.entries(doc.paths)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const op of Object.values(methods)) {
        expect((op.parameters ?? []).filter((p) => p.in === "path").map((p) => p.name)).toEqual(names);
      }
    }
  });

  test("needs the token when one is configured", async () => {
    const { app } = setup({ token: TOKEN });
    expect((await app.request("/openapi.json")).status).toBe(401);
  });

  test("the Problem schema is the problem+json body: type, title, status, detail and optional errors", async () => {
    const { doc } = await fetchDoc();
    expect(doc.components.schemas.Problem).toMatchObject({
      type: "object",
      required: ["type", "title", "status", "detail"],
      properties: {
        type: { type: "string" },
        title: { type: "string" },
        status: { type: "integer" },
        detail: { type: "string" },
        errors: { type: "array", items: { type: "object", required: ["path", "message"] } },
      },
    });
  });

  test("the 401s name WWW-Authenticate and the store's 503s name Retry-After", async () => {
    const { doc } = await fetchDoc();
    const get = doc.paths["/executions/{id}"]!.get!;
    expect(Object.keys(get.responses["401"]!.headers!)).toEqual(["WWW-Authenticate"]);
    expect(Object.keys(get.responses["503"]!.headers!)).toEqual(["Retry-After"]);
  });

  test("documents GET / as a 302 and GET /health's deep check with its 503", async () => {
    const { doc } = await fetchDoc();
    expect(Object.keys(doc.paths["/"]!.get!.responses)).toContain("302");
    const health = doc.paths["/health"]!.get!;
    expect(health.parameters!.map((p) => `${p.in}:${p.name}`)).toEqual(["query:deep"]);
    expect(Object.keys(health.responses)).toEqual(expect.arrayContaining(["200", "503"]));
  });

  test("names the SSE payload WorkflowEvent among the components", async () => {
    const { doc } = await fetchDoc();
    expect(doc.components.schemas.WorkflowEvent).toMatchObject({ type: "object", required: ["type", "data", "timestamp", "seq"] });
  });
});
