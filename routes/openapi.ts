import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "./context.ts";
import { json, route } from "./route.ts";

const document = route({
  method: "get",
  path: "/openapi.json",
  operationId: "openapi",
  tags: ["meta"],
  summary: "This document",
  responses: { 200: json(z.record(z.string(), z.unknown()), "OpenAPI 3.1 document") },
});

/**
 * Serves `GET /openapi.json`: the OpenAPI 3.1 document generated from the routes registered on `app` (and the
 * sub-apps mounted on it) when it is asked for.
 */
export function serveOpenApi(app: OpenAPIHono<AppEnv>): void {
  app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
    type: "http",
    scheme: "bearer",
    description: "Required on every route but GET /health, POST /qstash and the dashboard page and assets when the app has a token",
  });
  app.openapi(document, (c) =>
    c.json(
      app.getOpenAPI31Document({
        openapi: "3.1.0",
        info: {
          title: "durable-workflow",
          version: c.get("app").version,
          description: "Durable workflows over HTTP. Every error is application/problem+json (RFC 9457).",
        },
        security: [{ bearerAuth: [] }],
      }),
      200,
    ));
}
