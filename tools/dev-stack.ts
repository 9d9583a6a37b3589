/**
 * dev-stack — the production path on a laptop: a private redis-server, the Upstash REST bridge in front of
 * it, the local QStash (qstash-dev), and the app (main.ts) pointed at them through the same environment
 * variables a deployment uses (UpstashRedisStore + QStashAdapter, callback = <app URL>/qstash).
 *
 *   npm run dev:stack                       # everything; Ctrl-C stops it all
 *   npm run dev:stack -- --deno             # the app under `deno serve` instead of Bun
 *   npm run dev:stack -- --no-app           # only Redis + bridge + QStash (for `wrangler dev` with .dev.vars)
 *   npm run dev:stack -- --fresh            # start from an empty Redis
 *   npm run dev:stack -- --redis-url redis://127.0.0.1:6379   # use a Redis you run yourself
 *
 * Ports: --port (app; default $PORT, else 8787), --bridge-port 8079, --qstash-port 8080. Redis data lives in
 * .dev-stack/redis (append-only file; --data-dir to move it), so halted executions survive a restart of the
 * stack. Recovery runs as in production: a QStash schedule posts {"action":"sweep"} to the app's /qstash every
 * minute, and the app's own sweep timer is off (DW_SWEEP_SECONDS=0).
 */
import { mkdirSync, rmSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Client } from "@upstash/qstash";
import { DEV_QSTASH_TOKEN, startQStashDev } from "durable-workflow-edge-dev/qstash";
import {
  BRIDGE_TOKEN,
  freePort,
  REDIS_MISSING,
  redisBinary,
  relay,
  stackEnv,
  startRedisServer,
  stopChild,
  Teardown,
} from "durable-workflow-edge-dev/stack";
import { startBridge } from "durable-workflow-edge-dev/bridge";
import { ensureSweepSchedule, QStashAdapter } from "../src/runners/adapters/qstash.ts";

const ROOT = join(import.meta.dir, "..");

const { values } = parseArgs({
  options: {
    port: { type: "string", default: process.env.PORT || "8787" },
    "bridge-port": { type: "string", default: "8079" },
    "qstash-port": { type: "string", default: "8080" },
    "redis-url": { type: "string" },
    "data-dir": { type: "string" },
    "no-app": { type: "boolean", default: false },
    deno: { type: "boolean", default: false },
    fresh: { type: "boolean", default: false },
    quiet: { type: "boolean", default: false },
    help: { type: "boolean", short: "h", default: false },
  },
});

if (values.help) {
  console.log(
    "usage: bun tools/dev-stack.ts [--port $PORT|8787] [--bridge-port 8079] [--qstash-port 8080] [--redis-url URL] [--data-dir DIR] [--no-app] [--deno] [--fresh] [--quiet]",
  );
  process.exit(0);
}

function portOption(name: "port" | "bridge-port" | "qstash-port"): number {
  const port = Number(values[name]);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--${name} must be a port number, got ${values[name]}`);
  return port;
}

function fail(message: string): never {
  console.error(`dev-stack: ${message}`);
  process.exit(1);
}

const appPort = portOption("port");
const bridgePort = portOption("bridge-port");
const qstashPort = portOption("qstash-port");

const teardown = new Teardown();

/** Stops everything once, then exits. */
async function stopAll(code: number): Promise<never> {
  const first = !teardown.stopping;
  await teardown.stopAll((line) => console.error(`dev-stack: ${line}`));
  if (first) console.log("dev-stack: stopped");
  process.exit(code);
}
process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

/** A private redis-server on a free loopback port, its data in .dev-stack/redis. */
async function startRedis(): Promise<{ url: string; pid: number; dir: string }> {
  const binary = redisBinary();
  if (!binary) {
    fail(
      `${REDIS_MISSING}\nOr point the stack at a Redis you run:   npm run dev:stack -- --redis-url redis://127.0.0.1:6379\n` +
        "Or skip Redis altogether:                npm start   (MemoryStore, nothing to install)",
    );
  }
  const dir = values["data-dir"] ? resolve(values["data-dir"]) : join(ROOT, ".dev-stack", "redis");
  if (values.fresh) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const port = freePort();
  try {
    const proc = await startRedisServer({ binary, port, dir, appendOnly: true });
    teardown.add(`redis-server (pid ${proc.pid})`, () => stopChild(proc));
    void relay(proc.stderr, "[redis]", console.error);
    return { url: `redis://127.0.0.1:${port}`, pid: proc.pid, dir };
  } catch (error) {
    console.error(`dev-stack: ${error instanceof Error ? error.message : error}`);
    return stopAll(1);
  }
}

async function listen<T>(what: string, port: number, start: () => T): Promise<T> {
  try {
    return start();
  } catch (error) {
    console.error(
      `dev-stack: cannot start ${what} on port ${port} (in use? pick another with the --*-port flags): ${
        error instanceof Error ? error.message : error
      }`,
    );
    return stopAll(1);
  }
}

const redis = values["redis-url"] ? undefined : await startRedis();
const redisUrl = values["redis-url"] ?? redis!.url;

const bridge = await listen("the Upstash REST bridge", bridgePort, () => startBridge({ port: bridgePort, redisUrl, token: BRIDGE_TOKEN }));
teardown.add("bridge", () => bridge.stop());

const qstash = await listen("qstash-dev", qstashPort, () =>
  startQStashDev({
    port: qstashPort,
    retryDelayMs: 1000,
    ...(values.quiet ? {} : { log: (line: string) => console.log(`[qstash] ${line}`) }),
  }));
teardown.add("qstash-dev", () => qstash.stop());

const appUrl = `http://127.0.0.1:${appPort}`;
const env = stackEnv(bridge.url, qstash.url, appUrl);
// Under the fixed id the app makes sure of itself at its first use: it finds this one in place (also for --no-app).
const { scheduleId } = await ensureSweepSchedule(
  new QStashAdapter({ client: new Client({ token: DEV_QSTASH_TOKEN, baseUrl: qstash.url }), callbackUrl: `${appUrl}/qstash` }),
);

let appPid: number | undefined;
if (!values["no-app"]) {
  const deno = join(ROOT, "node_modules/.bin/deno");
  const command = values.deno
    ? [deno, "serve", "--port", String(appPort), "--allow-net", "--allow-env", "main.ts"]
    : [process.execPath, "main.ts"];
  const app = Bun.spawn(command, {
    cwd: ROOT,
    env: { ...process.env, ...env, DW_SWEEP_SECONDS: "0", PORT: String(appPort) },
    stdout: "pipe",
    stderr: "pipe",
  });
  appPid = app.pid;
  teardown.add(`app (pid ${app.pid})`, () => stopChild(app));
  void relay(app.stdout, "[app]", console.log);
  void relay(app.stderr, "[app]", console.error);
  void app.exited.then((code) => {
    if (teardown.stopping) return;
    console.error(`dev-stack: the app exited with code ${code}; stopping the stack`);
    void stopAll(code || 1);
  });
}

console.log(
  [
    "",
    "dev-stack (dev-only keys: the Upstash SDK's public dev constants, never for a deployment)",
    `  redis             ${redisUrl}${
      redis
        ? `  (private, pid ${redis.pid}; data and redis.log in ${relative(ROOT, redis.dir) || "."}${values.fresh ? ", started empty" : ""})`
        : ""
    }`,
    `  Upstash REST      ${bridge.url}  (token ${BRIDGE_TOKEN})`,
    `  QStash            ${qstash.url}  (delivers to ${appUrl}/qstash)`,
    `  sweeper           QStash schedule ${scheduleId}: {"action":"sweep"} to ${appUrl}/qstash every minute`,
    values["no-app"]
      ? "  app               not started (--no-app): run it with the environment below"
      : `  app               ${appUrl}  (${values.deno ? "deno serve" : "bun"} main.ts, pid ${appPid})`,
    "",
    "Environment of the app:",
    ...Object.entries(env).map(([name, value]) => `  export ${name}=${value}`),
    "  export DW_SWEEP_SECONDS=0   # the QStash schedule sweeps",
    "",
  ].join("\n"),
);

console.log("Ctrl-C stops everything.");
