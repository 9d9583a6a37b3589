/**
 * Everything an async run goes through, on loopback: a real redis-server behind the Upstash REST bridge,
 * qstash-dev, and one HTTP server for the app (the app it serves can be swapped per test). Every request
 * the app answers is recorded. Used by tests/unit/runners/async.qstash.test.ts.
 */
import { Client } from "@upstash/qstash";
import { base64url, SignJWT } from "jose";
import {
  DEV_CURRENT_SIGNING_KEY,
  DEV_NEXT_SIGNING_KEY,
  DEV_QSTASH_TOKEN,
  type QStashDevServer,
  startQStashDev,
} from "durable-workflow-edge-dev/qstash";
import { type RedisStack, startRedisStack } from "./redis.ts";

export { DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY };

/** A request the app answered, with its answer. */
export interface Delivery {
  path: string;
  url: string;
  headers: Headers;
  body: string;
  status: number;
  answer: string;
}

type Fetch = (request: Request) => Response | Promise<Response>;

export interface AsyncStack {
  redis: RedisStack;
  /** `http://127.0.0.1:<port>`: where the app is served. */
  appUrl: string;
  /** `<appUrl>/qstash`: the callback URL QStash delivers to. */
  callbackUrl: string;
  /** Every request answered since the last `reset`, in order of answer. */
  deliveries: Delivery[];
  qstash: QStashDevServer;
  /** A real `@upstash/qstash` Client pointed at qstash-dev (its own retries off). */
  client: Client;
  /** What the app server runs from now on. */
  serve(fetch: Fetch): void;
  /** Called after each answer (tests use it to flip a switch between deliveries). */
  onAnswer(hook: ((delivery: Delivery) => void) | undefined): void;
  /** A fresh qstash-dev (and client) and an empty delivery log. */
  reset(options?: { retryDelayMs?: number }): Promise<void>;
  stop(): Promise<void>;
}

export async function startAsyncStack(options: { retryDelayMs?: number } = {}): Promise<AsyncStack> {
  const redis = await startRedisStack();
  const deliveries: Delivery[] = [];
  let app: Fetch = () => new Response("no app", { status: 503 });
  let hook: ((delivery: Delivery) => void) | undefined;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(request) {
      const body = await request.clone().text();
      const response = await app(request);
      const answer = await response.clone().text();
      const delivery = {
        path: new URL(request.url).pathname,
        url: request.url,
        headers: new Headers(request.headers),
        body,
        status: response.status,
        answer,
      };
      deliveries.push(delivery);
      hook?.(delivery);
      return response;
    },
  });
  const appUrl = `http://127.0.0.1:${server.port}`;
  const start = (retryDelayMs = options.retryDelayMs ?? 1) => {
    const qstash = startQStashDev({ port: 0, retryDelayMs });
    const client = new Client({ baseUrl: qstash.url, token: DEV_QSTASH_TOKEN, retry: false, enableTelemetry: false });
    return { qstash, client };
  };
  let current = start();
  return {
    redis,
    appUrl,
    callbackUrl: `${appUrl}/qstash`,
    deliveries,
    get qstash() {
      return current.qstash;
    },
    get client() {
      return current.client;
    },
    serve(fetch) {
      app = fetch;
    },
    onAnswer(next) {
      hook = next;
    },
    async reset(resetOptions = {}) {
      await current.qstash.stop();
      current = start(resetOptions.retryDelayMs);
      deliveries.length = 0;
      hook = undefined;
    },
    async stop() {
      await current.qstash.stop();
      await server.stop(true);
      await redis.stop();
    },
  };
}

/** An `Upstash-Signature` as QStash makes it (HS256 JWT over the body's SHA-256, `sub` = the URL). */
export async function signDelivery(options: {
  url: string;
  body: string;
  key?: string;
  /** Seconds from now (negative: already expired). Default 300. */
  expiresIn?: number;
}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(options.body)));
  const expiresIn = options.expiresIn ?? 300;
  return new SignJWT({ body: base64url.encode(digest) })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer("Upstash")
    .setSubject(options.url)
    .setIssuedAt(Math.min(now, now + expiresIn - 60))
    .setNotBefore(Math.min(now, now + expiresIn - 60))
    .setExpirationTime(now + expiresIn)
    .setJti(`jwt_${crypto.randomUUID()}`)
    .sign(new TextEncoder().encode(options.key ?? DEV_CURRENT_SIGNING_KEY));
}

/** POSTs `body` to `url` as QStash would, with the given signature (or none). */
export function deliver(url: string, body: string, signature?: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json", ...(signature ? { "upstash-signature": signature } : {}), ...headers },
    body,
  });
}
