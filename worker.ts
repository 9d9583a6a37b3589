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

// Loaded once per isolate; the options are built on the first request (createApp caches them per env object).
const examples = loadExamples();
const app = createApp((env) => appOptionsFromEnv(env, { ...examples, Redis }));

export default {
  fetch(request: Request, env: Record<string, unknown>, ctx: ExecutionContext): Response | Promise<Response> {
    return app.fetch(request, env, ctx);
  },
};
