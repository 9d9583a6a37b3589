/**
 * Cloudflare Workers entry (wrangler.toml: main = "worker.ts"). Configuration comes from the env bindings
 * ([vars] and `wrangler secret put`, see docs/deploy.md) through the same appOptionsFromEnv as main.ts.
 * The example workflows are served; put your own in `loadExamples()`'s place.
 */
import { Redis } from "@upstash/redis/cloudflare";
import type { ExecutionContext } from "hono";
import { loadExamples } from "./examples/index.ts";
import { createApp } from "./mod.ts";
import { appOptionsFromEnv } from "./config-from-env.ts";
import type { AppOptions } from "./mod.ts";

// Loaded once per isolate; the options are built once per env object (Workers hand the same bindings to every
// request and scheduled event of an isolate).
const examples = loadExamples();
const optionsByEnv = new WeakMap<object, AppOptions>();
function optionsOf(env: Record<string, unknown>): AppOptions {
  let options = optionsByEnv.get(env);
  if (!options) optionsByEnv.set(env, options = appOptionsFromEnv(env, { ...examples, Redis }));
  return options;
}
const app = createApp(optionsOf);

export default {
  fetch(request: Request, env: Record<string, unknown>, ctx: ExecutionContext): Response | Promise<Response> {
    return app.fetch(request, env, ctx);
  },
  /** The Cron Trigger of wrangler.toml ([triggers] crons): one tick per minute (due jobs, the sweeper, cron triggers). */
  scheduled: app.scheduled,
};
