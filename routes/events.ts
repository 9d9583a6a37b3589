import { Hono } from "hono";
import type { AppEnv } from "./context.ts";

/**
 * PLACEHOLDER, to be replaced by the SSE routes (SPEC §8): `POST /workflows/:id/executions/stream` and
 * `GET /executions/:id/events`. createApp mounts this sub-app at `/`, behind the bearer-token check and the
 * body limit; `c.get("app")` gives the store, workflows, services and runner options.
 */
export function eventRoutes(): Hono<AppEnv> {
  return new Hono<AppEnv>();
}
