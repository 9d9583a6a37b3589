/**
 * durable-workflow for the edge: the HTTP layer ("durable-workflow-edge/hono"): the Hono app, the QStash
 * callback handler and options from environment variables. The core API is in src/mod.ts.
 */
export { createApp } from "./routes/app.ts";
export type { App, AppOptions, AppOptionsInput } from "./routes/app.ts";
export { createQStashHandler } from "./routes/qstash/handler.ts";
export { actorOf, logAction, parseTokens } from "./routes/auth.ts";
export type { ApiToken } from "./routes/auth.ts";
export type { QStashHandler, QStashHandlerOptions } from "./routes/qstash/handler.ts";
export { appOptionsFromEnv, recoverOnce } from "./config-from-env.ts";
export type { EnvExtras, RedisConstructor } from "./config-from-env.ts";
