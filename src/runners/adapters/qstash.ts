import type { Client } from "@upstash/qstash";
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import { ConfigError } from "../../errors.ts";
import { type EnqueueOptions, type Job, jobBody, type QueueAdapter } from "../jobs.ts";

/** What the adapter uses of `@upstash/qstash`'s `Client` (`schedules` for the sweep schedule). */
export type QStashClient = Pick<Client, "publishJSON" | "queue"> & Partial<Pick<Client, "schedules">>;

/** The sweep schedule's cron: once a minute, QStash's finest. */
const SWEEP_CRON = "* * * * *";
const SWEEP_BODY = JSON.stringify({ action: "sweep" });

export interface QStashAdapterOptions {
  /** `new Client({ token, baseUrl? })` from `@upstash/qstash`. */
  client: QStashClient;
  /** Where QStash delivers jobs: the app's `POST /qstash`, as a public absolute URL. Signatures are checked against it. */
  callbackUrl: string;
  /** Redeliveries after a failed delivery (QStash's `Upstash-Retries`, default 3). */
  retries?: number;
  /**
   * Where QStash reports a job it gave up on (`Upstash-Failure-Callback`); the app logs it and leaves the execution
   * as it was, for the sweeper to hand back to the queue (a store outage is no reason to fail a run).
   * Default: `<callbackUrl>/failure` (the route the app mounts). `false`: no failure callback.
   */
  failureCallbackUrl?: string | false;
  /** QStash's `Upstash-Retry-Delay` expression in ms over `retried`, e.g. `"1000 * pow(2, retried)"`. Default: QStash's backoff. */
  retryDelay?: string;
  /** HTTP timeout of one delivery in seconds (`Upstash-Timeout`); keep it above the callback's time budget. */
  timeoutSeconds?: number;
  /** Extra headers delivered with every job (forwarded by QStash). */
  headers?: Record<string, string>;
}

type FlowControlOption = NonNullable<Parameters<QStashClient["publishJSON"]>[0]["flowControl"]>;

/** Deduplication ids longer than this are replaced by a hash. */
const MAX_DEDUPLICATION_ID = 200;

/**
 * Publishes each job to QStash as a small JSON message, delivered to `callbackUrl` (the app's `POST /qstash`,
 * see `createQStashHandler`). Every job gets a deduplication id, so enqueuing the same job twice is one
 * message. `queue` maps to a QStash queue (immediate jobs only: a delayed job is published outside the
 * queue); `priority` has no QStash equivalent and is ignored. See docs/async.md.
 */
export class QStashAdapter implements QueueAdapter {
  readonly client: QStashClient;
  readonly callbackUrl: string;
  readonly failureCallbackUrl: string | undefined;
  readonly #options: QStashAdapterOptions;

  constructor(options: QStashAdapterOptions) {
    if (!options?.client) throw new ConfigError("QStashAdapter needs a client: new Client({ token }) from @upstash/qstash");
    this.client = options.client;
    this.callbackUrl = checkHttpUrl(options.callbackUrl, "QStashAdapter callbackUrl");
    this.failureCallbackUrl = options.failureCallbackUrl === false
      ? undefined
      : checkHttpUrl(options.failureCallbackUrl ?? failureUrlOf(this.callbackUrl), "QStashAdapter failureCallbackUrl");
    const retries = options.retries ?? 3;
    if (!Number.isInteger(retries) || retries < 0) {
      throw new ConfigError(`QStashAdapter retries must be a non-negative integer, got ${retries}`);
    }
    this.#options = { ...options, retries };
  }

  async enqueue(job: Job, options: EnqueueOptions = {}): Promise<void> {
    const delay = options.delaySeconds && options.delaySeconds > 0 ? Math.ceil(options.delaySeconds) : undefined;
    const deduplicationId = await deduplicationIdOf(job, options.key);
    const request = {
      url: this.callbackUrl,
      body: jobBody(job),
      retries: this.#options.retries,
      ...(deduplicationId ? { deduplicationId } : {}),
      ...(delay ? { delay } : {}),
      ...(this.failureCallbackUrl ? { failureCallback: this.failureCallbackUrl } : {}),
      ...(this.#options.retryDelay ? { retryDelay: this.#options.retryDelay } : {}),
      ...(this.#options.timeoutSeconds ? { timeout: this.#options.timeoutSeconds } : {}),
      ...(this.#options.headers ? { headers: this.#options.headers } : {}),
      // QStash's own flow control spreads start deliveries; continuations never wait behind new starts.
      ...(job.action === "start" && job.flowControl ? { flowControl: job.flowControl as FlowControlOption } : {}),
    };
    if (job.queue && !delay) await this.client.queue({ queueName: job.queue }).enqueueJSON(request);
    else await this.client.publishJSON(request);
  }
}

/**
 * The sweep schedule's id: fixed for a callback URL (`dw-sweep-<16 hex of its SHA-256>`), so every instance and every
 * restart of one deployment finds the same schedule, and two deployments on one QStash account do not share one.
 */
export function sweepScheduleIdOf(callbackUrl: string): string {
  return `dw-sweep-${bytesToHex(sha256(utf8ToBytes(callbackUrl))).slice(0, 16)}`;
}

/**
 * Makes sure QStash posts `{"action":"sweep"}` to `callbackUrl` every minute: finds the schedule with the fixed id
 * (`sweepScheduleIdOf`) and creates it (or replaces a different one under that id) only when it is missing or
 * differs, so calling it at every start is idempotent. A paused schedule is left paused (an operator paused it).
 */
export async function ensureSweepSchedule(adapter: QStashAdapter): Promise<{ scheduleId: string; created: boolean }> {
  const schedules = adapter.client.schedules;
  if (!schedules) {
    throw new ConfigError("The QStash client has no `schedules`: pass a Client from @upstash/qstash to create the sweep schedule");
  }
  const scheduleId = sweepScheduleIdOf(adapter.callbackUrl);
  // list, not get: the SDK logs a get of a missing schedule as a failure, and a missing one is the first start's case.
  const existing = (await schedules.list()).find((schedule) => schedule.scheduleId === scheduleId);
  if (existing && existing.destination === adapter.callbackUrl && existing.cron === SWEEP_CRON && existing.body === SWEEP_BODY) {
    return { scheduleId, created: false };
  }
  await createSweepSchedule(schedules, { scheduleId, destination: adapter.callbackUrl, cron: SWEEP_CRON });
  return { scheduleId, created: true };
}

/** Creates (or replaces) the schedule `scheduleId` that posts `{"action":"sweep"}` to `destination` at `cron`. */
export async function createSweepSchedule(
  schedules: Pick<Client["schedules"], "create">,
  schedule: { scheduleId: string; destination: string; cron: string },
): Promise<void> {
  await schedules.create({ ...schedule, body: SWEEP_BODY, headers: { "content-type": "application/json" } });
}

/** `<callbackUrl>/failure`, query string kept: where the app mounts the failure callback. */
export function failureUrlOf(callbackUrl: string): string {
  const url = new URL(callbackUrl);
  url.pathname = `${url.pathname.replace(/\/+$/, "")}/failure`;
  return url.toString();
}

/** `value` when it is an absolute http(s) URL; else a ConfigError naming `what` (e.g. "QStashAdapter callbackUrl"). */
export function checkHttpUrl(value: unknown, what: string): string {
  if (typeof value === "string") {
    try {
      const url = new URL(value);
      if (url.protocol === "https:" || url.protocol === "http:") return value;
    } catch {
      // reported below
    }
  }
  throw new ConfigError(`${what} must be an absolute http(s) URL, got ${JSON.stringify(value)}`);
}

/**
 * `<executionId>.<action>[.<what makes it unique>][.<key>]`, each part escaped to `[A-Za-z0-9-]` (any other
 * byte becomes `_xx`: QStash refuses `:` in ids, and the escape keeps distinct ids distinct):
 *
 * - start: the execution's createdAt (`order-1.start.1767225600000`): one message per execution;
 * - resume: the halted revision (`order-1.resume.r4`): one answer per halt, the first wins;
 * - wake: the halt's wake time (older jobs: the approval's requested_at; the sweeper's: the halted revision, `r4`): one timer per halt;
 * - continue: the key (the id of the delivery that yielded): one continuation per delivery.
 *
 * A resume without revision or a continue without key gets no deduplication id (undefined).
 */
export async function deduplicationIdOf(job: Job, key?: string): Promise<string | undefined> {
  const parts: string[] = [job.executionId, job.action];
  switch (job.action) {
    case "start":
      if (job.createdAt !== undefined) parts.push(timePart(job.createdAt));
      break;
    case "resume":
      if (job.revision === undefined) return undefined;
      parts.push(`r${job.revision}`);
      break;
    case "wake": {
      const halt = job.wakeAt ?? job.haltedAt;
      if (halt !== undefined) parts.push(timePart(halt));
      else if (job.revision !== undefined) parts.push(`r${job.revision}`);
      else return undefined;
      break;
    }
    case "continue":
      if (key === undefined) return undefined;
      break;
  }
  if (key !== undefined) parts.push(key);
  const id = parts.map(escapePart).join(".");
  if (id.length <= MAX_DEDUPLICATION_ID) return id;
  return `h-${bytesToHex(sha256(utf8ToBytes(id)))}`;
}

function timePart(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isFinite(ms) ? String(ms) : iso;
}

function escapePart(part: string): string {
  let out = "";
  for (const byte of new TextEncoder().encode(part)) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9-]/.test(c) ? c : `_${byte.toString(16).padStart(2, "0")}`;
  }
  return out;
}
