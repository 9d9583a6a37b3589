/**
 * The local production path, as parts: a private redis-server, the Upstash REST bridge in front of it, qstash-dev,
 * the app's environment for them, and a QStash schedule that sweeps every minute. `npm run dev:stack`,
 * `durable-workflow dev` and bench/chaos.ts assemble these. Needs Bun (Bun.spawn, Bun.serve). Children are
 * stopped by their own PID; nothing else on the machine is touched.
 */
import { Client } from "@upstash/qstash";
import { existsSync } from "node:fs";
import { DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY, DEV_QSTASH_TOKEN } from "./qstash-dev/defaults.ts";

export const BRIDGE_TOKEN = "dev-token";

/** Stops a child by its PID: SIGTERM, then SIGKILL after 3 s. */
export async function stopChild(proc: Bun.Subprocess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  process.kill(proc.pid, "SIGTERM");
  const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(3000).then(() => false)]);
  if (!exited) process.kill(proc.pid, "SIGKILL");
  await proc.exited;
}

/** Calls `each` with every line of a child's output as it arrives (without its newline; a last unterminated one too). */
export async function eachLine(stream: ReadableStream<Uint8Array>, each: (line: string) => void): Promise<void> {
  const decoder = new TextDecoder();
  let pending = "";
  const reader = stream.getReader();
  for (let read = await reader.read(); !read.done; read = await reader.read()) {
    pending += decoder.decode(read.value, { stream: true });
    const lines = pending.split("\n");
    pending = lines.pop()!;
    for (const line of lines) each(line);
  }
  if (pending) each(pending);
}

/** Copies a child's output line by line, each prefixed with its name. */
export function relay(stream: ReadableStream<Uint8Array>, prefix: string, write: (line: string) => void): Promise<void> {
  return eachLine(stream, (line) => write(`${prefix} ${line}`));
}

/** A loopback port that was free a moment ago. */
export function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

/** Whether a Redis answers PING on this loopback port. */
export async function pingRedis(port: number): Promise<boolean> {
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

export const REDIS_MISSING = [
  "redis-server is not installed, and the stack needs a Redis behind the Upstash REST bridge.",
  "  Debian/Ubuntu: sudo apt-get install -y redis-server   (it starts no service by itself)",
  "  macOS:         brew install redis",
].join("\n");

/** The redis-server binary (REDIS_SERVER, else on PATH), or undefined. */
export function redisBinary(): string | undefined {
  const binary = process.env.REDIS_SERVER ?? Bun.which("redis-server") ?? undefined;
  return binary && existsSync(binary) ? binary : undefined;
}

export interface RedisServerOptions {
  binary: string;
  port: number;
  /** Where its files go (and redis.log). */
  dir: string;
  /** Keep an append-only file, so data survives a restart of the stack (default: nothing is kept on disk). */
  appendOnly?: boolean;
}

/** Starts redis-server on a loopback port and waits for PING; throws if it exits or never answers. */
export async function startRedisServer(options: RedisServerOptions): Promise<Bun.Subprocess<"ignore", "ignore", "pipe">> {
  const proc = Bun.spawn(
    [
      options.binary,
      "--port",
      String(options.port),
      "--bind",
      "127.0.0.1",
      "--dir",
      options.dir,
      "--save",
      "",
      "--appendonly",
      options.appendOnly ? "yes" : "no",
      "--loglevel",
      "warning",
      "--logfile",
      "redis.log",
    ],
    { stdout: "ignore", stderr: "pipe" },
  );
  for (let attempt = 0; attempt < 200; attempt++) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with code ${proc.exitCode} (see ${options.dir}/redis.log)`);
    if (await pingRedis(options.port)) return proc;
    await Bun.sleep(25);
  }
  await stopChild(proc);
  throw new Error(`redis-server did not answer PING on port ${options.port}`);
}

/**
 * Bun's fetch keeps at most 64 idle connections per host: with more requests in flight (200 concurrent runs each
 * waiting on a commit), every response past the 64th closes its connection and the next request opens a new one
 * (bench/concurrency.ts: one bridge request in four to six). Capping fetch's requests in flight at the pool's size keeps
 * every connection alive; the requests past it wait in Bun's queue instead of paying a TCP handshake.
 */
const BUN_FETCH_LIMIT = { BUN_CONFIG_MAX_HTTP_REQUESTS: "64" };

/**
 * The environment that points an app at the bridge and qstash-dev (the variables a deployment sets), plus
 * BUN_FETCH_LIMIT for a Bun app (other runtimes ignore it).
 */
export function stackEnv(bridgeUrl: string, qstashUrl: string, appUrl: string): Record<string, string> {
  return {
    ...BUN_FETCH_LIMIT,
    UPSTASH_REDIS_REST_URL: bridgeUrl,
    UPSTASH_REDIS_REST_TOKEN: BRIDGE_TOKEN,
    QSTASH_URL: qstashUrl,
    QSTASH_TOKEN: DEV_QSTASH_TOKEN,
    QSTASH_CURRENT_SIGNING_KEY: DEV_CURRENT_SIGNING_KEY,
    QSTASH_NEXT_SIGNING_KEY: DEV_NEXT_SIGNING_KEY,
    DW_PUBLIC_URL: appUrl,
  };
}

/**
 * The production recovery path: a QStash schedule posting `{"action":"sweep"}` to `<appUrl>/qstash` every minute,
 * created through the SDK as a deployment would. Resolves with its id.
 */
export async function createSweepSchedule(qstashUrl: string, appUrl: string): Promise<string> {
  const client = new Client({ token: DEV_QSTASH_TOKEN, baseUrl: qstashUrl });
  const { scheduleId } = await client.schedules.create({
    destination: `${appUrl}/qstash`,
    cron: "* * * * *",
    body: JSON.stringify({ action: "sweep" }),
    headers: { "content-type": "application/json" },
  });
  return scheduleId;
}

/** Polls `<url>/health` until it answers 200; false if `alive()` turns false or `timeoutMs` passes first. */
export async function waitHealthy(url: string, alive: () => boolean, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && alive()) {
    try {
      const response = await fetch(`${url}/health`);
      await response.arrayBuffer();
      if (response.status === 200) return true;
    } catch {
      // not listening yet
    }
    await Bun.sleep(50);
  }
  return false;
}

/** What was started, stopped in reverse order, once (a second call waits for the first). */
export class Teardown {
  readonly #stops: { name: string; stop: () => Promise<void> | void }[] = [];
  #stopping: Promise<void> | undefined;

  add(name: string, stop: () => Promise<void> | void): void {
    this.#stops.push({ name, stop });
  }

  get stopping(): boolean {
    return this.#stopping !== undefined;
  }

  /** Stops everything; a failure to stop one part is reported through `warn` and the rest still stop. */
  stopAll(warn: (line: string) => void): Promise<void> {
    this.#stopping ??= (async () => {
      for (const { name, stop } of this.#stops.reverse()) {
        try {
          await stop();
        } catch (error) {
          warn(`stopping ${name}: ${error instanceof Error ? error.message : error}`);
        }
      }
    })();
    return this.#stopping;
  }
}
