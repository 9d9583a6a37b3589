/**
 * A private redis-server behind an Upstash-REST bridge that also counts the request body bytes it receives,
 * for benchmarks that report bytes over the wire (the bridge itself counts requests and commands only).
 */
import { Redis } from "@upstash/redis";
import { createBridgeHandler, RespConnection } from "durable-workflow-edge-dev/bridge";
import { startRedisStack } from "../../tests/support/redis.ts";
import { commandStats, resetStats } from "./redis-stats.ts";

export interface RedisCounts {
  /** HTTP requests the bridge answered. */
  requests: number;
  /** Commands it sent to Redis (MULTI and EXEC included). */
  commands: number;
  /** Request body bytes it received. */
  bytes: number;
}

export interface CountedRedis {
  /** An @upstash/redis client talking to the counting bridge. */
  redis: Redis;
  counts(): RedisCounts;
  /** The counts and Redis's own command stats back to 0 (done when it returns). */
  reset(): void;
  /** Redis's own `INFO commandstats`: per command, calls and server µs per call (since the last reset). */
  commandStats(): Record<string, { calls: number; usecPerCall: number }>;
  stop(): Promise<void>;
}

/** `latencyMs`: added by the bridge to every request (see `--latency` of the QStash benches). */
export async function startCountedRedis(options: { latencyMs?: number } = {}): Promise<CountedRedis> {
  const stack = await startRedisStack();
  const connection = new RespConnection(stack.redisUrl);
  const { handler, stats } = createBridgeHandler({ redis: connection, token: stack.token, latencyMs: options.latencyMs });
  let bytes = 0;
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const length = request.headers.get("content-length");
      if (length !== null) {
        bytes += Number(length);
        return handler(request);
      }
      const body = await request.arrayBuffer();
      bytes += body.byteLength;
      return handler(new Request(request.url, { method: request.method, headers: request.headers, body }));
    },
  });
  const redis = new Redis({
    url: `http://127.0.0.1:${server.port}`,
    token: stack.token,
    retry: false,
    enableTelemetry: false,
    enableAutoPipelining: false,
    responseEncoding: false,
  });
  return {
    redis,
    counts: () => ({ requests: stats.requests, commands: stats.commands, bytes }),
    reset() {
      Object.assign(stats, { requests: 0, commands: 0, byPath: {}, byCommand: {} });
      bytes = 0;
      resetStats(stack.redisUrl);
    },
    commandStats() {
      const stats = Object.entries(commandStats(stack.redisUrl));
      return Object.fromEntries(stats.map(([name, { calls, usec }]) => [name, { calls, usecPerCall: usec / calls }]));
    },
    async stop() {
      await server.stop(true);
      connection.close();
      await stack.stop();
    },
  };
}
