import { escapeXml } from "../../src/diagram/svg.ts";

/**
 * The page's Content-Security-Policy: scripts, styles and API calls from this origin only, no inline script
 * or style, no plugin, no frame, no form posting anywhere; Trusted Types on, with one policy (`dw-svg`) for
 * parsing the server's diagram, so any stray `innerHTML` in the script would throw instead of injecting.
 */
export const DASHBOARD_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types dw-svg",
].join("; ");

/** Headers of the page and its assets. */
export const DASHBOARD_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": DASHBOARD_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
  "cache-control": "no-cache",
};

/**
 * The page: a shell the script fills. It holds no data (everything comes from the token-protected API),
 * so it is served without the token. `assets` is the URL prefix of app.js / app.css (the page may be
 * reached as `/dashboard` or `/dashboard/`, or under a base path).
 */
export function dashboardHtml(assets: string): string {
  const base = escapeXml(assets);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>durable-workflow</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${base}app.css">
<script type="module" src="${base}app.js"></script>
</head>
<body>
<header class="topbar">
  <a class="brand" href="#/workflows">durable-workflow</a>
  <nav aria-label="Sections">
    <a href="#/workflows" data-nav="workflows">Workflows</a>
    <a href="#/executions" data-nav="executions">Executions</a>
  </nav>
  <button id="forget" type="button" hidden>Forget token</button>
</header>
<main id="view" aria-live="polite">
  <noscript><p>This dashboard needs JavaScript.</p></noscript>
</main>
</body>
</html>
`;
}
