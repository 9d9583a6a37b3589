/** The JSON shapes the QStash API answers for messages and queues. */
import { headerArrays } from "./headers.ts";
import { type Entry, isSettled, type QueueInfo } from "./scheduler.ts";
import type { DevMessage } from "./types.ts";

/** The SDK's `Message` shape (header values as arrays), plus qstash-dev's `state` and `retried`. */
export function messageView(entry: Entry) {
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
    scheduleId: m.scheduleId,
    workflowRunId: m.workflowRunId,
    state: m.state,
    retried: m.retried,
  };
}

export function queueView(q: QueueInfo, entries: Iterable<Entry>) {
  let lag = 0;
  for (const e of entries) if (e.info.queueName === q.name && !isSettled(e.info.state)) lag++;
  return { name: q.name, parallelism: q.parallelism, paused: q.paused, lag, createdAt: q.createdAt, updatedAt: q.updatedAt };
}

/** A copy that callers may keep and change. */
export function snapshot(m: DevMessage): DevMessage {
  return { ...m, header: { ...m.header }, attempts: m.attempts.map((a) => ({ ...a })) };
}
