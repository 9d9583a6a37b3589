import type { OpenAPIHono } from "@hono/zod-openapi";
import { requireToken } from "./auth.ts";
import { bodyLimit } from "./body.ts";
import { bulkRoutes } from "./bulk.ts";
import { dashboardDataRoutes, dashboardRoutes } from "./dashboard/index.ts";
import { type AppEnv, type AppOptionsInput, contextMiddleware } from "./context.ts";
import { eventRoutes } from "./events.ts";
import { executionRoutes } from "./executions.ts";
import { healthRoutes } from "./health.ts";
import { lifecycleRoutes } from "./lifecycle.ts";
import { serveOpenApi } from "./openapi.ts";
import { errorToResponse, HttpProblem } from "./problems.ts";
import { qstashRoutes } from "./qstash/routes.ts";
import { api } from "./route.ts";
import { workflowRoutes } from "./workflows.ts";

export type { AppContext, AppEnv, AppOptions, AppOptionsInput } from "./context.ts";

/**
 * The HTTP API as a Hono app: `export default createApp(...)` on Workers and Bun,
 * `deno serve` with the same default export. `options` may be a function of the Workers env bindings,
 * called once per env object. Static options are checked here: a bad configuration (no store, production
 * without a token) throws ConfigError at once; options from a function are checked on the first request.
 *
 * Order matters: Hono runs the matched handlers in registration order, so the routes mounted before
 * `requireToken` (those declared `open`) are public and everything mounted after it needs the token.
 */
export function createApp(options: AppOptionsInput): OpenAPIHono<AppEnv> {
  const app = api();

  app.onError((error, c) => errorToResponse(error, c));
  app.notFound((c) => errorToResponse(new HttpProblem(404, `No route for ${c.req.method} ${c.req.path}.`), c));

  app.use("*", contextMiddleware(options));

  // Public: GET /health; POST /qstash (QStash signs its deliveries: the handler checks them and the body
  // limit); the dashboard's page, script and style, which hold no data (docs/dashboard.md).
  app.route("/", healthRoutes());
  app.route("/qstash", qstashRoutes());
  app.route("/", dashboardRoutes());

  app.use("*", requireToken(), bodyLimit());

  app.route("/", workflowRoutes());
  app.route("/", bulkRoutes());
  app.route("/", executionRoutes());
  app.route("/", lifecycleRoutes());
  app.route("/", eventRoutes());
  app.route("/", dashboardDataRoutes());
  serveOpenApi(app);

  return app;
}
