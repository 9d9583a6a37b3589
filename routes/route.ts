import { createRoute, OpenAPIHono, type RouteConfig, z } from "@hono/zod-openapi";
import { jsonBody } from "./body.ts";
import type { AppEnv } from "./context.ts";
import { PROBLEM_CONTENT_TYPE } from "./problems.ts";
import { Problem } from "./schemas.ts";
import { validationHook } from "./validate.ts";

/**
 * How a route is written: `api()` makes a resource's sub-app, `route()` declares one operation (its params,
 * query, body and success responses as zod schemas), `app.openapi(route, handler)` registers it, and
 * `/openapi.json` is generated from the declarations.
 */
export function api(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({ defaultHook: validationHook });
}

type Responses = RouteConfig["responses"];

/** A response with a body of `mediaType` described by `schema`. */
function body<M extends string, S extends z.ZodType>(mediaType: M, schema: S, description: string) {
  return { description, content: { [mediaType]: { schema } } as Record<M, { schema: S }> };
}

export function json<S extends z.ZodType>(schema: S, description: string) {
  return body("application/json", schema, description);
}

/** A response whose body is text of `mediaType` (HTML, SVG, SSE, ...). */
export function text<M extends string>(mediaType: M, description: string) {
  return body(mediaType, z.string(), description);
}

export function problem(description: string, headers?: Record<string, { description: string; schema: { type: "string" | "integer" } }>) {
  return { ...body(PROBLEM_CONTENT_TYPE, Problem, description), ...(headers ? { headers } : {}) };
}

interface RouteTraits {
  /** Needs no bearer token. The app mounts such routes before its token check (routes/app.ts). */
  open?: boolean;
  /** Reads or writes the store, so may answer 503. */
  store?: boolean;
}

/**
 * `createRoute` plus what every route shares: the error answers its traits imply (400 for a schema, 401
 * without `open`, 413/415 with a body, 500, 503 with `store`) and, with a body, the `jsonBody()` middleware
 * (an empty body is `{}`; a body not declared JSON is 415) when JSON is the only media type declared. The handler's types see the declared responses.
 */
export function route<const R extends RouteConfig>(config: R, traits: RouteTraits = {}): R {
  const { request } = config;
  const errors: Responses = {};
  if (request?.params || request?.query || request?.body) {
    errors[400] = problem("Malformed JSON, or a body, query or parameter that breaks its schema; `errors` lists each problem");
  }
  if (!traits.open) {
    errors[401] = problem("Missing or wrong bearer token", { "WWW-Authenticate": { description: "`Bearer`", schema: { type: "string" } } });
  }
  if (request?.body) {
    errors[413] = problem("The body is larger than the configured limit (default 1 MiB)");
    errors[415] = problem("The body is not of a declared media type");
  }
  errors[500] = problem("Unexpected error (details are logged, never sent)");
  if (traits.store) {
    errors[503] = problem("The store is unavailable: retry after the given delay", {
      "Retry-After": { description: "Seconds", schema: { type: "integer" } },
    });
  }
  return createRoute({
    ...(traits.open ? { security: [] } : {}),
    ...(request?.body && Object.keys(request.body.content).every((type) => type === "application/json")
      ? { middleware: [jsonBody()] }
      : {}),
    ...config,
    responses: { ...errors, ...config.responses },
  }) as R;
}
