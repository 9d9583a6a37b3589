/**
 * The async stack of bench/async.ts with a timestamp at every hop, taken outside the code under test: a private
 * redis-server behind the Upstash-REST bridge (marks per HTTP request), qstash-dev (marks per publish request and per
 * delivery), the app's server (marks per request answered) and a store wrapper (marks per store call). Latency options of
 * the bridge and qstash-dev (`--latency`) apply.
 */
import { Client } from "@upstash/qstash";
import { Redis } from "@upstash/redis";
import { createBridgeHandler, RespConnection } from "durable-workflow-edge-dev/bridge";
import { DEV_QSTASH_TOKEN, QStashDev } from "durable-workflow-edge-dev/qstash";
import { startRedisStack } from "../../tests/support/redis.ts";
import type { Latency } from "./latency.ts";

export interface Mark {
  t: number;
  what: string;
}

/** Marks with their time (performance.now), recorded while `on`. */
export class Timeline {
  on = false;
  #marks: Mark[] = [];
  mark(what: string): void {
    if (this.on) this.#marks.push({ t: performance.now(), what });
  }
  /** The marks so far, and a fresh start. */
  take(): Mark[] {
    const marks = this.#marks;
    this.#marks = [];
    return marks;
  }
}

/** A store whose every call is marked `store.<name>(` at its start and `store.<name>)` at its end. */
export function markedStore<S extends object>(store: S, timeline: Timeline): S {
  return new Proxy(store, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (typeof value !== "function" || typeof key !== "string") return value;
      return (...args: unknown[]) => {
        timeline.mark(`store.${key}(`);
        const result = value.apply(target, args);
        if (!(result instanceof Promise)) return result;
        return result.finally(() => timeline.mark(`store.${key})`));
      };
    },
  });
}

type Fetch = (request: Request) => Response | Promise<Response>;

export interface HopStack {
  timeline: Timeline;
  /** An @upstash/redis client to the marking bridge. */
  redis: Redis;
  /** Redis REST requests since the last `resetCounts`. */
  redisRequests(): number;
  resetCounts(): void;
  qstash: QStashDev;
  /** A QStash Client to qstash-dev (its retries off). */
  client: Client;
  appUrl: string;
  callbackUrl: string;
  /** What the app server runs. `/bare` is answered by the stack itself (the trivial endpoint of the bare publish). */
  serve(fetch: Fetch): void;
  /** Resolves when the app answers a delivery with `completed` for `executionId`. */
  completed(executionId: string): Promise<void>;
  /** One bare Redis REST request (a GET) through the bridge, in ms. */
  bareRedis(): Promise<number>;
  /** One bare publish of an empty message to a trivial endpoint, until its delivery arrives there, in ms. */
  barePublish(): Promise<number>;
  stop(): Promise<void>;
}

/** A loopback server for `handler` that marks each request when it arrives and when it is answered. */
function markedServer(timeline: Timeline, [arrived, answered]: [string, string], handler: Fetch) {
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(request) {
      timeline.mark(arrived);
      const response = await handler(request);
      timeline.mark(answered);
      return response;
    },
  });
}

export async function startHopStack(latency: Latency): Promise<HopStack> {
  const timeline = new Timeline();
  const redisStack = await startRedisStack();
  const connection = new RespConnection(redisStack.redisUrl);
  const bridgeHandler = createBridgeHandler({ redis: connection, token: redisStack.token, latencyMs: latency.redisMs });
  const bridge = markedServer(timeline, ["→ redis", "← redis"], bridgeHandler.handler);
  const redis = new Redis({ url: `http://127.0.0.1:${bridge.port}`, token: redisStack.token, retry: false, enableTelemetry: false });

  const qstash = new QStashDev({
    retryDelayMs: 1,
    latencyMs: latency.qstashMs,
    fetch: async (url, init) => {
      timeline.mark("qstash-dev sends the delivery");
      return await fetch(url, init);
    },
  });
  const qstashServer = markedServer(timeline, ["→ qstash-dev publish", "← qstash-dev accepted"], (request) => qstash.fetch(request));
  const client = new Client({
    baseUrl: `http://127.0.0.1:${qstashServer.port}`,
    token: DEV_QSTASH_TOKEN,
    retry: false,
    enableTelemetry: false,
  });

  let app: Fetch = () => new Response("no app", { status: 503 });
  const waiters = new Map<string, () => void>();
  let bareArrived: (() => void) | undefined;
  const appServer = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeout: 0,
    async fetch(request) {
      if (new URL(request.url).pathname === "/bare") {
        bareArrived?.();
        return new Response("ok");
      }
      timeline.mark("app receives the delivery");
      const response = await app(request);
      const answer = await response.clone().text();
      timeline.mark(`app answers ${response.status}`);
      const id = /"executionId":"([^"]+)"/.exec(answer)?.[1];
      if (id && answer.includes('"status":"completed"')) waiters.get(id)?.();
      return response;
    },
  });
  const appUrl = `http://127.0.0.1:${appServer.port}`;

  return {
    timeline,
    redis,
    redisRequests: () => bridgeHandler.stats.requests,
    resetCounts: () => void (bridgeHandler.stats.requests = 0),
    qstash,
    client,
    appUrl,
    callbackUrl: `${appUrl}/qstash`,
    serve(fetch) {
      app = fetch;
    },
    completed(executionId) {
      return new Promise<void>((resolve) =>
        waiters.set(executionId, () => {
          waiters.delete(executionId);
          resolve();
        })
      );
    },
    async bareRedis() {
      const started = performance.now();
      await redis.get("bare");
      return performance.now() - started;
    },
    async barePublish() {
      const arrived = new Promise<void>((resolve) => (bareArrived = resolve));
      const started = performance.now();
      await client.publishJSON({ url: `${appUrl}/bare`, body: {}, retries: 0 });
      await arrived;
      return performance.now() - started;
    },
    async stop() {
      qstash.close();
      await Promise.all([qstashServer.stop(true), appServer.stop(true), bridge.stop(true)]);
      connection.close();
      await redisStack.stop();
    },
  };
}
