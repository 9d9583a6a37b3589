/**
 * Delivery timing: the scheduling clock (`now()` plus what `advanceTime` skipped), due times, queue
 * slots, delivery attempts with retries and backoff, and the callback messages QStash makes from answers.
 */
import { bodyFields, type Bytes, encodeText, randomId, toBase64 } from "./bytes.ts";
import { type CallbackSettings, headerArrays } from "./headers.ts";
import { signDelivery } from "./signing.ts";
import type { StatsCounter } from "./stats.ts";
import type { DeliveryAttempt, DevMessage, MessageState } from "./types.ts";

const MAX_RETRY_DELAY_MS = 86_400_000; // QStash caps its backoff at one day
const MAX_TIMER_MS = 2_147_483_647;

export interface Entry {
  info: DevMessage;
  bytes: Bytes;
  /** What is delivered, when it is not `bytes` (a workflow run's step log up to this message). */
  deliveryBody?: () => Bytes;
  /** QStash's own headers for this message's deliveries (schedule id, workflow run). */
  systemHeaders: Record<string, string>;
  dueAt: number;
  timeoutMs?: number;
  retryDelay?: (retried: number) => number;
  onSuccess?: CallbackSettings;
  onFailure?: CallbackSettings;
}

interface NewEntry {
  kind: DevMessage["kind"];
  url: string;
  method: string;
  header: Record<string, string>;
  bytes: Bytes;
  maxRetries: number;
  dueAt: number;
  systemHeaders?: Record<string, string>;
  timeoutMs?: number;
  retryDelay?: (retried: number) => number;
  onSuccess?: CallbackSettings;
  onFailure?: CallbackSettings;
  queueName?: string;
  deduplicationId?: string;
  sourceMessageId?: string;
  scheduleId?: string;
  workflowRunId?: string;
  flowControl?: DevMessage["flowControl"];
}

export interface QueueInfo {
  name: string;
  parallelism: number;
  paused: boolean;
  createdAt: number;
  updatedAt: number;
}

/** Something that publishes on its own when the clock reaches a time (schedules). */
export interface TimedSource {
  /** Publishes everything due at or before `clock`. */
  fireDue(clock: number): void;
  /** The next time it will publish (Infinity: never). */
  nextDue(): number;
}

interface SchedulerOptions {
  send: (url: string, init: RequestInit) => Promise<Response>;
  now: () => number;
  retryDelayMs: number;
  signingKey: string;
  log: (line: string) => void;
  stats: StatsCounter;
}

export class Scheduler {
  readonly entries = new Map<string, Entry>();
  readonly queues = new Map<string, QueueInfo>();
  private readonly sources: TimedSource[] = [];
  private readonly settledListeners: ((entry: Entry) => void)[] = [];
  private readonly idleWaiters = new Set<() => void>();
  /** The entries a pump looks at (CREATED or RETRY), so that a pump costs what is pending, not every message seen. */
  private readonly waiting = new Set<Entry>();
  /** The entries holding one of their queue's parallelism slots: from their first attempt until they settle. */
  private readonly slotHolders = new Set<Entry>();
  private readonly stopping = new AbortController();
  private skippedMs = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly options: SchedulerOptions) {}

  /** The scheduling clock: `now()` plus everything `advanceTime` skipped. */
  clock(): number {
    return this.options.now() + this.skippedMs;
  }

  /** Moves the scheduling clock forward and delivers what became due (delays, not-before, backoffs, schedule ticks). */
  advanceTime(ms: number): void {
    if (!(ms >= 0)) throw new RangeError(`advanceTime: expected a non-negative number of ms, got ${ms}`);
    this.skippedMs += ms;
    this.pump();
  }

  addSource(source: TimedSource): void {
    this.sources.push(source);
  }

  /** Called after each delivery attempt that settled its message (delivered, failed or cancelled in flight). */
  onSettled(listener: (entry: Entry) => void): void {
    this.settledListeners.push(listener);
  }

  add(m: NewEntry): Entry {
    const info: DevMessage = {
      messageId: `msg_${randomId()}`,
      kind: m.kind,
      url: m.url,
      method: m.method,
      header: m.header,
      ...bodyFields(m.bytes),
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
      scheduleId: m.scheduleId,
      workflowRunId: m.workflowRunId,
      ...(m.flowControl ? { flowControl: m.flowControl } : {}),
      attempts: [],
    };
    const entry: Entry = {
      info,
      bytes: m.bytes,
      systemHeaders: m.systemHeaders ?? {},
      dueAt: m.dueAt,
      timeoutMs: m.timeoutMs,
      retryDelay: m.retryDelay,
      onSuccess: m.onSuccess,
      onFailure: m.onFailure,
    };
    this.entries.set(info.messageId, entry);
    this.waiting.add(entry);
    if (m.queueName) this.queue(m.queueName);
    return entry;
  }

  queue(name: string): QueueInfo {
    let queue = this.queues.get(name);
    if (!queue) {
      const now = this.clock();
      queue = { name, parallelism: 1, paused: false, createdAt: now, updatedAt: now };
      this.queues.set(name, queue);
    }
    return queue;
  }

  cancel(ids: Iterable<string>): number {
    let cancelled = 0;
    for (const id of ids) {
      const entry = this.entries.get(id);
      if (!entry || isSettled(entry.info.state)) continue;
      entry.info.state = "CANCELLED";
      entry.info.nextDeliveryAt = undefined;
      this.waiting.delete(entry);
      this.holdSlot(entry, false);
      cancelled++;
      this.options.log(`cancel ${id}`);
    }
    this.pump();
    return cancelled;
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

  /** Fires due schedule ticks, starts every delivery that is due, then arms one timer for the next due time. */
  pump(): void {
    if (this.stopping.signal.aborted) return;
    const clock = this.clock();
    for (const source of this.sources) source.fireDue(clock);
    const slotsInUse = new Map<string, number>();
    for (const e of this.slotHolders) {
      if (e.info.queueName) slotsInUse.set(e.info.queueName, (slotsInUse.get(e.info.queueName) ?? 0) + 1);
    }
    let next = Math.min(Infinity, ...this.sources.map((s) => s.nextDue()));
    for (const e of this.waiting) {
      const state = e.info.state;
      if (e.dueAt > clock) {
        next = Math.min(next, e.dueAt);
        continue;
      }
      if (state === "CREATED" && e.info.queueName) {
        const queue = this.queue(e.info.queueName);
        const used = slotsInUse.get(queue.name) ?? 0;
        if (queue.paused || used >= queue.parallelism) continue;
        slotsInUse.set(queue.name, used + 1);
        this.holdSlot(e, true);
      }
      this.waiting.delete(e);
      this.deliver(e).catch((error: unknown) => {
        // Only a bug or an unusable signing key gets here: settle the message rather than lose it.
        e.info.state = "FAILED";
        this.holdSlot(e, false);
        this.options.log(`deliver ${e.info.messageId}: ${error instanceof Error ? error.message : String(error)}`);
        this.settled(e);
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
    const bytes = hasBody ? (e.deliveryBody?.() ?? e.bytes) : new Uint8Array();
    const headers = new Headers(m.header);
    for (const [name, value] of Object.entries(e.systemHeaders)) headers.set(name, value);
    headers.set("user-agent", "Upstash-QStash");
    headers.set("upstash-message-id", m.messageId);
    headers.set("upstash-retried", String(retried));
    headers.set("upstash-signature", await signDelivery(this.options.signingKey, m.url, bytes, this.options.now()));
    if (m.queueName) headers.set("upstash-queue-name", m.queueName);
    const signals = [this.stopping.signal];
    if (e.timeoutMs !== undefined) signals.push(AbortSignal.timeout(e.timeoutMs));

    const attempt: DeliveryAttempt = { retried, at: this.clock() };
    this.options.stats.delivered(m.url, bytes.length);
    let response: { status: number; headers: Headers; bytes: Bytes } | undefined;
    try {
      const res = await this.options.send(m.url, {
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
    // Cancelled while in flight (the await above let a cancel run): no retries, no callbacks.
    if ((m.state as MessageState) === "CANCELLED") return this.settled(e);

    const ok = response !== undefined && response.status >= 200 && response.status < 300;
    // A response (2xx or not) goes to Upstash-Callback after each attempt, as QStash documents.
    if (response && e.onSuccess) this.addCallback(e, "callback", e.onSuccess, response, retried);
    const nonRetryable = response?.status === 489 && response.headers.get("upstash-nonretryable-error") === "true";
    if (ok) {
      m.state = "DELIVERED";
      this.holdSlot(e, false);
    } else if (retried < m.maxRetries && !nonRetryable) {
      m.state = "RETRY";
      this.waiting.add(e);
      m.retried = retried + 1;
      const backoff = e.retryDelay ? e.retryDelay(retried) : this.options.retryDelayMs * 2 ** retried;
      e.dueAt = this.clock() + Math.min(Math.max(backoff, 0), MAX_RETRY_DELAY_MS);
      m.nextDeliveryAt = e.dueAt;
    } else {
      m.state = "FAILED";
      this.holdSlot(e, false);
      if (e.onFailure) this.addCallback(e, "failure-callback", e.onFailure, response, retried, attempt.error);
    }
    const outcome = m.state === "RETRY" ? `RETRY in ${e.dueAt - this.clock()} ms` : m.state;
    this.options.log(`deliver ${m.messageId} → ${m.method} ${m.url} (retried ${retried}): ${attempt.status ?? attempt.error} → ${outcome}`);
    if (m.state === "RETRY") this.pump();
    else this.settled(e);
  }

  private holdSlot(e: Entry, holds: boolean): void {
    if (holds) this.slotHolders.add(e);
    else this.slotHolders.delete(e);
  }

  private settled(e: Entry): void {
    for (const listener of this.settledListeners) listener(e);
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
      bytes: encodeText(JSON.stringify(payload)),
      maxRetries: settings.retries ?? m.maxRetries,
      dueAt: this.clock() + (settings.delayMs ?? 0),
      timeoutMs: settings.timeoutMs,
      sourceMessageId: m.messageId,
    });
    this.options.log(`${kind} ${callback.info.messageId} for ${m.messageId} → ${settings.url}`);
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

export function isSettled(state: MessageState): boolean {
  return state === "DELIVERED" || state === "FAILED" || state === "CANCELLED";
}
