import { Hono } from "hono";
import { requireToken } from "./auth.ts";
import { bodyLimit } from "./body.ts";
import { dashboardDataRoutes, dashboardRoutes } from "./dashboard/index.ts";
import { contextMiddleware, type AppEnv, type AppOptionsInput } from "./context.ts";
import { eventRoutes } from "./events.ts";
import { executionRoutes } from "./executions.ts";
import { openApiDocument } from "./openapi.ts";
import { errorToResponse, HttpProblem } from "./problems.ts";
import { qstashRoutes } from "./qstash/routes.ts";
import { workflowRoutes } from "./workflows.ts";

export type { AppContext, AppEnv, AppOptions, AppOptionsInput } from "./context.ts";

/**
 * The HTTP API (SPEC §8) as a Hono app: `export default createApp(...)` on Workers and Bun,
 * `deno serve` with the same default export. `options` may be a function of the Workers env bindings,
 * called once per env object. Static options are checked here: a bad configuration (no store, production
 * without a token) throws ConfigError at once; options from a function are checked on the first request.
 *
 * Order matters: Hono runs the matched handlers in registration order, so the routes registered before
 * `requireToken` (GET /health, POST /qstash) are public and everything registered after it needs the token.
 */
export function createApp(options: AppOptionsInput): Hono<AppEnv> {
  const app = new Hono<AppEnv>();

  app.onError((error, c) => errorToResponse(error, c));
  app.notFound((c) => errorToResponse(new HttpProblem(404, `No route for ${c.req.method} ${c.req.path}.`), c));

  app.use("*", contextMiddleware(options));

  app.get("/health", (c) => c.json({ ok: true as const, version: c.get("app").version }));

  // Public: QStash authenticates its deliveries with a signature, checked by the route.
  app.use("/qstash", bodyLimit());
  app.route("/qstash", qstashRoutes());

  // Public: the dashboard's page, script and style hold no data (docs/dashboard.md).
  app.route("/", dashboardRoutes());

  app.use("*", requireToken(), bodyLimit());

  app.get("/openapi.json", (c) => c.json(openApiDocument({ version: c.get("app").version })));
  app.route("/", workflowRoutes());
  app.route("/", executionRoutes());
  app.route("/", eventRoutes());
  app.route("/", dashboardDataRoutes());

  return app;
}
