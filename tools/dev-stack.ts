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
 * Ports: --port 8787 (app), --bridge-port 8079, --qstash-port 8080. Redis data lives in .dev-stack/redis
 * (append-only file; --data-dir to move it), so halted executions survive a restart of the stack. Children (redis-server, the
 * app) are stopped by their own PID; nothing else on the machine is touched.
 */
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";
import { DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY, DEV_QSTASH_TOKEN, startQStashDev } from "./qstash-dev/index.ts";
import { startBridge } from "./upstash-redis-bridge.ts";

const ROOT = join(import.meta.dir, "..");
const BRIDGE_TOKEN = "dev-token";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8787" },
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
  console.log("usage: bun tools/dev-stack.ts [--port 8787] [--bridge-port 8079] [--qstash-port 8080] [--redis-url URL] [--data-dir DIR] [--no-app] [--deno] [--fresh] [--quiet]");
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

/** Everything started, stopped in reverse order. */
const stops: { name: string; stop: () => Promise<void> | void }[] = [];
let stopping: Promise<void> | undefined;

/** Stops everything once (a second Ctrl-C waits for the first), then exits. */
async function stopAll(code: number): Promise<never> {
  stopping ??= (async () => {
    for (const { name, stop } of stops.reverse()) {
      try {
        await stop();
      } catch (error) {
        console.error(`dev-stack: stopping ${name}: ${error instanceof Error ? error.message : error}`);
      }
    }
    console.log("dev-stack: stopped");
  })();
  await stopping;
  process.exit(code);
}
process.on("SIGINT", () => void stopAll(0));
process.on("SIGTERM", () => void stopAll(0));

/** Stops a child by its PID: SIGTERM, then SIGKILL after 3 s. */
async function stopChild(proc: Bun.Subprocess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  process.kill(proc.pid, "SIGTERM");
  const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(3000).then(() => false)]);
  if (!exited) process.kill(proc.pid, "SIGKILL");
  await proc.exited;
}

/** Copies a child's output line by line, each prefixed with its name. */
async function relay(stream: ReadableStream<Uint8Array>, prefix: string, write: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  const reader = stream.getReader();
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    pending += decoder.decode(read.value, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) write(`${prefix} ${line}`);
  }
  if (pending) write(`${prefix} ${pending}`);
}

function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

async function ping(port: number): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open: (socket) => void socket.write("PING\r\n"),
        data(socket, data) {
          resolve(new TextDecoder().decode(data).startsWith("+PONG"));
          socket.end();
        },
        connectError: () => resolve(false),
        error: () => resolve(false),
      },
    }).catch(() => resolve(false));
  });
}

/** A private redis-server on a free loopback port, its data in .dev-stack/redis. */
async function startRedis(): Promise<{ url: string; pid: number; dir: string }> {
  const binary = process.env.REDIS_SERVER ?? Bun.which("redis-server");
  if (!binary || !existsSync(binary)) {
    fail(
      [
        "redis-server is not installed, and the stack needs a Redis behind the Upstash REST bridge.",
        "  Debian/Ubuntu: sudo apt-get install -y redis-server   (it starts no service by itself)",
        "  macOS:         brew install redis",
        "Or point the stack at a Redis you run:   npm run dev:stack -- --redis-url redis://127.0.0.1:6379",
        "Or skip Redis altogether:                npm start   (MemoryStore, nothing to install)",
      ].join("\n"),
    );
  }
  const dir = values["data-dir"] ? resolve(values["data-dir"]) : join(ROOT, ".dev-stack", "redis");
  if (values.fresh) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const port = freePort();
  const proc = Bun.spawn(
    [binary, "--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--save", "", "--appendonly", "yes", "--loglevel", "warning", "--logfile", "redis.log"],
    { stdout: "ignore", stderr: "pipe" },
  );
  stops.push({ name: `redis-server (pid ${proc.pid})`, stop: () => stopChild(proc) });
  void relay(proc.stderr, "[redis]", console.error);
  for (let attempt = 0; attempt < 200; attempt++) {
    if (proc.exitCode !== null) return stopAll(1);
    if (await ping(port)) return { url: `redis://127.0.0.1:${port}`, pid: proc.pid, dir };
    await Bun.sleep(25);
  }
  console.error(`dev-stack: redis-server did not answer PING on port ${port}`);
  return stopAll(1);
}

async function listen<T>(what: string, port: number, start: () => T): Promise<T> {
  try {
    return start();
  } catch (error) {
    console.error(`dev-stack: cannot start ${what} on port ${port} (in use? pick another with the --*-port flags): ${error instanceof Error ? error.message : error}`);
    return stopAll(1);
  }
}

const redis = values["redis-url"] ? undefined : await startRedis();
const redisUrl = values["redis-url"] ?? redis!.url;

const bridge = await listen("the Upstash REST bridge", bridgePort, () => startBridge({ port: bridgePort, redisUrl, token: BRIDGE_TOKEN }));
stops.push({ name: "bridge", stop: () => bridge.stop() });

const qstash = await listen("qstash-dev", qstashPort, () =>
  startQStashDev({
    port: qstashPort,
    retryDelayMs: 1000,
    ...(values.quiet ? {} : { log: (line: string) => console.log(`[qstash] ${line}`) }),
  }),
);
stops.push({ name: "qstash-dev", stop: () => qstash.stop() });

const appUrl = `http://127.0.0.1:${appPort}`;
const env: Record<string, string> = {
  UPSTASH_REDIS_REST_URL: bridge.url,
  UPSTASH_REDIS_REST_TOKEN: BRIDGE_TOKEN,
  QSTASH_URL: qstash.url,
  QSTASH_TOKEN: DEV_QSTASH_TOKEN,
  QSTASH_CURRENT_SIGNING_KEY: DEV_CURRENT_SIGNING_KEY,
  QSTASH_NEXT_SIGNING_KEY: DEV_NEXT_SIGNING_KEY,
  DW_PUBLIC_URL: appUrl,
};

let appPid: number | undefined;
if (!values["no-app"]) {
  const deno = join(ROOT, "node_modules/.bin/deno");
  const command = values.deno
    ? [deno, "serve", "--port", String(appPort), "--allow-net", "--allow-env", "main.ts"]
    : [process.execPath, "main.ts"];
  const app = Bun.spawn(command, {
    cwd: ROOT,
    env: { ...process.env, ...env, PORT: String(appPort) },
    stdout: "pipe",
    stderr: "pipe",
  });
  appPid = app.pid;
  stops.push({ name: `app (pid ${app.pid})`, stop: () => stopChild(app) });
  void relay(app.stdout, "[app]", console.log);
  void relay(app.stderr, "[app]", console.error);
  void app.exited.then((code) => {
    if (stopping) return;
    console.error(`dev-stack: the app exited with code ${code}; stopping the stack`);
    void stopAll(code || 1);
  });
}

console.log(
  [
    "",
    "dev-stack (dev-only keys: the Upstash SDK's public dev constants, never for a deployment)",
    `  redis             ${redisUrl}${redis ? `  (private, pid ${redis.pid}; data and redis.log in ${relative(ROOT, redis.dir) || "."}${values.fresh ? ", started empty" : ""})` : ""}`,
    `  Upstash REST      ${bridge.url}  (token ${BRIDGE_TOKEN})`,
    `  QStash            ${qstash.url}  (delivers to ${appUrl}/qstash)`,
    values["no-app"] ? "  app               not started (--no-app): run it with the environment below" : `  app               ${appUrl}  (${values.deno ? "deno serve" : "bun"} main.ts, pid ${appPid})`,
    "",
    "Environment of the app:",
    ...Object.entries(env).map(([name, value]) => `  export ${name}=${value}`),
    "",
  ].join("\n"),
);

console.log("Ctrl-C stops everything.");
