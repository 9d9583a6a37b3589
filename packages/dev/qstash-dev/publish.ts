/** Accepting messages: every header QStash reads, deduplication, and the hand-over to the scheduler. */
import { type Bytes, encodeText, sha256, toHex } from "./bytes.ts";
import { DEFAULT_RETRIES } from "./defaults.ts";
import { QStashDevError } from "./errors.ts";
import {
  type CallbackSettings,
  callbackSettings,
  forwardedHeaders,
  METHODS,
  optionalCount,
  optionalDuration,
  parseDestination,
} from "./headers.ts";
import { compileRetryDelay } from "./retry-delay.ts";
import type { Entry, Scheduler } from "./scheduler.ts";
import type { DevFlowControl } from "./types.ts";
import type { WorkflowRuns } from "./workflow.ts";

export interface Incoming {
  destination: string;
  headers: Headers;
  bytes: Bytes;
  queueName?: string;
}

export interface PublishResult {
  messageId: string;
  url: string;
  deduplicated?: boolean;
}

export interface ParsedPublish {
  destination: string;
  method: string;
  retries: number;
  /** When the message is due, given the clock at which it is published. */
  due: (clock: number) => number;
  timeoutMs?: number;
  retryDelay?: (retried: number) => number;
  onSuccess?: CallbackSettings;
  onFailure?: CallbackSettings;
  header: Record<string, string>;
  deduplicationId?: string;
  contentBased: boolean;
  bytes: Bytes;
  queueName?: string;
  workflow?: { runId: string; init: boolean };
  flowControl?: DevFlowControl;
}

/** Checks a publish where it enters: every header QStash reads, the destination and the callbacks. */
export function parsePublish(message: Incoming, where: string): ParsedPublish {
  const h = message.headers;
  const destination = parseDestination(message.destination, `${where}: destination`);
  const method = (h.get("upstash-method") ?? "POST").toUpperCase();
  if (!METHODS.includes(method)) {
    throw new QStashDevError(400, `${where}: Upstash-Method ${JSON.stringify(method)} is not one of ${METHODS.join(", ")}`);
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
  const header = forwardedHeaders(h, "upstash-forward-");
  const contentType = h.get("content-type");
  if (contentType !== null) header["content-type"] = contentType;
  const runId = h.get("upstash-workflow-runid");
  const flowControl = parseFlowControl(h, where);
  return {
    destination,
    method,
    retries,
    // Upstash-Not-Before wins over Upstash-Delay, as in QStash.
    due: (clock) => (notBeforeS !== undefined ? notBeforeS * 1000 : clock + delayMs),
    timeoutMs,
    retryDelay,
    onSuccess: callbackSettings(h, "upstash-callback", `${where}: Upstash-Callback`),
    onFailure: callbackSettings(h, "upstash-failure-callback", `${where}: Upstash-Failure-Callback`),
    header,
    deduplicationId: h.get("upstash-deduplication-id") ?? undefined,
    contentBased: h.get("upstash-content-based-deduplication") === "true",
    bytes: message.bytes,
    queueName: message.queueName,
    workflow: runId ? { runId, init: h.get("upstash-workflow-init") === "true" } : undefined,
    ...(flowControl ? { flowControl } : {}),
  };
}

/** `Upstash-Flow-Control-Key` with `Upstash-Flow-Control-Value` (`parallelism=5, rate=100, period=60s`): both or neither. */
function parseFlowControl(h: Headers, where: string): DevFlowControl | undefined {
  const key = h.get("upstash-flow-control-key");
  const value = h.get("upstash-flow-control-value");
  if (key === null && value === null) return undefined;
  if (!key || !value) {
    throw new QStashDevError(400, `${where}: Upstash-Flow-Control-Key and Upstash-Flow-Control-Value go together`);
  }
  const control: DevFlowControl = { key };
  for (const part of value.split(",")) {
    const [name, raw = ""] = part.trim().split("=").map((s) => s.trim()) as [string, string?];
    if (name === "period" && raw) control.period = raw;
    else if ((name === "parallelism" || name === "rate") && /^[1-9][0-9]*$/.test(raw)) control[name] = Number(raw);
    else {throw new QStashDevError(
        400,
        `${where}: Upstash-Flow-Control-Value part ${JSON.stringify(part.trim())} is not parallelism=N, rate=N or period=D`,
      );}
  }
  return control;
}

export class Publisher {
  private readonly dedup = new Map<string, { result: PublishResult; expiresAt: number }>();

  constructor(
    private readonly scheduler: Scheduler,
    private readonly runs: WorkflowRuns,
    private readonly options: { deduplicationWindowMs: number; log: (line: string) => void },
  ) {}

  /** Publishes now: deduplicates, enqueues and starts what is due. */
  async publish(p: ParsedPublish): Promise<PublishResult> {
    const clock = this.scheduler.clock();
    for (const [key, seen] of this.dedup) if (seen.expiresAt <= clock) this.dedup.delete(key);
    const dedupKey = p.deduplicationId !== undefined
      ? `id:${p.deduplicationId}`
      : p.contentBased
      ? `content:${await contentHash(p.destination, p.header, p.bytes)}`
      : undefined;
    const seen = dedupKey ? this.dedup.get(dedupKey) : undefined;
    if (seen) {
      this.options.log(`publish ${seen.result.messageId} → ${p.destination}: duplicate (${dedupKey}), not enqueued`);
      return { ...seen.result, deduplicated: true };
    }
    const repeated = p.workflow && this.runs.repeatedTrigger(p.workflow);
    if (repeated) return { ...repeated, deduplicated: true };
    this.runs.checkPublishable(p.workflow);
    const entry = this.enqueue(p, clock);
    const result: PublishResult = { messageId: entry.info.messageId, url: p.destination };
    if (dedupKey) this.dedup.set(dedupKey, { result, expiresAt: clock + this.options.deduplicationWindowMs });
    this.scheduler.pump();
    return result;
  }

  /** Hands a checked message to the scheduler, due as of `clock`; does not start deliveries. */
  enqueue(p: ParsedPublish, clock: number, extra: { scheduleId?: string } = {}): Entry {
    const entry = this.scheduler.add({
      kind: "message",
      url: p.destination,
      method: p.method,
      header: p.header,
      bytes: p.bytes,
      maxRetries: p.retries,
      dueAt: p.due(clock),
      systemHeaders: extra.scheduleId ? { "upstash-schedule-id": extra.scheduleId } : undefined,
      timeoutMs: p.timeoutMs,
      retryDelay: p.retryDelay,
      onSuccess: p.onSuccess,
      onFailure: p.onFailure,
      queueName: p.queueName,
      deduplicationId: p.deduplicationId,
      scheduleId: extra.scheduleId,
      workflowRunId: p.workflow?.runId,
      flowControl: p.flowControl,
    });
    if (p.workflow) this.runs.attach(p.workflow, entry);
    const origin = extra.scheduleId ? ` (schedule ${extra.scheduleId})` : p.queueName ? ` (queue ${p.queueName})` : "";
    this.options.log(`publish ${entry.info.messageId} → ${p.method} ${p.destination}${origin}`);
    return entry;
  }
}

/** Content-based deduplication covers the destination, the body, content-type and the forwarded headers. */
async function contentHash(destination: string, header: Record<string, string>, body: Bytes): Promise<string> {
  const head = encodeText(JSON.stringify([destination, Object.entries(header).sort()]) + "\n");
  const all = new Uint8Array(head.length + body.length);
  all.set(head);
  all.set(body, head.length);
  return toHex(await sha256(all));
}
