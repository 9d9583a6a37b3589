// @ts-check
/**
 * The dashboard's browser script (bundled into `/dashboard/app.js` by tools/build-dashboard.ts): wires the top
 * bar, the router and the token gate, and shows the page the URL's hash names.
 */
import { whenUnauthorized } from "./api.js";
import { apiIsOpen } from "./gate.js";
import { lock, render } from "./router.js";
import { session } from "./session.js";
import { zoneSwitch } from "./time.js";

async function start() {
  whenUnauthorized(() => lock("The server refused the token (401). Enter it again."));
  document.getElementById("forget")?.addEventListener("click", () => lock(""));
  document.querySelector(".topbar nav")?.after(zoneSwitch(render));
  globalThis.addEventListener("hashchange", render);
  if (session.token) {
    session.ready = true;
  } else if (await apiIsOpen()) {
    // An API without a token (local development) needs no gate.
    session.open = true;
    session.ready = true;
  }
  render();
}

start();
