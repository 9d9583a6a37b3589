/**
 * qstash-dev — a local QStash for development and tests.
 *
 * It speaks the part of the QStash v2 REST API that `@upstash/qstash` 2.12's `Client` uses to publish
 * (publish, enqueue, batch, messages, queues, keys) and delivers like QStash does: signed with an HS256
 * JWT that the SDK's `Receiver.verify` accepts, retried with a backoff, with success and failure callbacks.
 * Everything is in memory; nothing survives a restart.
 *
 *   npx bun tools/qstash-dev.ts --port 8080
 *
 * The core (`QStashDev`) is a Web-standard `fetch(req)` handler; `startQStashDev` serves it with
 * Bun.serve (or Deno.serve). See docs/qstash-dev.md.
 */
import { SignJWT, base64url } from "jose";

// The SDK's own dev-mode constants (@upstash/qstash 2.12, src/dev-server/constants.ts): public, local use only.
export const DEV_QSTASH_PORT = 8080;
export const DEV_QSTASH_TOKEN = "eyJVc2VySUQiOiJkZWZhdWx0VXNlciIsIlBhc3N3b3JkIjoiZGVmYXVsdFBhc3N3b3JkIn0=";
export const DEV_CURRENT_SIGNING_KEY = "sig_7kYjw48mhY7kAjqNGcy6cr29RJ6r";
export const DEV_NEXT_SIGNING_KEY = "sig_5ZB6DVzB1wjE8S6rZ7eenA8Pdnhs";

const DEFAULT_RETRIES = 3;
const MAX_RETRY_DELAY_MS = 86_400_000; // QStash caps its backoff at one day
const SIGNATURE_TTL_S = 300;

type Bytes = Uint8Array<ArrayBuffer>;
const MAX_TIMER_MS = 2_147_483_647;

export interface QStashDevOptions {
  /** Port for `startQStashDev` (default 8080, the SDK's dev port; 0 = a free port). */
  port?: number;
  /** Interface for `startQStashDev` (default 127.0.0.1). */
  hostname?: string;
  /** Bearer token publishers must send (default: the SDK's dev token). */
  token?: string;
  /** Key that signs every delivery (default: the SDK's dev current key). */
  currentSigningKey?: string;
  /** Reported by GET /v2/keys; receivers accept it too (default: the SDK's dev next key). */
  nextSigningKey?: string;
  /** Used for every delivery and callback (default: globalThis.fetch). */
  fetch?: (url: string, init: RequestInit) => Promise<Response>;
  /** Wall clock in ms (default Date.now). Stamps messages and signatures; `advanceTime` adds to it for scheduling. */
  now?: () => number;
  /** Backoff before retry n (n = 0, 1, ...) is retryDelayMs * 2^n, capped at a day (default 1000). */
  retryDelayMs?: number;
  /** How long a deduplication id is remembered (default 90 days, as QStash documents). */
  deduplicationWindowMs?: number;
  /** Called with one line per publish and delivery attempt (default: silent). */
  log?: (line: string) => void;
}

export type MessageState = "CREATED" | "ACTIVE" | "RETRY" | "DELIVERED" | "FAILED" | "CANCELLED";

/** What `messages()` reports: published messages, and the callback messages QStash creates from them. */
export interface DevMessage {
  messageId: string;
  kind: "message" | "callback" | "failure-callback";
  /** Destination URL exactly as published; also the signature's `sub`. */
  url: string;
  method: string;
  /** Headers delivered to the destination besides QStash's own: content-type and the forwarded ones. */
  header: Record<string, string>;
  /** The body as text, or undefined when it is not UTF-8 (then see bodyBase64). */
  body?: string;
  bodyBase64?: string;
  state: MessageState;
  /** Number of redeliveries so far (the `Upstash-Retried` of the last attempt). */
  retried: number;
  maxRetries: number;
  createdAt: number;
  /** First moment (ms, scheduling clock) the message may be delivered. */
  notBefore: number;
  /** When the next attempt is due (ms, scheduling clock), while one is planned. */
  nextDeliveryAt?: number;
  queueName?: string;
  callback?: string;
  failureCallback?: string;
  deduplicationId?: string;
  /** For callbacks: the message whose response they carry. */
  sourceMessageId?: string;
  attempts: DeliveryAttempt[];
}

export interface DeliveryAttempt {
  retried: number;
  at: number;
  status?: number;
  /** Network error or timeout, when the destination gave no answer. */
  error?: string;
}

/** A callback's settings, read from `Upstash-Callback-*` / `Upstash-Failure-Callback-*` headers. */
interface CallbackSettings {
  url: string;
  forward: Record<string, string>;
  retries?: number;
  method?: string;
  delayMs?: number;
  timeoutMs?: number;
}

interface Entry {
  info: DevMessage;
  bytes: Bytes;
  dueAt: number;
  timeoutMs?: number;
  retryDelay?: (retried: number) => number;
  onSuccess?: CallbackSettings;
  onFailure?: CallbackSettings;
  /** Holds one of its queue's parallelism slots from its first attempt until it settles. */
  holdsQueueSlot: boolean;
}

interface QueueInfo {
  name: string;
  parallelism: number;
  paused: boolean;
  createdAt: number;
  updatedAt: number;
}

interface Incoming {
  destination: string;
  headers: Headers;
  bytes: Bytes;
  queueName?: string;
}

interface PublishResult {
  messageId: string;
  url: string;
  deduplicated?: boolean;
}

/** A request qstash-dev refuses; answered as `{ "error": message }` with its status. */
export class QStashDevError extends Error {
  override name = "QStashDevError";
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The in-memory QStash: a `fetch(req)` handler plus the scheduler that delivers. Runtime-agnostic. */
export class QStashDev {
  readonly token: string;
  readonly currentSigningKey: string;
  readonly nextSigningKey: string;
  private readonly send: (url: string, init: RequestInit) => Promise<Response>;
  private readonly now: () => number;
  private readonly retryDelayMs: number;
  private readonly dedupWindowMs: number;
  private readonly log: (line: string) => void;
  private readonly entries = new Map<string, Entry>();
  private readonly dedup = new Map<string, { result: PublishResult; expiresAt: number }>();
  private readonly queues = new Map<string, QueueInfo>();
  private readonly idleWaiters = new Set<() => void>();
  private readonly stopping = new AbortController();
  private skippedMs = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(options: QStashDevOptions = {}) {
    this.token = options.token ?? DEV_QSTASH_TOKEN;
    this.currentSigningKey = options.currentSigningKey ?? DEV_CURRENT_SIGNING_KEY;
    this.nextSigningKey = options.nextSigningKey ?? DEV_NEXT_SIGNING_KEY;
    this.send = options.fetch ?? ((url, init) => fetch(url, init));
    this.now = options.now ?? Date.now;
    this.retryDelayMs = options.retryDelayMs ?? 1000;
    this.dedupWindowMs = options.deduplicationWindowMs ?? 90 * 86_400_000;
    this.log = options.log ?? (() => {});
    this.fetch = this.fetch.bind(this);
  }

  /** The scheduling clock: `now()` plus everything `advanceTime` skipped. */
  clock(): number {
    return this.now() + this.skippedMs;
  }

  /** Moves the scheduling clock forward and delivers what became due (delays, not-before, retry backoffs). */
  advanceTime(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advanceTime: expected a non-negative number of ms, got ${ms}`);
    this.skippedMs += ms;
    this.pump();
  }

  /** A snapshot of every message and callback seen, oldest first. */
  messages(): DevMessage[] {
    return [...this.entries.values()].map((e) => snapshot(e.info));
  }

  message(id: string): DevMessage | undefined {
    const entry = this.entries.get(id);
    return entry && snapshot(entry.info);
  }

  /**
   * Resolves once nothing is in flight and nothing is due: every message is delivered, failed, cancelled,
   * or waiting for a delay / not-before that lies ahead (or for a paused queue). A message waiting for
   * its retry backoff counts as busy. Rejects after `timeoutMs` naming the busy messages.
   */
  waitIdle(timeoutMs = 10_000): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timeout);
        this.idleWaiters.delete(done);
        resolve();
      };
      const timeout = setTimeout(() => {
        this.idleWaiters.delete(done);
        const busy = [...this.entries.values()].filter((e) => this.isBusy(e));
        const list = busy.map((e) => `${e.info.messageId} (${e.info.state}, ${e.info.url})`).join(", ");
        reject(new Error(`qstash-dev: not idle after ${timeoutMs} ms: ${list}`));
      }, timeoutMs);
      this.idleWaiters.add(done);
    });
  }

  /** Stops scheduling, aborts deliveries in flight and clears the timer. */
  close(): void {
    this.stopping.abort();
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  async fetch(req: Request): Promise<Response> {
    try {
      return await this.route(req);
    } catch (error) {
      if (error instanceof QStashDevError) return json({ error: error.message }, error.status);
      return json({ error: `qstash-dev: ${error instanceof Error ? error.message : String(error)}` }, 500);
    }
  }

  // ---------------------------------------------------------------- HTTP API

  private async route(req: Request): Promise<Response> {
    const url = new URL(req.url);
    const path = url.pathname;
    if (!path.startsWith("/v2/")) throw new QStashDevError(404, `qstash-dev: no route ${req.method} ${path}`);
    if (req.headers.get("authorization") !== `Bearer ${this.token}`) {
      throw new QStashDevError(401, "Unauthorized: expected header Authorization: Bearer <QSTASH_TOKEN>");
    }
    const method = req.method;
    const parts = path.split("/"); // ["", "v2", resource, ...]
    const resource = parts[2];

    if (method === "POST" && resource === "publish") {
      // The SDK appends the destination as is (`.../v2/publish/http://host/path?q`): its query lands in ours.
      const destination = path.slice("/v2/publish/".length) + url.search;
      const result = await this.accept({ destination, headers: req.headers, bytes: await readBytes(req) });
      return json(result, result.deduplicated ? 202 : 201);
    }
    if (method === "POST" && resource === "enqueue") {
      const queueName = decodePart(parts[3] ?? "", "queue name");
      if (!queueName) throw new QStashDevError(400, "enqueue: missing queue name in /v2/enqueue/<queue>/<destination>");
      const destination = parts.slice(4).join("/") + url.search;
      const result = await this.accept({ destination, headers: req.headers, bytes: await readBytes(req), queueName });
      return json(result, result.deduplicated ? 202 : 201);
    }
    if (method === "POST" && path === "/v2/batch") return json(await this.acceptBatch(req));
    if (method === "GET" && path === "/v2/keys") {
      // The SDK's dev mode (QSTASH_DEV=true) probes this and uses a server that answers the dev keys.
      return json({ current: this.currentSigningKey, next: this.nextSigningKey });
    }
    if (resource === "messages") {
      const id = parts.slice(3).join("/");
      if (method === "GET" && id) return json(this.describe(this.entryOr404(id)));
      if (method === "DELETE" && id) {
        this.entryOr404(id);
        return json({ cancelled: this.cancel([id]) });
      }
      if (method === "DELETE") {
        // The SDK's cancel(ids) sends ?messageIds=..; cancel({ all: true }) sends only count (and cursor).
        const ids = url.searchParams.getAll("messageIds");
        if (ids.length) return json({ cancelled: this.cancel(ids) });
        const filters = [...url.searchParams.keys()].filter((k) => !["count", "cursor", "all"].includes(k));
        if (filters.length) {
          throw new QStashDevError(501, `qstash-dev: cancelling by filter (${filters.join(", ")}) is not implemented; pass messageIds`);
        }
        return json({ cancelled: this.cancel([...this.entries.keys()]) });
      }
    }
    if (resource === "queues") return this.queueRoute(method, parts.slice(3), req);
    throw new QStashDevError(501, `qstash-dev: ${method} ${path} is not implemented (see docs/qstash-dev.md)`);
  }

  private async acceptBatch(req: Request): Promise<PublishResult[]> {
    let items: unknown;
    try {
      items = JSON.parse(await req.text());
    } catch {
      throw new QStashDevError(400, "batch: body is not JSON; expected an array of { destination, headers?, body?, queue? }");
    }
    if (!Array.isArray(items)) throw new QStashDevError(400, "batch: expected a JSON array of messages");
    const incoming = items.map((item, i): Incoming => {
      if (typeof item !== "object" || item === null) throw new QStashDevError(400, `batch[${i}]: expected an object`);
      const { destination, headers, body, queue } = item as Record<string, unknown>;
      if (typeof destination !== "string") throw new QStashDevError(400, `batch[${i}].destination: expected a string`);
      if (body !== undefined && typeof body !== "string") throw new QStashDevError(400, `batch[${i}].body: expected a string`);
      if (queue !== undefined && typeof queue !== "string") throw new QStashDevError(400, `batch[${i}].queue: expected a string`);
      if (headers !== undefined && !isStringRecord(headers)) {
        throw new QStashDevError(400, `batch[${i}].headers: expected an object of string values`);
      }
      return {
        destination,
        headers: new Headers(headers ?? {}),
        bytes: new TextEncoder().encode(body ?? ""),
        queueName: queue || undefined,
      };
    });
    // Check all before accepting any, so a bad item does not leave half a batch behind.
    const parsed = incoming.map((m, i) => this.parse(m, `batch[${i}]`));
    const results: PublishResult[] = [];
    for (const p of parsed) results.push(await this.enqueueParsed(p));
    return results;
  }

  private async queueRoute(method: string, rest: string[], req: Request): Promise<Response> {
    const name = decodePart(rest[0] ?? "", "queue name");
    if (method === "POST" && !name) {
      let body: { queueName?: unknown; parallelism?: unknown; paused?: unknown };
      try {
        body = (await req.json()) ?? {};
      } catch {
        throw new QStashDevError(400, "queues: body is not JSON; expected { queueName, parallelism?, paused? }");
      }
      if (typeof body.queueName !== "string" || !body.queueName) throw new QStashDevError(400, "queues: queueName is required");
      const parallelism = body.parallelism ?? 1;
      if (typeof parallelism !== "number" || !Number.isInteger(parallelism) || parallelism < 1) {
        throw new QStashDevError(400, "queues: parallelism must be a positive integer");
      }
      const queue = this.queue(body.queueName);
      queue.parallelism = parallelism;
      queue.paused = body.paused === true;
      queue.updatedAt = this.clock();
      this.pump();
      return new Response(null, { status: 200 });
    }
    if (method === "GET" && !name) return json([...this.queues.values()].map((q) => this.describeQueue(q)));
    const queue = this.queues.get(name);
    if (!queue) throw new QStashDevError(404, `queue ${JSON.stringify(name)} not found`);
    if (method === "GET" && rest.length === 1) return json(this.describeQueue(queue));
    if (method === "DELETE" && rest.length === 1) {
      this.queues.delete(name);
      return new Response(null, { status: 200 });
    }
    if (method === "POST" && (rest[1] === "pause" || rest[1] === "resume")) {
      queue.paused = rest[1] === "pause";
      queue.updatedAt = this.clock();
      this.pump();
      return new Response(null, { status: 200 });
    }
    throw new QStashDevError(501, `qstash-dev: ${method} /v2/queues/${rest.join("/")} is not implemented`);
  }

  // ---------------------------------------------------------------- accepting messages

  private async accept(message: Incoming): Promise<PublishResult> {
    return this.enqueueParsed(this.parse(message, "publish"));
  }

  /** Checks a publish where it enters: every header QStash reads, the destination and the callbacks. */
  private parse(message: Incoming, where: string) {
    const h = message.headers;
    const destination = parseDestination(message.destination, `${where}: destination`);
    const method = (h.get("upstash-method") ?? "POST").toUpperCase();
    if (!["GET", "POST", "PUT", "DELETE", "PATCH"].includes(method)) {
      throw new QStashDevError(400, `${where}: Upstash-Method ${JSON.stringify(method)} is not one of GET, POST, PUT, DELETE, PATCH`);
    }
    const retries = optionalCount(h.get("upstash-retries"), `${where}: Upstash-Retries`) ?? DEFAULT_RETRIES;
    const delayMs = optionalDuration(h.get("upstash-delay"), `${where}: Upstash-Delay`) ?? 0;
    const notBeforeS = optionalCount(h.get("upstash-not-before"), `${where}: Upstash-Not-Before (unix seconds)`);
    const timeoutMs = optionalDuration(h.get("upstash-timeout"), `${where}: Upstash-Timeout`);
    const retryDelaySource = h.get("upstash-retry-delay");
    let retryDelay: ((retried: number) => number) | undefined;
    if (retryDelaySource !== null) {
      try {
        retryDelay = compileRetryDelay(retryDelaySource);
      } catch (error) {
        throw new QStashDevError(400, `${where}: Upstash-Retry-Delay ${JSON.stringify(retryDelaySource)}: ${(error as Error).message}`);
      }
    }
    const onSuccess = callbackSettings(h, "upstash-callback", `${where}: Upstash-Callback`);
    const onFailure = callbackSettings(h, "upstash-failure-callback", `${where}: Upstash-Failure-Callback`);
    const header = forwardedHeaders(h, "upstash-forward-");
    const contentType = h.get("content-type");
    if (contentType !== null) header["content-type"] = contentType;
    const deduplicationId = h.get("upstash-deduplication-id") ?? undefined;
    const contentBased = h.get("upstash-content-based-deduplication") === "true";
    return {
      destination,
      method,
      retries,
      // Upstash-Not-Before wins over Upstash-Delay, as in QStash.
      due: (clock: number) => (notBeforeS !== undefined ? notBeforeS * 1000 : clock + delayMs),
      timeoutMs,
      retryDelay,
      onSuccess,
      onFailure,
      header,
      deduplicationId,
      contentBased,
      bytes: message.bytes,
      queueName: message.queueName,
    };
  }

  private async enqueueParsed(p: ReturnType<QStashDev["parse"]>): Promise<PublishResult> {
    const clock = this.clock();
    for (const [key, seen] of this.dedup) if (seen.expiresAt <= clock) this.dedup.delete(key);
    const dedupKey =
      p.deduplicationId !== undefined
        ? `id:${p.deduplicationId}`
        : p.contentBased
          ? `content:${await contentHash(p.destination, p.header, p.bytes)}`
          : undefined;
    const seen = dedupKey ? this.dedup.get(dedupKey) : undefined;
    if (seen) {
      this.log(`publish ${seen.result.messageId} → ${p.destination}: duplicate (${dedupKey}), not enqueued`);
      return { ...seen.result, deduplicated: true };
    }
    const entry = this.add({
      kind: "message",
      url: p.destination,
      method: p.method,
      header: p.header,
      bytes: p.bytes,
      maxRetries: p.retries,
      dueAt: p.due(clock),
      timeoutMs: p.timeoutMs,
      retryDelay: p.retryDelay,
      onSuccess: p.onSuccess,
      onFailure: p.onFailure,
      queueName: p.queueName,
      deduplicationId: p.deduplicationId,
    });
    if (p.queueName) this.queue(p.queueName);
    const result: PublishResult = { messageId: entry.info.messageId, url: p.destination };
    if (dedupKey) this.dedup.set(dedupKey, { result, expiresAt: clock + this.dedupWindowMs });
    this.log(`publish ${result.messageId} → ${p.method} ${p.destination}${p.queueName ? ` (queue ${p.queueName})` : ""}`);
    this.pump();
    return result;
  }

  private add(m: {
    kind: DevMessage["kind"];
    url: string;
    method: string;
    header: Record<string, string>;
    bytes: Bytes;
    maxRetries: number;
    dueAt: number;
    timeoutMs?: number;
    retryDelay?: (retried: number) => number;
    onSuccess?: CallbackSettings;
    onFailure?: CallbackSettings;
    queueName?: string;
    deduplicationId?: string;
    sourceMessageId?: string;
  }): Entry {
    const text = utf8(m.bytes);
    const info: DevMessage = {
      messageId: `msg_${randomId()}`,
      kind: m.kind,
      url: m.url,
      method: m.method,
      header: m.header,
      ...(text === undefined ? { bodyBase64: toBase64(m.bytes) } : { body: text }),
      state: "CREATED",
      retried: 0,
      maxRetries: m.maxRetries,
      createdAt: this.clock(),
      notBefore: m.dueAt,
      nextDeliveryAt: m.dueAt,
      queueName: m.queueName,
      callback: m.onSuccess?.url,
      failureCallback: m.onFailure?.url,
      deduplicationId: m.deduplicationId,
      sourceMessageId: m.sourceMessageId,
      attempts: [],
    };
    const entry: Entry = {
      info,
      bytes: m.bytes,
      dueAt: m.dueAt,
      timeoutMs: m.timeoutMs,
      retryDelay: m.retryDelay,
      onSuccess: m.onSuccess,
      onFailure: m.onFailure,
      holdsQueueSlot: false,
    };
    this.entries.set(info.messageId, entry);
    return entry;
  }

  private queue(name: string): QueueInfo {
    let queue = this.queues.get(name);
    if (!queue) {
      const now = this.clock();
      queue = { name, parallelism: 1, paused: false, createdAt: now, updatedAt: now };
      this.queues.set(name, queue);
    }
    return queue;
  }

  private cancel(ids: string[]): number {
    let cancelled = 0;
    for (const id of ids) {
      const entry = this.entries.get(id);
      if (!entry || isSettled(entry.info.state)) continue;
      entry.info.state = "CANCELLED";
      entry.info.nextDeliveryAt = undefined;
      entry.holdsQueueSlot = false;
      cancelled++;
      this.log(`cancel ${id}`);
    }
    this.pump();
    return cancelled;
  }

  private entryOr404(id: string): Entry {
    const entry = this.entries.get(id);
    if (!entry) throw new QStashDevError(404, `message ${JSON.stringify(id)} not found`);
    return entry;
  }

  /** The SDK's `Message` shape (header values as arrays), plus qstash-dev's `state` and `retried`. */
  private describe(entry: Entry) {
    const m = entry.info;
    return {
      messageId: m.messageId,
      url: m.url,
      method: m.method,
      header: headerArrays(m.header),
      body: m.body,
      bodyBase64: m.bodyBase64,
      maxRetries: m.maxRetries,
      notBefore: m.notBefore,
      createdAt: m.createdAt,
      callback: m.callback,
      failureCallback: m.failureCallback,
      queueName: m.queueName,
      state: m.state,
      retried: m.retried,
    };
  }

  private describeQueue(q: QueueInfo) {
    const lag = [...this.entries.values()].filter((e) => e.info.queueName === q.name && !isSettled(e.info.state)).length;
    return { name: q.name, parallelism: q.parallelism, paused: q.paused, lag, createdAt: q.createdAt, updatedAt: q.updatedAt };
  }

  // ---------------------------------------------------------------- scheduling and delivery

  /** Starts every delivery that is due, then arms one timer for the next due time. */
  private pump(): void {
    if (this.stopping.signal.aborted) return;
    const clock = this.clock();
    const slotsInUse = new Map<string, number>();
    for (const e of this.entries.values()) {
      if (e.holdsQueueSlot && e.info.queueName) {
        slotsInUse.set(e.info.queueName, (slotsInUse.get(e.info.queueName) ?? 0) + 1);
      }
    }
    let next = Infinity;
    for (const e of this.entries.values()) {
      const state = e.info.state;
      if (state !== "CREATED" && state !== "RETRY") continue;
      if (e.dueAt > clock) {
        next = Math.min(next, e.dueAt);
        continue;
      }
      if (state === "CREATED" && e.info.queueName) {
        const queue = this.queue(e.info.queueName);
        const used = slotsInUse.get(queue.name) ?? 0;
        if (queue.paused || used >= queue.parallelism) continue;
        slotsInUse.set(queue.name, used + 1);
        e.holdsQueueSlot = true;
      }
      this.deliver(e).catch((error: unknown) => {
        // Only a bug or an unusable signing key gets here: settle the message rather than lose it.
        e.info.state = "FAILED";
        e.holdsQueueSlot = false;
        this.log(`deliver ${e.info.messageId}: ${error instanceof Error ? error.message : String(error)}`);
        this.pump();
      });
    }
    clearTimeout(this.timer);
    this.timer = undefined;
    if (next < Infinity) this.timer = setTimeout(() => this.pump(), Math.min(Math.max(next - clock, 0), MAX_TIMER_MS));
    this.notifyIfIdle();
  }

  private async deliver(e: Entry): Promise<void> {
    const m = e.info;
    m.state = "ACTIVE";
    m.nextDeliveryAt = undefined;
    const retried = m.retried;
    const hasBody = m.method !== "GET" && m.method !== "HEAD";
    const bytes = hasBody ? e.bytes : new Uint8Array();
    const headers = new Headers(m.header);
    headers.set("user-agent", "Upstash-QStash");
    headers.set("upstash-message-id", m.messageId);
    headers.set("upstash-retried", String(retried));
    headers.set("upstash-signature", await this.sign(m.url, bytes));
    if (m.queueName) headers.set("upstash-queue-name", m.queueName);
    const signals = [this.stopping.signal];
    if (e.timeoutMs !== undefined) signals.push(AbortSignal.timeout(e.timeoutMs));

    const attempt: DeliveryAttempt = { retried, at: this.clock() };
    let response: { status: number; headers: Headers; bytes: Bytes } | undefined;
    try {
      const res = await this.send(m.url, {
        method: m.method,
        headers,
        body: hasBody ? bytes : undefined,
        redirect: "manual",
        signal: AbortSignal.any(signals),
      });
      response = { status: res.status, headers: res.headers, bytes: new Uint8Array(await res.arrayBuffer()) };
      attempt.status = res.status;
    } catch (error) {
      attempt.error = error instanceof Error ? error.message : String(error);
    }
    m.attempts.push(attempt);
    if (this.stopping.signal.aborted) return;
    // Cancelled while in flight (the await above let DELETE /v2/messages run): no retries, no callbacks.
    if ((m.state as MessageState) === "CANCELLED") return this.pump();

    const ok = response !== undefined && response.status >= 200 && response.status < 300;
    // A response (2xx or not) goes to Upstash-Callback after each attempt, as QStash documents.
    if (response && e.onSuccess) this.addCallback(e, "callback", e.onSuccess, response, retried);
    const nonRetryable = response?.status === 489 && response.headers.get("upstash-nonretryable-error") === "true";
    if (ok) {
      m.state = "DELIVERED";
      e.holdsQueueSlot = false;
    } else if (retried < m.maxRetries && !nonRetryable) {
      m.state = "RETRY";
      m.retried = retried + 1;
      const backoff = e.retryDelay ? e.retryDelay(retried) : this.retryDelayMs * 2 ** retried;
      e.dueAt = this.clock() + Math.min(Math.max(backoff, 0), MAX_RETRY_DELAY_MS);
      m.nextDeliveryAt = e.dueAt;
    } else {
      m.state = "FAILED";
      e.holdsQueueSlot = false;
      if (e.onFailure) this.addCallback(e, "failure-callback", e.onFailure, response, retried, attempt.error);
    }
    const outcome = m.state === "RETRY" ? `RETRY in ${e.dueAt - this.clock()} ms` : m.state;
    this.log(`deliver ${m.messageId} → ${m.method} ${m.url} (retried ${retried}): ${attempt.status ?? attempt.error} → ${outcome}`);
    this.pump();
  }

  /** Callbacks are messages of their own: signed for their URL, retried, logged. */
  private addCallback(
    source: Entry,
    kind: "callback" | "failure-callback",
    settings: CallbackSettings,
    response: { status: number; headers: Headers; bytes: Bytes } | undefined,
    retried: number,
    error?: string,
  ): void {
    const m = source.info;
    const payload = {
      status: response?.status ?? 0,
      header: response ? headerArrays(Object.fromEntries(response.headers)) : {},
      body: response ? toBase64(response.bytes) : "",
      ...(error !== undefined && { error }),
      retried,
      maxRetries: m.maxRetries,
      sourceMessageId: m.messageId,
      url: m.url,
      method: m.method,
      sourceHeader: headerArrays(m.header),
      sourceBody: toBase64(source.bytes),
      notBefore: m.notBefore,
      createdAt: m.createdAt,
      ...(m.queueName && { queueName: m.queueName }),
    };
    const callback = this.add({
      kind,
      url: settings.url,
      method: settings.method ?? "POST",
      header: { ...settings.forward, "content-type": "application/json" },
      bytes: new TextEncoder().encode(JSON.stringify(payload)),
      maxRetries: settings.retries ?? m.maxRetries,
      dueAt: this.clock() + (settings.delayMs ?? 0),
      timeoutMs: settings.timeoutMs,
      sourceMessageId: m.messageId,
    });
    this.log(`${kind} ${callback.info.messageId} for ${m.messageId} → ${settings.url}`);
  }

  /** The `Upstash-Signature` JWT: what `Receiver.verify({ signature, body, url })` checks. */
  private async sign(url: string, body: Bytes): Promise<string> {
    const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
    const nowS = Math.floor(this.now() / 1000);
    return new SignJWT({ body: base64url.encode(digest) })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setIssuer("Upstash")
      .setSubject(url)
      .setIssuedAt(nowS)
      .setNotBefore(nowS)
      .setExpirationTime(nowS + SIGNATURE_TTL_S)
      .setJti(`jwt_${randomId()}`)
      .sign(new TextEncoder().encode(this.currentSigningKey));
  }

  private isBusy(e: Entry): boolean {
    const state = e.info.state;
    if (state === "ACTIVE" || state === "RETRY") return true;
    if (state !== "CREATED" || e.dueAt > this.clock()) return false;
    return !(e.info.queueName && this.queues.get(e.info.queueName)?.paused);
  }

  private isIdle(): boolean {
    for (const e of this.entries.values()) if (this.isBusy(e)) return false;
    return true;
  }

  private notifyIfIdle(): void {
    if (this.idleWaiters.size === 0 || !this.isIdle()) return;
    for (const resolve of [...this.idleWaiters]) resolve();
  }
}

// ---------------------------------------------------------------- serving

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
    handler: (req: Request) => Promise<Response>,
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
    const server = Bun.serve({ port: wanted, hostname, fetch: dev.fetch });
    port = server.port ?? wanted;
    close = () => server.stop(true);
  } else if (deno) {
    const server = deno.serve({ port: wanted, hostname, onListen: () => {} }, dev.fetch);
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

// ---------------------------------------------------------------- helpers

function json(value: unknown, status = 200): Response {
  return new Response(JSON.stringify(value), { status, headers: { "content-type": "application/json" } });
}

async function readBytes(req: Request): Promise<Bytes> {
  return new Uint8Array(await req.arrayBuffer());
}

function decodePart(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new QStashDevError(400, `${what} ${JSON.stringify(part)} is not valid percent-encoding`);
  }
}

function snapshot(m: DevMessage): DevMessage {
  return { ...m, header: { ...m.header }, attempts: m.attempts.map((a) => ({ ...a })) };
}

function isSettled(state: MessageState): boolean {
  return state === "DELIVERED" || state === "FAILED" || state === "CANCELLED";
}

function parseDestination(raw: string, what: string): string {
  let destination = raw;
  // Also take a percent-encoded destination (`/v2/publish/https%3A%2F%2F...`), as QStash does.
  if (!/^https?:\/\//i.test(destination) && /^https?%3A/i.test(destination)) {
    try {
      destination = decodeURIComponent(destination);
    } catch {
      // keep it as it is; the check below reports it
    }
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(destination);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:") || !parsed.hostname) {
    throw new QStashDevError(
      400,
      `${what} ${JSON.stringify(raw)} is not an absolute http:// or https:// URL (qstash-dev delivers to URLs only: no URL groups, no APIs)`,
    );
  }
  return destination;
}

function optionalCount(value: string | null, what: string): number | undefined {
  if (value === null) return undefined;
  if (!/^\d+$/.test(value.trim())) throw new QStashDevError(400, `${what}: expected a non-negative integer, got ${JSON.stringify(value)}`);
  return Number(value.trim());
}

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "10s", "2m", "1h", "1d", "1h30m", "500ms" → milliseconds. */
export function parseDuration(value: string): number | undefined {
  const text = value.trim();
  if (!/^(\d+(ms|s|m|h|d))+$/.test(text)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) ms += Number(amount) * UNIT_MS[unit!]!;
  return ms;
}

function optionalDuration(value: string | null, what: string): number | undefined {
  if (value === null) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined) throw new QStashDevError(400, `${what}: expected a duration such as 10s, 2m, 1h or 1d, got ${JSON.stringify(value)}`);
  return ms;
}

function callbackSettings(h: Headers, prefix: string, what: string): CallbackSettings | undefined {
  const url = h.get(prefix);
  if (url === null) return undefined;
  const method = h.get(`${prefix}-method`)?.toUpperCase();
  if (method !== undefined && !["GET", "POST", "PUT", "DELETE", "PATCH"].includes(method)) {
    throw new QStashDevError(400, `${what}-Method ${JSON.stringify(method)} is not one of GET, POST, PUT, DELETE, PATCH`);
  }
  return {
    url: parseDestination(url, what),
    forward: forwardedHeaders(h, `${prefix}-forward-`),
    retries: optionalCount(h.get(`${prefix}-retries`), `${what}-Retries`),
    method,
    delayMs: optionalDuration(h.get(`${prefix}-delay`), `${what}-Delay`),
    timeoutMs: optionalDuration(h.get(`${prefix}-timeout`), `${what}-Timeout`),
  };
}

function forwardedHeaders(h: Headers, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of h) if (name.startsWith(prefix) && name.length > prefix.length) out[name.slice(prefix.length)] = value;
  return out;
}

/** `{ "content-type": "x" }` → `{ "Content-Type": ["x"] }`, the way QStash reports headers. */
function headerArrays(headers: Record<string, string>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase())] = [value];
  }
  return out;
}

/** Content-based deduplication covers the destination, the body, content-type and the forwarded headers. */
async function contentHash(destination: string, header: Record<string, string>, body: Bytes): Promise<string> {
  const head = new TextEncoder().encode(JSON.stringify([destination, Object.entries(header).sort()]) + "\n");
  const all = new Uint8Array(head.length + body.length);
  all.set(head);
  all.set(body, head.length);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all));
  return [...digest].map((b) => b.toString(16).padStart(2, "0")).join("");
}

function isStringRecord(value: unknown): value is Record<string, string> {
  return typeof value === "object" && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === "string");
}

function utf8(bytes: Bytes): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

function toBase64(bytes: Bytes): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

function randomId(): string {
  return crypto.randomUUID().replaceAll("-", "");
}

const FUNCTIONS: Record<string, (...args: number[]) => number> = {
  pow: Math.pow,
  sqrt: Math.sqrt,
  abs: Math.abs,
  exp: Math.exp,
  floor: Math.floor,
  ceil: Math.ceil,
  round: Math.round,
  min: Math.min,
  max: Math.max,
};

/**
 * `Upstash-Retry-Delay`: an arithmetic expression in ms over `retried` (0 before the first retry) with
 * + - * / ( ) and pow, sqrt, abs, exp, floor, ceil, round, min, max — e.g. `1000 * pow(2, retried)`.
 */
export function compileRetryDelay(source: string): (retried: number) => number {
  const tokens = source.match(/\d+(?:\.\d+)?|[A-Za-z_]\w*|\S/g) ?? [];
  let i = 0;
  const peek = () => tokens[i];
  const take = (expected?: string) => {
    const token = tokens[i++];
    if (token === undefined || (expected !== undefined && token !== expected)) {
      throw new Error(`expected ${expected ?? "more"} at token ${i}, got ${token ?? "the end"}`);
    }
    return token;
  };
  type Node = (retried: number) => number;
  const expr = (): Node => {
    let left = term();
    while (peek() === "+" || peek() === "-") {
      const op = take();
      const a = left;
      const b = term();
      left = op === "+" ? (r) => a(r) + b(r) : (r) => a(r) - b(r);
    }
    return left;
  };
  const term = (): Node => {
    let left = factor();
    while (peek() === "*" || peek() === "/") {
      const op = take();
      const a = left;
      const b = factor();
      left = op === "*" ? (r) => a(r) * b(r) : (r) => a(r) / b(r);
    }
    return left;
  };
  const factor = (): Node => {
    const token = take();
    if (token === "-") {
      const inner = factor();
      return (r) => -inner(r);
    }
    if (token === "(") {
      const inner = expr();
      take(")");
      return inner;
    }
    if (/^\d/.test(token)) {
      const value = Number(token);
      return () => value;
    }
    if (token === "retried") return (r) => r;
    const fn = FUNCTIONS[token];
    if (!fn) throw new Error(`unknown name ${token}`);
    take("(");
    const args: Node[] = [expr()];
    while (peek() === ",") {
      take(",");
      args.push(expr());
    }
    take(")");
    return (r) => fn(...args.map((arg) => arg(r)));
  };
  const node = expr();
  if (i !== tokens.length) throw new Error(`unexpected ${tokens[i]}`);
  return (retried) => {
    const value = node(retried);
    return Number.isFinite(value) ? value : 0;
  };
}

// ---------------------------------------------------------------- command line

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
