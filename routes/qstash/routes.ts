import { type OpenAPIHono, type RouteConfig, z } from "@hono/zod-openapi";
import { Client } from "@upstash/qstash";
import { ConfigError } from "../../src/errors.ts";
import { QStashAdapter } from "../../src/runners/adapters/qstash.ts";
import type { AppContext, AppEnv } from "../context.ts";
import { HttpProblem } from "../problems.ts";
import { api, problem, route } from "../route.ts";
import { createQStashHandler, type QStashHandler } from "./handler.ts";

/** A route QStash calls: authenticated by `Upstash-Signature` (checked by the handler), not by the bearer token. */
function signedRoute<const P extends string, const S extends RouteConfig["responses"]>(
  path: P,
  operationId: string,
  summary: string,
  responses: S,
) {
  return route({
    method: "post",
    path,
    operationId,
    tags: ["queue"],
    summary: `${summary} (authenticated by \`Upstash-Signature\`, not by the bearer token)`,
    request: {
      headers: z.object({ "Upstash-Signature": z.string().optional().describe("JWT signed with the current or next signing key") }),
    },
    responses: {
      401: problem("Missing or invalid signature: nothing ran"),
      413: problem("The body is larger than the configured limit (default 1 MiB)"),
      ...responses,
    },
  }, { open: true, store: true });
}

const callback = signedRoute("/", "qstashCallback", "QStash delivery of a job", {
  200: {
    description: "Done (completed, halted, failed, or yielded with its continuation enqueued); a duplicate that changed nothing; " +
      "busy under another worker's live lease (`busyUntil`: a continue at its expiry was enqueued); or `{ swept }` for a sweep job",
  },
  489: problem("Not a job: QStash does not retry it (`Upstash-NonRetryable-Error: true`)"),
});

const failureCallback = signedRoute("/failure", "qstashFailureCallback", "QStash failure callback", {
  200: {
    description: "Logged: the execution is left as it was (`abandoned: false`) for the sweeper to hand back to the queue; " +
      "or ignored (`ignored`) when the body is not a failure callback for a job",
  },
});

/**
 * The QStash callback (docs/async.md): `POST /qstash` performs a delivered job, `POST /qstash/failure`
 * takes QStash's failure callback. Both check `Upstash-Signature` themselves (createApp mounts them before
 * the bearer-token check) against the configured URLs, never the request's Host.
 */
export function qstashRoutes(): OpenAPIHono<AppEnv> {
  const routes = api();
  const handlers = new WeakMap<AppContext, QStashHandler>();
  const handlerOf = (app: AppContext): QStashHandler => {
    let handler = handlers.get(app);
    if (!handler) {
      handler = buildHandler(app);
      handlers.set(app, handler);
    }
    return handler;
  };
  // The handler reads the body itself (the signature covers its exact bytes), within the app's body limit.
  routes.openapi(callback, (c) => handlerOf(c.get("app"))(c.req.raw));
  routes.openapi(failureCallback, (c) => handlerOf(c.get("app")).failure(c.req.raw));
  return routes;
}

function buildHandler(app: AppContext): QStashHandler {
  const qstash = app.options.qstash;
  if (!qstash) {
    throw new HttpProblem(501, "QStash is not configured on this app (options.qstash: { currentSigningKey, nextSigningKey, callbackUrl })");
  }
  const given = app.options.adapter;
  const callbackUrl = qstash.callbackUrl ?? (given instanceof QStashAdapter ? given.callbackUrl : undefined);
  if (!callbackUrl) throw new ConfigError("POST /qstash needs qstash.callbackUrl (or a QStashAdapter as options.adapter)");
  const failureCallbackUrl = qstash.failureCallbackUrl ?? (given instanceof QStashAdapter ? given.failureCallbackUrl : undefined);
  let adapter = given;
  if (!adapter) {
    if (!qstash.token) {
      throw new ConfigError("POST /qstash needs a QStashAdapter as options.adapter, or qstash.token to publish continuations");
    }
    adapter = new QStashAdapter({
      client: new Client({ token: qstash.token, ...(qstash.url ? { baseUrl: qstash.url } : {}) }),
      callbackUrl,
      ...(failureCallbackUrl ? { failureCallbackUrl } : {}),
    });
  }
  return createQStashHandler({
    ...app.runnerOptions,
    currentSigningKey: qstash.currentSigningKey,
    nextSigningKey: qstash.nextSigningKey,
    callbackUrl,
    ...(failureCallbackUrl ? { failureCallbackUrl } : {}),
    adapter,
    ...(qstash.budgetMs !== undefined ? { budgetMs: qstash.budgetMs } : {}),
    ...(app.options.sweep ? { sweep: app.options.sweep } : {}),
    triggers: () => app.listWorkflows(),
    maxBodyBytes: app.maxBodyBytes,
    log: app.log,
  });
}
