import { Hono } from "hono";
import type { AppEnv } from "./context.ts";
import { problemResponse } from "./problems.ts";

/**
 * PLACEHOLDER, to be replaced by the QStash callback route (SPEC §7). createApp mounts this sub-app at
 * `/qstash`, before the bearer-token check (the route verifies `Upstash-Signature` itself) but behind the
 * body limit; the signing keys are in `c.get("app").options.qstash`.
 */
export function qstashRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.post("/", () => problemResponse(501, "The QStash callback is not implemented yet."));
  return routes;
}
