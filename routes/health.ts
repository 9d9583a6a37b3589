import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "./context.ts";
import { HttpProblem, RETRY_LATER } from "./problems.ts";
import { api, json, problem, route } from "./route.ts";
import { Health } from "./schemas.ts";

/** The id `GET /health?deep=1` loads: any id will do, the answer only shows that the store answers. */
export const HEALTH_PROBE_ID = "health:probe";

const health = route({
  method: "get",
  path: "/health",
  operationId: "health",
  tags: ["meta"],
  summary: "Liveness and version (never requires a token); with `deep=1`, also that the store answers",
  request: { query: z.object({ deep: z.enum(["0", "1"]).optional().describe("`1`: also load an execution from the store") }) },
  responses: {
    200: json(Health, "Up"),
    503: problem("`deep=1`: the store failed; `detail` names its error", {
      "Retry-After": { description: "Seconds", schema: { type: "integer" } },
    }),
  },
}, { open: true });

/** GET /health. */
export function healthRoutes(): OpenAPIHono<AppEnv> {
  const routes = api();
  routes.openapi(health, async (c) => {
    const app = c.get("app");
    if (c.req.valid("query").deep === "1") {
      try {
        await app.store.load(HEALTH_PROBE_ID);
      } catch (error) {
        const name = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
        throw new HttpProblem(503, `The execution store failed: ${name}`, { headers: RETRY_LATER });
      }
    }
    return c.json({ ok: true as const, version: app.version }, 200);
  });
  return routes;
}
