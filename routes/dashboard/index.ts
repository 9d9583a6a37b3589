import { Hono } from "hono";
import { z } from "zod";
import { renderWorkflowSvg } from "../../src/diagram/svg.ts";
import type { AppEnv } from "../context.ts";
import { WorkflowParams } from "../schemas.ts";
import { validate } from "../validate.ts";
import { requireWorkflow } from "../workflows.ts";
import { DASHBOARD_HEADERS, dashboardHtml } from "./page.ts";
import DASHBOARD_SCRIPT from "./app.js" with { type: "text" };
import DASHBOARD_STYLE from "./style.css" with { type: "text" };

export { DASHBOARD_CSP } from "./page.ts";

/** Most step ids a diagram highlights (the path of a long run is cut to its last steps by the page). */
const MAX_HIGHLIGHT = 1000;

export const DiagramQuery = z.object({
  highlight: z.string().max(64_000).optional()
    .describe("Comma-separated step ids the execution went through, in order (loop body steps as `<loopId>:<bodyId>`)"),
});

/**
 * The public part of the dashboard, mounted before the token check: the page shell, its
 * script and its stylesheet. None of them holds data; the script asks the token-protected API for it.
 */
export function dashboardRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  const page = (assets: string) => new Response(dashboardHtml(assets), {
    headers: { ...DASHBOARD_HEADERS, "content-type": "text/html; charset=utf-8" },
  });
  // `/dashboard` loads `dashboard/app.js`; `/dashboard/` loads `app.js`: both resolve to the same asset.
  routes.get("/dashboard", () => page("dashboard/"));
  routes.get("/dashboard/", () => page(""));
  routes.get("/dashboard/app.js", () => new Response(DASHBOARD_SCRIPT, {
    headers: { ...DASHBOARD_HEADERS, "content-type": "text/javascript; charset=utf-8" },
  }));
  routes.get("/dashboard/app.css", () => new Response(DASHBOARD_STYLE, {
    headers: { ...DASHBOARD_HEADERS, "content-type": "text/css; charset=utf-8" },
  }));
  return routes;
}

/**
 * The dashboard's data route, mounted after the token check (a diagram reveals a definition):
 * `GET /dashboard/workflows/:id/diagram.svg?highlight=a,b,c`.
 */
export function dashboardDataRoutes(): Hono<AppEnv> {
  const routes = new Hono<AppEnv>();
  routes.get("/dashboard/workflows/:id/diagram.svg", validate("param", WorkflowParams), validate("query", DiagramQuery), (c) => {
    const workflow = requireWorkflow(c.get("app"), c.req.valid("param").id);
    const highlight = (c.req.valid("query").highlight ?? "").split(",").filter(Boolean).slice(-MAX_HIGHLIGHT);
    return new Response(renderWorkflowSvg(workflow, { highlight }), {
      headers: {
        "content-type": "image/svg+xml; charset=utf-8",
        "content-security-policy": "default-src 'none'",
        "x-content-type-options": "nosniff",
        "cache-control": "private, no-store",
      },
    });
  });
  return routes;
}
