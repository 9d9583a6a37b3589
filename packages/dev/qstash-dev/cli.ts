/**
 * qstash-dev — a local QStash for development and tests (see docs/qstash-dev.md).
 *
 *   npx bun packages/dev/qstash-dev/cli.ts --port 8080
 */
import { DEV_QSTASH_PORT } from "./defaults.ts";
import { QStashDev } from "./dev.ts";
import type { DevMessage, QStashDevOptions } from "./types.ts";

export interface QStashDevServer {
  /** Base URL to give the SDK (`QSTASH_URL`), e.g. http://127.0.0.1:8080. */
  url: string;
  port: number;
  dev: QStashDev;
  stop(): Promise<void>;
  messages(): DevMessage[];
  waitIdle(timeoutMs?: number): Promise<void>;
  advanceTime(ms: number): void;
}

interface DenoLike {
  serve(
    options: { port: number; hostname: string; onListen?: () => void },
    handler: (req: Request, info: { remoteAddr: { hostname: string } }) => Promise<Response>,
  ): { addr: { port: number }; shutdown(): Promise<void> };
}

/** Serves a `QStashDev` on a loopback port with Bun.serve (or Deno.serve). */
export function startQStashDev(options: QStashDevOptions = {}): QStashDevServer {
  const dev = new QStashDev(options);
  const hostname = options.hostname ?? "127.0.0.1";
  const wanted = options.port ?? DEV_QSTASH_PORT;
  let port: number;
  let close: () => Promise<void>;
  const deno = (globalThis as { Deno?: DenoLike }).Deno;
  if (typeof Bun !== "undefined") {
    const server = Bun.serve({
      port: wanted,
      hostname,
      idleTimeout: 0,
      fetch: (req, server) => dev.fetch(req, { remoteAddress: server.requestIP(req)?.address }),
    });
    port = server.port ?? wanted;
    close = () => server.stop(true);
  } else if (deno) {
    const server = deno.serve(
      { port: wanted, hostname, onListen: () => {} },
      (req, info) => dev.fetch(req, { remoteAddress: info.remoteAddr.hostname }),
    );
    port = server.addr.port;
    close = () => server.shutdown();
  } else {
    throw new Error("startQStashDev needs Bun or Deno; elsewhere mount `new QStashDev().fetch` in your own server");
  }
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return {
    url: `http://${host}:${port}`,
    port,
    dev,
    stop: async () => {
      dev.close();
      await close();
    },
    messages: () => dev.messages(),
    waitIdle: (timeoutMs) => dev.waitIdle(timeoutMs),
    advanceTime: (ms) => dev.advanceTime(ms),
  };
}

if (import.meta.main) {
  const { parseArgs } = await import("node:util");
  const { values } = parseArgs({
    options: {
      port: { type: "string" },
      host: { type: "string" },
      token: { type: "string" },
      "current-signing-key": { type: "string" },
      "next-signing-key": { type: "string" },
      "retry-delay-ms": { type: "string" },
      "latency-ms": { type: "string" },
      quiet: { type: "boolean" },
    },
  });
  const server = startQStashDev({
    port: values.port === undefined ? DEV_QSTASH_PORT : Number(values.port),
    hostname: values.host,
    token: values.token,
    currentSigningKey: values["current-signing-key"],
    nextSigningKey: values["next-signing-key"],
    retryDelayMs: values["retry-delay-ms"] === undefined ? undefined : Number(values["retry-delay-ms"]),
    latencyMs: values["latency-ms"] === undefined ? undefined : Number(values["latency-ms"]),
    log: values.quiet ? undefined : (line) => console.log(`[qstash-dev] ${line}`),
  });
  console.log(
    [
      `qstash-dev listening on ${server.url}`,
      `  QSTASH_URL=${server.url}`,
      `  QSTASH_TOKEN=${server.dev.token}`,
      `  QSTASH_CURRENT_SIGNING_KEY=${server.dev.currentSigningKey}`,
      `  QSTASH_NEXT_SIGNING_KEY=${server.dev.nextSigningKey}`,
    ].join("\n"),
  );
}
