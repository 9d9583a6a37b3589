import { spawn } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { extname, join, resolve } from "node:path";
import { CliError, type Command, type ParsedArgs, UsageError } from "./command.ts";

const TYPESCRIPT = new Set([".ts", ".tsx", ".mts", ".cts"]);

function port(value: string | boolean | undefined, option: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== "string" || !Number.isInteger(n) || n < 0 || n > 65535) {
    throw new UsageError(`--${option} must be a port number, got ${JSON.stringify(value)}`);
  }
  return n;
}

/**
 * `dev` needs Bun (its Redis bridge and QStash serve with Bun.serve): under Node it runs itself again with the
 * project's Bun (node_modules/.bin/bun), else with `npx bun`.
 */
function underBun(argv: string[]): Promise<number> {
  const local = join(process.cwd(), "node_modules", ".bin", "bun");
  const [command, ...prefix] = existsSync(local) ? [local] : ["npx", "bun"];
  const child = spawn(command!, [...prefix, process.argv[1]!, "dev", ...argv], { stdio: "inherit" });
  // Passed on (Ctrl-C in a terminal reaches the child as well; it stops the stack once), then this waits for it.
  for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
  return new Promise((resolvePromise, reject) => {
    child.on("error", (error) => reject(new CliError(`dev needs Bun and could not start it with npx bun: ${error.message}`)));
    child.on("exit", (code, signal) => resolvePromise(code ?? (signal ? 1 : 0)));
  });
}

/** The local servers live in their own package, so that an app's runtime dependencies stay what the engine needs. */
async function devServers() {
  try {
    const [qstash, bridge, stack] = await Promise.all([
      import("durable-workflow-edge-dev/qstash"),
      import("durable-workflow-edge-dev/bridge"),
      import("durable-workflow-edge-dev/stack"),
    ]);
    return { startQStashDev: qstash.startQStashDev, startBridge: bridge.startBridge, stack };
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    if (code === "ERR_MODULE_NOT_FOUND" || /Cannot find (package|module) .?durable-workflow-edge-dev/.test(message ?? "")) {
      throw new CliError("dev needs the local servers of durable-workflow-edge-dev: npm install -D durable-workflow-edge-dev");
    }
    throw error;
  }
}

async function serve({ values }: ParsedArgs): Promise<number> {
  const { startQStashDev, startBridge, stack } = await devServers();
  const appPath = resolve(typeof values.app === "string" ? values.app : "server.ts");
  const appPort = port(values.port, "port", port(process.env.PORT || undefined, "port (PORT)", 8787));
  const teardown = new stack.Teardown();
  const say = (line: string) => process.stdout.write(`${line}\n`);
  const warn = (line: string) => process.stderr.write(`durable-workflow dev: ${line}\n`);
  let finish: (code: number) => void = () => {};
  const finished = new Promise<number>((resolvePromise) => (finish = resolvePromise));
  const stopAll = (code: number) => void teardown.stopAll(warn).then(() => finish(code));
  process.on("SIGINT", () => stopAll(0));
  process.on("SIGTERM", () => stopAll(0));

  try {
    let redisUrl = typeof values["redis-url"] === "string" ? values["redis-url"] : undefined;
    if (!redisUrl) {
      const binary = stack.redisBinary();
      if (!binary) throw new CliError(`${stack.REDIS_MISSING}\nOr use a Redis you run: --redis-url redis://127.0.0.1:6379`);
      const dir = resolve(typeof values["data-dir"] === "string" ? values["data-dir"] : ".durable-workflow/redis");
      if (values.fresh) rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      const redisPort = stack.freePort();
      const redis = await stack.startRedisServer({ binary, port: redisPort, dir, appendOnly: true });
      teardown.add(`redis-server (pid ${redis.pid})`, () => stack.stopChild(redis));
      redisUrl = `redis://127.0.0.1:${redisPort}`;
      say(`redis-server      ${redisUrl}  (pid ${redis.pid}; data in ${dir})`);
    }
    const bridge = startBridge({ port: port(values["bridge-port"], "bridge-port", 0), redisUrl, token: stack.BRIDGE_TOKEN });
    teardown.add("bridge", () => bridge.stop());
    const qstash = startQStashDev({
      port: port(values["qstash-port"], "qstash-port", 0),
      retryDelayMs: 1000,
      ...(values.quiet ? {} : { log: (line: string) => say(`[qstash] ${line}`) }),
    });
    teardown.add("qstash-dev", () => qstash.stop());
    const appUrl = `http://127.0.0.1:${appPort}`;
    const env = stack.stackEnv(bridge.url, qstash.url, appUrl);

    const command = TYPESCRIPT.has(extname(appPath)) ? [process.execPath, appPath] : ["node", appPath];
    const app = Bun.spawn(command, {
      env: { ...process.env, ...env, PORT: String(appPort) },
      stdout: "pipe",
      stderr: "pipe",
    });
    teardown.add(`app (pid ${app.pid})`, () => stack.stopChild(app));
    void stack.relay(app.stdout, "[app]", say);
    void stack.relay(app.stderr, "[app]", (line) => process.stderr.write(`${line}\n`));
    void app.exited.then((code) => {
      if (teardown.stopping) return;
      warn(`the app exited with code ${code}; stopping`);
      stopAll(code || 1);
    });
    say(`Upstash REST      ${bridge.url}  (token ${stack.BRIDGE_TOKEN})`);
    say(`QStash            ${qstash.url}  (delivers to ${appUrl}/qstash; the app creates its own sweep schedule, as in production)`);
    say(`app               ${command.join(" ")}  (pid ${app.pid}) on ${appUrl}`);
    if (!(await stack.waitHealthy(appUrl, () => app.exitCode === null))) {
      if (!teardown.stopping) warn(`the app does not answer ${appUrl}/health yet (does it listen on $PORT?)`);
    } else {
      say(`ready: ${appUrl}  (dev-only keys; Ctrl-C stops everything)`);
    }
  } catch (error) {
    await teardown.stopAll(warn);
    throw error;
  }
  return finished;
}

export const dev: Command = {
  name: "dev",
  summary: "run your app on a local Redis + QStash (the production path)",
  help: `Usage: durable-workflow dev [--app server.ts] [--port N]

Runs your app on the production path, locally: a private redis-server behind an Upstash REST bridge, a
local QStash (qstash-dev, signing with the Upstash SDK's public dev keys). The app gets the environment a
deployment sets (UPSTASH_REDIS_REST_URL/TOKEN, QSTASH_URL/TOKEN, the signing keys, DW_PUBLIC_URL, PORT), so an
app built with appOptionsFromEnv uses Redis and QStash as in production: waits and timeouts are delayed QStash
messages, and the app creates its sweep schedule ({"action":"sweep"} to its /qstash every minute) itself.
Ctrl-C stops everything.

A TypeScript app (.ts, .tsx, .mts) runs with Bun (npx bun <app>), which serves its default export
{ fetch } on $PORT. Any other module runs with Node and must start its own server on $PORT.
dev itself runs under Bun (npx bun), and needs redis-server (apt-get install redis-server,
brew install redis) unless --redis-url is given.

Options:
  --app <module>        the app's entry module (default server.ts)
  --port <N>            the app's port (default $PORT, else 8787)
  --redis-url <URL>     use this Redis instead of starting redis-server
  --data-dir <dir>      redis-server's data (append-only file; default .durable-workflow/redis)
  --fresh               start from an empty Redis
  --bridge-port <N>     the Upstash REST bridge's port (default: a free one)
  --qstash-port <N>     qstash-dev's port (default: a free one)
  --quiet               do not log every QStash publish and delivery`,
  options: {
    app: { type: "string" },
    port: { type: "string" },
    "redis-url": { type: "string" },
    "data-dir": { type: "string" },
    fresh: { type: "boolean" },
    "bridge-port": { type: "string" },
    "qstash-port": { type: "string" },
    quiet: { type: "boolean" },
  },
  async run(args) {
    if (args.positionals.length) throw new UsageError(`dev takes no positional arguments (the app is --app ${args.positionals[0]})`);
    if (typeof Bun === "undefined") return underBun(process.argv.slice(3));
    return serve(args);
  },
};
