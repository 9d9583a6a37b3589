import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { renderWorkflowSvg } from "../../src/diagram/svg.ts";
import type { AppEnv } from "../context.ts";
import { api, problem, route, text } from "../route.ts";
import { WorkflowParams } from "../schemas.ts";
import { requireWorkflow } from "../workflows.ts";
import { DASHBOARD_HEADERS, dashboardHtml } from "./page.ts";
import { DASHBOARD_SCRIPT } from "./app.generated.ts";
import DASHBOARD_STYLE from "./style.css" with { type: "text" };

export { DASHBOARD_CSP } from "./page.ts";

/** Most step ids a diagram highlights (the path of a long run is cut to its last steps by the page). */
const MAX_HIGHLIGHT = 1000;

const DiagramQuery = z.object({
  highlight: z.string().max(64_000).optional()
    .describe("Comma-separated step ids the execution went through, in order (loop body steps as `<loopId>:<bodyId>`)"),
});

const redirect = route({
  method: "get",
  path: "/",
  operationId: "root",
  tags: ["dashboard"],
  summary: "Redirects to the dashboard",
  responses: { 302: { description: "To /dashboard", headers: { Location: { description: "`/dashboard`", schema: { type: "string" } } } } },
}, { open: true });

const dashboardPage = route({
  method: "get",
  path: "/dashboard",
  operationId: "dashboard",
  tags: ["dashboard"],
  summary: "The dashboard page (holds no data: its script calls this API with the token the user enters; docs/dashboard.md)",
  responses: { 200: text("text/html", "HTML, with a strict Content-Security-Policy") },
}, { open: true });

const dashboardScript = route({
  method: "get",
  path: "/dashboard/app.js",
  operationId: "dashboardScript",
  tags: ["dashboard"],
  summary: "The dashboard's script",
  responses: { 200: text("text/javascript", "JavaScript module") },
}, { open: true });

const dashboardStyle = route({
  method: "get",
  path: "/dashboard/app.css",
  operationId: "dashboardStyle",
  tags: ["dashboard"],
  summary: "The dashboard's stylesheet",
  responses: { 200: text("text/css", "CSS") },
}, { open: true });

const diagramSvg = route({
  method: "get",
  path: "/dashboard/workflows/{id}/diagram.svg",
  operationId: "workflowDiagramSvg",
  tags: ["dashboard"],
  summary: "A workflow's graph as SVG, optionally with an execution's path highlighted",
  request: { params: WorkflowParams, query: DiagramQuery },
  responses: { 200: text("image/svg+xml", "SVG document"), 404: problem("Unknown workflow") },
});

/**
 * The public part of the dashboard, mounted before the token check: `GET /` (a redirect), the page shell,
 * its script and its stylesheet. None of them holds data; the script asks the token-protected API for it.
 */
export function dashboardRoutes(): OpenAPIHono<AppEnv> {
  const routes = api();
  const page = (assets: string) =>
    new Response(dashboardHtml(assets), {
      headers: { ...DASHBOARD_HEADERS, "content-type": "text/html; charset=utf-8" },
    });
  routes.openapi(redirect, (c) => c.redirect("/dashboard", 302));
  // `/dashboard` loads `dashboard/app.js`; `/dashboard/` (the same page, documented once) loads `app.js`.
  routes.openapi(dashboardPage, () => page("dashboard/"));
  routes.openapi({ ...dashboardPage, path: "/dashboard/", hide: true }, () => page(""));
  routes.openapi(dashboardScript, () =>
    new Response(DASHBOARD_SCRIPT, {
      headers: { ...DASHBOARD_HEADERS, "content-type": "text/javascript; charset=utf-8" },
    }));
  routes.openapi(dashboardStyle, () =>
    new Response(DASHBOARD_STYLE, {
      headers: { ...DASHBOARD_HEADERS, "content-type": "text/css; charset=utf-8" },
    }));
  return routes;
}

/**
 * The dashboard's data route, mounted after the token check (a diagram reveals a definition):
 * `GET /dashboard/workflows/:id/diagram.svg?highlight=a,b,c`.
 */
export function dashboardDataRoutes(): OpenAPIHono<AppEnv> {
  const routes = api();
  routes.openapi(diagramSvg, async (c) => {
    const workflow = await requireWorkflow(c.get("app"), c.req.valid("param").id);
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
