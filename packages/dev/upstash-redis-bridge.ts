/**
 * A local Upstash-REST endpoint over a real redis-server, for tests, benchmarks and local dev.
 *
 *   bun packages/dev/upstash-redis-bridge.ts --port 8079 --redis redis://127.0.0.1:6379 --token dev-token [--latency-ms 2]
 *
 * Speaks what @upstash/redis 1.39 needs (see shared notes/toolchain.md):
 * - every request is POST with `Authorization: Bearer <token>` (else 401 `{"error":"Unauthorized"}`);
 * - `POST /` with `["CMD", ...args]` → `{"result": ...}`, or a 400 `{"error": "ERR ..."}`;
 * - `POST /pipeline` with `[[...], ...]` → `[{"result": ...} | {"error": "..."}]`;
 * - `POST /multi-exec` likewise, run between MULTI and EXEC (a command rejected while queueing aborts
 *   the whole transaction: 400 `{"error": "EXECABORT ..."}`);
 * - with `Upstash-Encoding: base64`, every string in a result is base64 of the raw bytes (arrays
 *   recursively; integers and null as they are).
 * - `GET /__stats` counts HTTP requests and Redis commands (no auth, not counted); `POST /__stats/reset`.
 * - `latencyMs` (CLI `--latency-ms`): every request waits that long before it is handled, as a REST request
 *   from an edge isolate to a Redis region would (benchmarks of production-like latency).
 *
 * Redis is reached through one RESP2 connection: each HTTP request queues all its commands in one piece, the
 * pieces queued in one turn of the event loop go out in one write, and replies are matched in order, so a
 * MULTI … EXEC block is never interleaved with another request.
 * Blocking and pub/sub commands are not supported (they would stall the shared connection).
 */

// ---- RESP2 -----------------------------------------------------------------------------------

export class RespError {
  constructor(readonly message: string) {}
}

/** Bulk and simple strings stay raw bytes so they can be base64-encoded exactly. */
export type Reply = Uint8Array | number | null | RespError | Reply[];

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const INCOMPLETE = Symbol("incomplete");

/** The commands in RESP, as one string encoded once (not a buffer per argument). */
function encodeCommands(commands: string[][]): Uint8Array {
  let text = "";
  for (const args of commands) {
    text += `*${args.length}\r\n`;
    for (const arg of args) text += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`;
  }
  return encoder.encode(text);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Parses one reply at `pos`; INCOMPLETE when the buffer does not hold all of it yet. */
function parseReply(buf: Uint8Array, pos: number): [Reply, number] | typeof INCOMPLETE {
  let eol = pos;
  while (true) {
    eol = buf.indexOf(13, eol);
    if (eol < 0 || eol + 1 >= buf.length) return INCOMPLETE;
    if (buf[eol + 1] === 10) break;
    eol += 1;
  }
  const type = buf[pos];
  const line = buf.subarray(pos + 1, eol);
  const next = eol + 2;
  switch (type) {
    case 43: // +
      return [line.slice(), next];
    case 45: // -
      return [new RespError(decoder.decode(line)), next];
    case 58: // :
      return [Number(decoder.decode(line)), next];
    case 36: { // $
      const length = Number(decoder.decode(line));
      if (length < 0) return [null, next];
      if (next + length + 2 > buf.length) return INCOMPLETE;
      return [buf.slice(next, next + length), next + length + 2];
    }
    case 42: { // *
      const count = Number(decoder.decode(line));
      if (count < 0) return [null, next];
      const items: Reply[] = [];
      let at = next;
      for (let i = 0; i < count; i++) {
        const parsed = parseReply(buf, at);
        if (parsed === INCOMPLETE) return INCOMPLETE;
        items.push(parsed[0]);
        at = parsed[1];
      }
      return [items, at];
    }
    default:
      throw new Error(`Unexpected RESP type byte ${type} from Redis`);
  }
}

type TcpSocket = Bun.Socket<undefined>;

interface Pending {
  resolve(reply: Reply): void;
  reject(error: Error): void;
}

/** A minimal pipelining RESP2 client over one TCP connection (reconnects on the next call after a drop). */
export class RespConnection {
  readonly #url: URL;
  #socket: TcpSocket | null = null;
  #connecting: Promise<TcpSocket> | null = null;
  #pending: Pending[] = [];
  #buffer: Uint8Array = new Uint8Array(0);
  #unsent: Uint8Array[] = [];
  #flushQueued = false;
  #closed = false;

  constructor(redisUrl: string) {
    this.#url = new URL(redisUrl);
    if (this.#url.protocol !== "redis:") throw new Error(`Only redis:// URLs are supported, got ${redisUrl}`);
  }

  /** Sends the commands in one write; resolves with one reply per command (Redis errors are RespError values). */
  async send(commands: string[][]): Promise<Reply[]> {
    const socket = await this.#connect();
    const replies = commands.map(() => new Promise<Reply>((resolve, reject) => this.#pending.push({ resolve, reject })));
    this.#write(socket, encodeCommands(commands));
    return Promise.all(replies);
  }

  close(): void {
    this.#closed = true;
    this.#socket?.end();
    this.#fail(new Error("Connection closed"));
  }

  #connect(): Promise<TcpSocket> {
    if (this.#socket) return Promise.resolve(this.#socket);
    if (this.#closed) return Promise.reject(new Error("Connection closed"));
    this.#connecting ??= this.#open().finally(() => (this.#connecting = null));
    return this.#connecting;
  }

  async #open(): Promise<TcpSocket> {
    const socket = await Bun.connect({
      hostname: this.#url.hostname || "127.0.0.1",
      port: Number(this.#url.port || 6379),
      socket: {
        data: (_socket, data) => this.#onData(data),
        drain: (s) => this.#flush(s),
        close: () => this.#dropped(new Error("Redis closed the connection")),
        error: (_socket, error) => this.#dropped(error),
      },
    });
    this.#socket = socket;
    this.#buffer = new Uint8Array(0);
    const setup: string[][] = [];
    if (this.#url.password) {
      const user = decodeURIComponent(this.#url.username);
      const password = decodeURIComponent(this.#url.password);
      setup.push(user ? ["AUTH", user, password] : ["AUTH", password]);
    }
    const db = this.#url.pathname.replace(/^\//, "");
    if (db) setup.push(["SELECT", db]);
    if (setup.length) {
      const replies = setup.map(() => new Promise<Reply>((resolve, reject) => this.#pending.push({ resolve, reject })));
      this.#write(socket, encodeCommands(setup));
      for (const reply of await Promise.all(replies)) {
        if (reply instanceof RespError) throw new Error(`Redis setup failed: ${reply.message}`);
      }
    }
    return socket;
  }

  /**
   * Queues the bytes; what was queued during one turn of the event loop goes out in one write at its end
   * (setImmediate: after the I/O callbacks of this turn, without a timer). With 50 requests in flight that is about
   * 27 requests per write, and 13 % less bridge CPU and 30 % less Redis CPU per request than a write each; a lone
   * request waits for nothing. A microtask would flush before the other requests of the turn are read.
   */
  #write(socket: TcpSocket, bytes: Uint8Array) {
    this.#unsent.push(bytes);
    if (this.#flushQueued) return;
    this.#flushQueued = true;
    setImmediate(() => {
      this.#flushQueued = false;
      if (this.#socket === socket) this.#flush(socket);
    });
  }

  #flush(socket: TcpSocket) {
    if (!this.#unsent.length) return;
    const chunk = this.#unsent.length === 1 ? this.#unsent[0]! : concat(this.#unsent);
    const written = socket.write(chunk);
    // What the socket did not take goes out on drain.
    this.#unsent = written >= chunk.length ? [] : [written > 0 ? chunk.subarray(written) : chunk];
  }

  #onData(data: Uint8Array) {
    this.#buffer = this.#buffer.length ? concat([this.#buffer, data]) : new Uint8Array(data); // Bun may reuse `data`
    let pos = 0;
    while (pos < this.#buffer.length) {
      const parsed = parseReply(this.#buffer, pos);
      if (parsed === INCOMPLETE) break;
      pos = parsed[1];
      this.#pending.shift()?.resolve(parsed[0]);
    }
    this.#buffer = pos === 0 ? this.#buffer : this.#buffer.slice(pos);
  }

  #dropped(error: Error) {
    this.#socket = null;
    this.#unsent = [];
    this.#fail(error);
  }

  #fail(error: Error) {
    const pending = this.#pending;
    this.#pending = [];
    for (const p of pending) p.reject(error);
  }
}

// ---- HTTP ------------------------------------------------------------------------------------

export interface BridgeStats {
  /** HTTP requests answered (not counting /__stats). */
  requests: number;
  /** Commands sent to Redis, MULTI and EXEC included. */
  commands: number;
  byPath: Record<string, number>;
  byCommand: Record<string, number>;
}

function emptyStats(): BridgeStats {
  return { requests: 0, commands: 0, byPath: {}, byCommand: {} };
}

const json = (body: unknown, status = 200) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

/** Bytes → base64 (or UTF-8 text without base64 encoding), recursively; RespError inside arrays → `{ error }`. */
function toJson(reply: Reply, base64: boolean): unknown {
  if (reply instanceof Uint8Array) {
    return base64 ? Buffer.from(reply.buffer, reply.byteOffset, reply.length).toString("base64") : decoder.decode(reply);
  }
  if (Array.isArray(reply)) return reply.map((item) => toJson(item, base64));
  if (reply instanceof RespError) return { error: reply.message };
  return reply;
}

function toArgs(command: unknown): string[] {
  if (!Array.isArray(command) || command.length === 0) throw new RespError("ERR a command must be a non-empty JSON array");
  return command.map((arg) => {
    if (typeof arg === "string") return arg;
    if (typeof arg === "number" || typeof arg === "boolean") return String(arg);
    if (arg !== null && typeof arg === "object") return JSON.stringify(arg);
    throw new RespError(`ERR invalid argument ${JSON.stringify(arg)}`);
  });
}

export interface BridgeHandlerOptions {
  redis: RespConnection;
  token: string;
  stats?: BridgeStats;
  /** Added to every request (not /__stats) before it is handled (default 0). */
  latencyMs?: number;
  /** How the latency is waited (default setTimeout; tests inject their own). */
  sleep?: (ms: number) => Promise<void>;
}

const timeout = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The Web-standard handler: `(request) => Promise<Response>`. */
export function createBridgeHandler(options: BridgeHandlerOptions) {
  const stats = options.stats ?? emptyStats();
  const count = (commands: string[][]) => {
    for (const command of commands) {
      const name = command[0]!.toUpperCase();
      stats.byCommand[name] = (stats.byCommand[name] ?? 0) + 1;
      stats.commands += 1;
    }
  };

  const handler = async (request: Request): Promise<Response> => {
    const path = new URL(request.url).pathname;
    if (path === "/__stats" && request.method === "GET") return json(stats);
    if (path === "/__stats/reset" && request.method === "POST") {
      Object.assign(stats, emptyStats());
      return json(stats);
    }
    stats.requests += 1;
    stats.byPath[path] = (stats.byPath[path] ?? 0) + 1;
    if (options.latencyMs) await (options.sleep ?? timeout)(options.latencyMs);

    if (request.headers.get("authorization") !== `Bearer ${options.token}`) return json({ error: "Unauthorized" }, 401);
    if (request.method !== "POST") return json({ error: "ERR only POST is supported" }, 405);
    if (path !== "/" && path !== "/pipeline" && path !== "/multi-exec") return json({ error: `ERR unknown path ${path}` }, 404);
    const base64 = request.headers.get("upstash-encoding")?.toLowerCase() === "base64";

    let body: unknown;
    try {
      body = await request.json();
    } catch {
      return json({ error: "ERR the body is not valid JSON" }, 400);
    }
    try {
      if (path === "/") {
        const command = toArgs(body);
        count([command]);
        const [reply] = await options.redis.send([command]);
        if (reply instanceof RespError) return json({ error: reply.message }, 400);
        return json({ result: toJson(reply!, base64) });
      }
      if (!Array.isArray(body) || body.length === 0) return json({ error: "ERR a pipeline must be a non-empty array of commands" }, 400);
      const commands = body.map(toArgs);
      if (path === "/pipeline") {
        count(commands);
        const replies = await options.redis.send(commands);
        return json(replies.map((r) => (r instanceof RespError ? { error: r.message } : { result: toJson(r, base64) })));
      }
      const transaction = [["MULTI"], ...commands, ["EXEC"]];
      count(transaction);
      const replies = await options.redis.send(transaction);
      const exec = replies.at(-1)!;
      if (exec instanceof RespError) return json({ error: exec.message }, 400);
      if (!Array.isArray(exec)) return json({ error: "ERR transaction discarded" }, 400);
      return json(exec.map((r) => (r instanceof RespError ? { error: r.message } : { result: toJson(r, base64) })));
    } catch (error) {
      if (error instanceof RespError) return json({ error: error.message }, 400);
      return json({ error: `ERR bridge cannot reach Redis: ${(error as Error).message}` }, 502);
    }
  };
  return { handler, stats };
}

export interface Bridge {
  url: string;
  port: number;
  stats(): BridgeStats;
  resetStats(): void;
  stop(): Promise<void>;
}

/** Starts the bridge on 127.0.0.1 (`port: 0` picks a free port). */
export function startBridge(
  options: { port?: number; redisUrl: string; token: string; hostname?: string; latencyMs?: number },
): Bridge {
  const redis = new RespConnection(options.redisUrl);
  const { handler, stats } = createBridgeHandler({ redis, token: options.token, latencyMs: options.latencyMs });
  const server = Bun.serve({ hostname: options.hostname ?? "127.0.0.1", port: options.port ?? 0, fetch: handler });
  return {
    url: `http://${server.hostname}:${server.port}`,
    port: server.port!,
    stats: () => structuredClone(stats),
    resetStats: () => Object.assign(stats, emptyStats()),
    async stop() {
      await server.stop(true);
      redis.close();
    },
  };
}

if (import.meta.main) {
  const arg = (name: string, fallback: string) => {
    const i = Bun.argv.indexOf(`--${name}`);
    return i >= 0 && Bun.argv[i + 1] ? Bun.argv[i + 1]! : fallback;
  };
  const bridge = startBridge({
    port: Number(arg("port", "8079")),
    redisUrl: arg("redis", "redis://127.0.0.1:6379"),
    token: arg("token", "dev-token"),
    latencyMs: Number(arg("latency-ms", "0")),
  });
  console.log(`Upstash REST bridge listening on ${bridge.url} → ${arg("redis", "redis://127.0.0.1:6379")}`);
}
