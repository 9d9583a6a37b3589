/**
 * A private redis-server plus the Upstash REST bridge, for tests. Never touches a Redis already running
 * on the machine: it starts its own on a free loopback port and stops exactly the process it spawned.
 */
import { existsSync } from "node:fs";
import { Redis } from "@upstash/redis";
import { type BridgeStats, startBridge } from "durable-workflow-edge-dev/bridge";

const REDIS_SERVER = process.env.REDIS_SERVER ?? "/usr/bin/redis-server";

/**
 * Whether the Redis tests can run. Without redis-server they are skipped with a loud message, except on
 * CI (`CI` set), where a missing redis-server is an error.
 */
export function redisServerAvailable(): boolean {
  if (existsSync(REDIS_SERVER)) return true;
  const message = `redis-server not found at ${REDIS_SERVER} (apt-get install -y redis-server)`;
  if (process.env.CI) throw new Error(`${message}: the Redis store tests cannot run on CI without it`);
  console.warn(`\n!!! SKIPPING the Redis store tests: ${message} !!!\n`);
  return false;
}

export interface RedisStack {
  redisUrl: string;
  restUrl: string;
  token: string;
  /** An @upstash/redis client talking to the bridge (retries off, so failures show at once; no auto-pipelining, as config-from-env.ts builds it). */
  redis: Redis;
  bridgeStats(): BridgeStats;
  resetBridgeStats(): void;
  stop(): Promise<void>;
}

/** A port that was free a moment ago (the OS picks it). */
export function freePort(): number {
  const listener = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const port = listener.port;
  listener.stop(true);
  return port;
}

async function waitForRedis(port: number, proc: Bun.Subprocess): Promise<void> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (proc.exitCode !== null) throw new Error(`redis-server exited with code ${proc.exitCode}`);
    const ready = await new Promise<boolean>((resolve) => {
      Bun.connect({
        hostname: "127.0.0.1",
        port,
        socket: {
          open(socket) {
            socket.write("PING\r\n");
          },
          data(socket, data) {
            resolve(new TextDecoder().decode(data).startsWith("+PONG"));
            socket.end();
          },
          connectError() {
            resolve(false);
          },
          error() {
            resolve(false);
          },
        },
      }).catch(() => resolve(false));
    });
    if (ready) return;
    await Bun.sleep(25);
  }
  throw new Error(`redis-server did not answer PING on port ${port}`);
}

/** `latencyMs`: what the bridge adds to every request (benches: production's round trip). */
export async function startRedisStack(options: { token?: string; latencyMs?: number } = {}): Promise<RedisStack> {
  const token = options.token ?? "test-token";
  let proc: Bun.Subprocess | undefined;
  let port = 0;
  for (let attempt = 0; attempt < 3 && !proc; attempt++) {
    port = freePort();
    const candidate = Bun.spawn(
      [REDIS_SERVER, "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--loglevel", "warning"],
      { stdout: "ignore", stderr: "pipe" },
    );
    try {
      await waitForRedis(port, candidate);
      proc = candidate;
    } catch (error) {
      candidate.kill();
      await candidate.exited;
      if (attempt === 2) throw error;
    }
  }
  const redisUrl = `redis://127.0.0.1:${port}`;
  const bridge = startBridge({ port: 0, redisUrl, token, ...(options.latencyMs ? { latencyMs: options.latencyMs } : {}) });
  const redis = new Redis({
    url: bridge.url,
    token,
    retry: false,
    enableTelemetry: false,
    enableAutoPipelining: false,
    responseEncoding: false,
  });
  return {
    redisUrl,
    restUrl: bridge.url,
    token,
    redis,
    bridgeStats: () => bridge.stats(),
    resetBridgeStats: () => bridge.resetStats(),
    async stop() {
      await bridge.stop();
      proc!.kill();
      await proc!.exited;
    },
  };
}
