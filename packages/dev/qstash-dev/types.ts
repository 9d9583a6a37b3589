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
  /**
   * Added to every QStash API request (`/v2/...`: publish, enqueue, batch, ...) before it is handled, and to every
   * delivery before it is sent (default 0): the round trips an edge app sees to QStash and from it.
   */
  latencyMs?: number;
  /** How `latencyMs` is waited (default setTimeout; tests inject their own). */
  sleep?: (ms: number) => Promise<void>;
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
  /** For messages a schedule published. */
  scheduleId?: string;
  /** For messages of an Upstash Workflow run. */
  workflowRunId?: string;
  /** The publish's flow control (`Upstash-Flow-Control-Key` / `-Value`), as recorded: qstash-dev does not enforce it. */
  flowControl?: DevFlowControl;
  attempts: DeliveryAttempt[];
}

/** `Upstash-Flow-Control-Value: parallelism=5, rate=100, period=60s` under its key. */
export interface DevFlowControl {
  key: string;
  parallelism?: number;
  rate?: number;
  /** As sent (`60s`, `1m`). */
  period?: string;
}

export interface DeliveryAttempt {
  retried: number;
  at: number;
  status?: number;
  /** Network error or timeout, when the destination gave no answer. */
  error?: string;
}
