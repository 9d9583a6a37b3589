import { beforeAll, describe, expect, test } from "bun:test";
import { DASHBOARD_SCRIPT as GENERATED_SCRIPT } from "../../../routes/dashboard/app.generated.ts";
import { DASHBOARD_CSP } from "../../../routes/dashboard/index.ts";
import { setup, TOKEN } from "../../support/routes.ts";

const bearer = { authorization: `Bearer ${TOKEN}` };
const DIAGRAM = "/dashboard/workflows/order_fulfillment/diagram.svg";

describe("the dashboard page", () => {
  test("is served without the token", async () => {
    const { app } = setup({ token: TOKEN });
    const response = await app.request("/dashboard");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
  });

  test("is served at /dashboard/ too, with asset paths that resolve to the same files", async () => {
    const { app } = setup({ token: TOKEN });
    const src = async (path: string) => {
      const response = await app.request(path);
      expect(response.status).toBe(200);
      return new URL(/src="([^"]+)"/.exec(await response.text())![1]!, `http://localhost${path}`).pathname;
    };
    expect(await src("/dashboard")).toBe("/dashboard/app.js");
    expect(await src("/dashboard/")).toBe("/dashboard/app.js");
  });

  test("its script and stylesheet are served without the token", async () => {
    const { app } = setup({ token: TOKEN });
    const script = await app.request("/dashboard/app.js");
    const style = await app.request("/dashboard/app.css");
    expect([script.status, script.headers.get("content-type")]).toEqual([200, "text/javascript; charset=utf-8"]);
    expect([style.status, style.headers.get("content-type")]).toEqual([200, "text/css; charset=utf-8"]);
  });

  test("sends a strict Content-Security-Policy: scripts and styles from its origin only, nothing inline", async () => {
    const { app } = setup({ token: TOKEN });
    const csp = (await app.request("/dashboard")).headers.get("content-security-policy")!;
    expect(csp).toBe(DASHBOARD_CSP);
    const directives = Object.fromEntries(csp.split(";").map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name, values]));
    expect(directives["default-src"]).toEqual(["'none'"]);
    expect(directives["script-src"]).toEqual(["'self'"]);
    expect(directives["style-src"]).toEqual(["'self'"]);
    expect(directives["connect-src"]).toEqual(["'self'"]);
    expect(directives["frame-ancestors"]).toEqual(["'none'"]);
    expect(csp).not.toContain("unsafe");
  });

  test("sends nosniff and no referrer", async () => {
    const { app } = setup({ token: TOKEN });
    const response = await app.request("/dashboard");
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("referrer-policy")).toBe("no-referrer");
  });

  test("has no inline script or style", async () => {
    const { app } = setup({ token: TOKEN });
    const html = await (await app.request("/dashboard")).text();
    expect(html.match(/<script\b[^>]*>/g)).toEqual(['<script type="module" src="dashboard/app.js">']);
    expect(html).toMatch(/<script[^>]*><\/script>/);
    expect(html).not.toMatch(/<style|\sstyle=|\son[a-z]+=/i);
  });

  test("holds no data: no workflow appears in it", async () => {
    const { app } = setup({ token: TOKEN });
    const html = await (await app.request("/dashboard")).text();
    expect(html).not.toContain("order_fulfillment");
    expect(html).not.toContain("Order fulfillment");
  });
});

describe("the dashboard script", () => {
  const served = async (path: string) => (await setup({ token: TOKEN }).app.request(path)).text();
  let DASHBOARD_SCRIPT = "";
  beforeAll(async () => {
    DASHBOARD_SCRIPT = await served("/dashboard/app.js");
  });

  test("is the bundle generated from routes/dashboard/src/ (and the stylesheet is style.css)", async () => {
    expect(DASHBOARD_SCRIPT).toBe(GENERATED_SCRIPT);
    expect(await served("/dashboard/app.css")).toBe(await Bun.file(new URL("../../../routes/dashboard/style.css", import.meta.url)).text());
  });

  test("is valid JavaScript", () => {
    expect(() => new Function(DASHBOARD_SCRIPT)).not.toThrow();
  });

  test("never turns a string into markup but the server's SVG, through its Trusted Types policy", () => {
    expect(DASHBOARD_SCRIPT).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function/);
    expect(DASHBOARD_SCRIPT.match(/parseFromString\(/g)).toHaveLength(1);
    expect(DASHBOARD_SCRIPT).toContain('createPolicy("dw-svg"');
  });

  test("logs nothing", () => {
    expect(DASHBOARD_SCRIPT).not.toMatch(/console\./);
  });
});

describe("the diagram route", () => {
  test("needs the token", async () => {
    const { app } = setup({ token: TOKEN });
    expect((await app.request(DIAGRAM)).status).toBe(401);
  });

  test("answers the workflow's SVG with the token", async () => {
    const { app } = setup({ token: TOKEN });
    const response = await app.request(DIAGRAM, { headers: bearer });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("image/svg+xml; charset=utf-8");
    expect(await response.text()).toContain('data-step="manager_approval"');
  });

  test("is sent with nosniff, a CSP that allows nothing, and no caching", async () => {
    const { app } = setup({ token: TOKEN });
    const response = await app.request(DIAGRAM, { headers: bearer });
    expect(response.headers.get("x-content-type-options")).toBe("nosniff");
    expect(response.headers.get("content-security-policy")).toBe("default-src 'none'");
    expect(response.headers.get("cache-control")).toBe("private, no-store");
  });

  test("highlights the steps named in ?highlight=", async () => {
    const { app } = setup({ token: TOKEN });
    const svg = await (await app.request(`${DIAGRAM}?highlight=start,init,validate`, { headers: bearer })).text();
    expect(svg.split("\n").find((line) => line.includes('data-step="validate"'))).toContain("dw-current");
  });

  test("is 404 for a workflow the app does not serve", async () => {
    const { app } = setup({ token: TOKEN });
    const response = await app.request("/dashboard/workflows/nope/diagram.svg", { headers: bearer });
    expect(response.status).toBe(404);
    expect(response.headers.get("content-type")).toBe("application/problem+json");
  });

  test("is open when the app has no token, like the rest of the API", async () => {
    const { app } = setup();
    expect((await app.request(DIAGRAM)).status).toBe(200);
  });
});

describe("with the dashboard mounted", () => {
  test("the data routes still need the token", async () => {
    const { app } = setup({ token: TOKEN });
    for (
      const path of [
        "/workflows",
        "/workflows/order_fulfillment",
        "/executions",
        "/executions/x/entries",
        "/dashboard/other",
        "/dashboard/workflows",
      ]
    ) {
      expect(`${path} ${(await app.request(path)).status}`).toBe(`${path} 401`);
    }
  });
});
