/**
 * Server entry for Bun and Deno (and Deno Deploy): `export default { fetch, port }` is what `bun main.ts`
 * and `deno serve main.ts` both serve. Configuration comes from environment variables through
 * appOptionsFromEnv (the same as worker.ts; docs/deploy.md lists them). With none set — `npm start` —
 * it is the zero-setup dev server: MemoryStore, in-process async queue, the example workflows, port 8787.
 *
 *   npm start                                           # bun main.ts
 *   PORT=3000 bun main.ts
 *   deno serve --port 8787 --allow-net --allow-env main.ts
 */
import { Redis } from "@upstash/redis";
import { loadExamples } from "./examples/index.ts";
import { ConfigError, createApp } from "./mod.ts";
import { appOptionsFromEnv, syncCronSchedules, VERSION } from "./config-from-env.ts";
import { errorText, Log } from "./src/log.ts";

interface RuntimeGlobals {
  Deno?: {
    env: { toObject(): Record<string, string> };
    cron?: (name: string, schedule: string, fn: () => Promise<void>) => void;
    exit(code: number): never;
  };
  process?: { env: Record<string, string | undefined>; exit(code: number): never };
}

/** The process environment of whichever runtime this is (Deno needs --allow-env). */
function readEnv(): Record<string, string | undefined> {
  const runtime = globalThis as RuntimeGlobals;
  if (runtime.Deno) return runtime.Deno.env.toObject();
  return runtime.process?.env ?? {};
}

function portOf(value: string | undefined): number {
  if (value === undefined || value.trim() === "") return 8787;
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`PORT must be a port number (0-65535), got ${JSON.stringify(value)}`);
  }
  return port;
}

/** A configuration mistake is one line naming it, and exit code 1 — not a stack trace. */
function configured<T>(build: () => T): T {
  try {
    return build();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(`durable-workflow: ${error.message}`);
    const runtime = globalThis as RuntimeGlobals;
    return (runtime.Deno ?? runtime.process)!.exit(1);
  }
}

const env = readEnv();
const { port, examples, options, app } = configured(() => {
  const examples = loadExamples();
  const options = appOptionsFromEnv(env, { ...examples, Redis });
  return { port: portOf(env.PORT), examples, options, app: createApp(options) };
});

/**
 * Time fires from start-up, not from the first request, so a restarted server with no traffic still runs its due
 * jobs and sweeps: the app's ticker (DW_TICK_SECONDS, DW_SWEEP_SECONDS), or with QStash its sweep schedule. On Deno
 * Deploy, where an idle isolate may be stopped, Deno.cron also ticks once a minute.
 */
const log = options.logger instanceof Log ? options.logger : new Log();
void app.start();
const cron = (globalThis as RuntimeGlobals).Deno?.cron;
if (cron && options.ticker !== false) {
  cron(
    "durable-workflow tick",
    "* * * * *",
    () => app.tick().then(() => undefined, (error) => log.error("tick failed", { error: errorText(error) })),
  );
}
// With QStash: a schedule per cron trigger (created at start-up, removed with its trigger).
syncCronSchedules(env, options).then(
  (synced) => synced && log.info("cron trigger schedules synced", { ...synced }),
  (error) => log.error("cron trigger schedules could not be synced", { error: errorText(error) }),
);

/** How to try it: printed once the server listens. */
function banner(base: string): string {
  const auth = options.token ? ` -H "Authorization: Bearer $DW_API_TOKEN"` : "";
  const post = (path: string, body: unknown) =>
    `  curl -X POST ${base}${path}${auth} -H 'content-type: application/json' -d '${JSON.stringify(body)}'`;
  const order = {
    order_id: "A-1",
    customer_id: "C-1",
    items: [{ sku: "WIDGET", quantity: 2, price: 19.99 }],
    payment: { card: "4242424242424242" },
  };
  return [
    `durable-workflow ${VERSION} listening on ${base}  (workflows: ${examples.workflows.map((w) => w.id).join(", ")})`,
    "Try it:",
    `  curl ${base}/health`,
    post("/workflows/greeting/executions", { mode: "sync", input: { name: "Ada" } }),
    post("/workflows/order_fulfillment/executions", { mode: "sync", input: order }),
    "  # an order over 1000 halts for a manager's approval; answer it with:",
    `  #   curl -X POST ${base}/executions/<executionId>/resume${auth} -H 'content-type: application/json' -d '{"approved":true,"mode":"sync"}'`,
    "More: README.md (HTTP API) and docs/deploy.md.",
  ].join("\n");
}

const isDeno = "Deno" in globalThis;
// Bun serves the default export after this module has run; Deno calls onListen.
if (!isDeno) console.log(banner(`http://localhost:${port}`));

export default {
  port,
  fetch: (request: Request) => app.fetch(request),
  onListen(addr: { hostname?: string; port?: number }) {
    const host = !addr.hostname || addr.hostname === "0.0.0.0" || addr.hostname === "::" ? "localhost" : addr.hostname;
    console.log(banner(`http://${host}:${addr.port ?? port}`));
  },
};
