import type { OpenAPIHono } from "@hono/zod-openapi";
import { requireToken } from "./auth.ts";
import { bodyLimit } from "./body.ts";
import { bulkRoutes } from "./bulk.ts";
import { dashboardDataRoutes, dashboardRoutes } from "./dashboard/index.ts";
import { type AppEnv, type AppOptionsInput, contextMiddleware, contextResolver } from "./context.ts";
import { eventSendRoutes } from "./event-sends.ts";
import { eventRoutes } from "./events.ts";
import { executionRoutes } from "./executions.ts";
import { healthRoutes } from "./health.ts";
import { lifecycleRoutes } from "./lifecycle.ts";
import { serveOpenApi } from "./openapi.ts";
import { errorToResponse, HttpProblem } from "./problems.ts";
import { qstashRoutes } from "./qstash/routes.ts";
import { api } from "./route.ts";
import { appTime, tickAndLog, tickApp } from "./time.ts";
import { workflowRoutes } from "./workflows.ts";
import type { TickReport } from "../src/runners/ticker.ts";
import { errorText } from "../src/errors.ts";

export type { AppContext, AppEnv, AppOptions, AppOptionsInput } from "./context.ts";

/** What a Workers runtime passes as the third argument of `fetch` and `scheduled`. */
interface WaitUntil {
  waitUntil(promise: Promise<unknown>): void;
}

/** On Workers, work left after the answer is kept alive with `waitUntil`; elsewhere (no execution context) it just runs. */
function keepAlive(c: { executionCtx: WaitUntil }, work: Promise<unknown>): void {
  try {
    c.executionCtx.waitUntil(work);
  } catch {
    // Hono throws when there is no execution context: a long-lived runtime, where the promise runs on by itself.
  }
}

/** The Hono app, plus what keeps its time (docs/async.md, "Time"). */
export type App = OpenAPIHono<AppEnv> & {
  /** One tick now: the in-process queue's due jobs, then the sweeper. `env`: the Workers bindings, when options depend on them. */
  tick(env?: unknown): Promise<TickReport>;
  /** Starts what keeps time (the ticker, or the QStash sweep schedule) now rather than at the first request. */
  start(env?: unknown): Promise<void>;
  /** The Workers Cron Trigger handler: `export default app`, or `{ fetch, scheduled: app.scheduled }`. */
  scheduled(controller: unknown, env?: unknown, ctx?: WaitUntil): Promise<void>;
};

/**
 * The HTTP API as a Hono app: `export default createApp(...)` on Workers and Bun,
 * `deno serve` with the same default export. `options` may be a function of the Workers env bindings,
 * called once per env object. Static options are checked here: a bad configuration (no store, production
 * without a token) throws ConfigError at once; options from a function are checked on the first request.
 *
 * Order matters: Hono runs the matched handlers in registration order, so the routes mounted before
 * `requireToken` (those declared `open`) are public and everything mounted after it needs the token.
 */
export function createApp(options: AppOptionsInput): App {
  const app = api();
  const resolve = contextResolver(options);
  const time = appTime();

  app.onError((error, c) => errorToResponse(error, c));
  app.notFound((c) => errorToResponse(new HttpProblem(404, `No route for ${c.req.method} ${c.req.path}.`), c));

  app.use("*", contextMiddleware(resolve, (context, c) => keepAlive(c, time.start(context))));

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
  app.route("/", eventSendRoutes());
  app.route("/", dashboardDataRoutes());
  serveOpenApi(app);

  const tick = async (env?: unknown) => await tickApp(await resolve(env));
  const start = async (env?: unknown) => await time.start(await resolve(env));
  const scheduled = async (_controller: unknown, env?: unknown, ctx?: WaitUntil) => {
    const done = (async () => {
      const context = await resolve(env);
      await time.start(context);
      await tickAndLog(context);
    })().catch((error) => console.error(`durable-workflow: scheduled tick failed: ${errorText(error)}`));
    ctx?.waitUntil(done);
    await done;
  };
  return Object.assign(app, { tick, start, scheduled });
}
