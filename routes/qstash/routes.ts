import { Client } from "@upstash/qstash";
import { Hono } from "hono";
import { ConfigError } from "../../src/errors.ts";
import { QStashAdapter } from "../../src/runners/adapters/qstash.ts";
import { createQStashHandler, type QStashHandler } from "./handler.ts";
import { bodyLimit } from "../body.ts";
import type { AppContext, AppEnv } from "../context.ts";
import { HttpProblem } from "../problems.ts";

/**
 * The QStash callback (SPEC §7, docs/async.md): `POST /qstash` performs a delivered job, `POST /qstash/failure`
 * takes QStash's failure callback. Both check `Upstash-Signature` themselves (createApp mounts them before
 * the bearer-token check) against the configured URLs, never the request's Host.
 */
export function qstashRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const handlers = new WeakMap<AppContext, QStashHandler>();
  const handlerOf = (app: AppContext): QStashHandler => {
    let handler = handlers.get(app);
    if (!handler) {
      handler = buildHandler(app);
      handlers.set(app, handler);
    }
    return handler;
  };
  routes.post("/", (c) => handlerOf(c.get("app"))(c.req.raw));
  // createApp's body limit covers `/qstash` itself only.
  routes.post("/failure", bodyLimit(), (c) => handlerOf(c.get("app")).failure(c.req.raw));
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
    if (!qstash.token) throw new ConfigError("POST /qstash needs a QStashAdapter as options.adapter, or qstash.token to publish continuations");
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
    ...(qstash.staleAfterMs !== undefined ? { staleAfterMs: qstash.staleAfterMs } : {}),
  });
}
