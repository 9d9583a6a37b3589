/**
 * Sending an event: one store step hands it to the waiting runs whose match holds (each once, whatever the
 * instances and retries), keeps it for the lookback window, and a resume job per woken run is enqueued. Definitions
 * with an `event` trigger on the name start a run with the payload as input.
 */
import type { WorkflowLookup } from "../config.ts";
import type { WorkflowDefinition } from "../definition/workflow.ts";
import { type Clock, toClock } from "../engine/clock.ts";
import { receivedRecord } from "../engine/engine.ts";
import { errorText, ValidationError } from "../errors.ts";
import type { Condition } from "../expressions/conditions.ts";
import {
  EVENT_ID_PATTERN,
  EVENT_ID_RULE,
  EVENT_NAME_PATTERN,
  EVENT_NAME_RULE,
  eventMatches,
  payloadKeys,
  type SentEvent,
} from "../expressions/events.ts";
import { jsonSize, toJson } from "../json.ts";
import type { EventDelivery, Store } from "../store/store.ts";
import type { Json, Services } from "../types.ts";
import { InlineAdapter } from "./adapters/inline.ts";
import { AsyncRunner } from "./async.ts";
import type { QueueAdapter } from "./jobs.ts";
import { requireStore } from "./runner.ts";

export const DEFAULT_EVENT_LOOKBACK_SECONDS = 300;
/** An event id is remembered at least this long (or its lookback, when longer). */
const EVENT_DEDUP_MS = 24 * 60 * 60 * 1000;
const MAX_EVENT_PAYLOAD_BYTES = 256 * 1024;

export interface SendEventOptions {
  /** Deduplication id: an event sent twice with one id is delivered once (default: a new UUID). */
  id?: string;
  store?: Store;
  /** Where the woken runs are resumed (default: an InlineAdapter on the store, with `workflows` and `services`). */
  adapter?: QueueAdapter;
  /** The workflows served: their `event` triggers start runs (and the default adapter finds them here). */
  workflows?: WorkflowLookup;
  services?: Services;
  clock?: Clock | (() => Date);
  /** How long the event is kept for runs that reach their wait later (default 300 s). */
  lookbackSeconds?: number;
  /** Who sends it (an API token's name): on the `event.received` event of each woken run and in its `$response`. */
  actor?: string;
}

export interface SendEventOutcome {
  id: string;
  /** Waiting executions it woke. */
  delivered: number;
  /** The id was sent before: nothing was delivered again. */
  duplicate: boolean;
  /** Executions started by `event` triggers. */
  started: string[];
  /** Triggers whose start was refused (e.g. the payload is not a valid input of the workflow). */
  refused: { workflowId: string; error: string }[];
}

/** Checks a name, id and payload as they arrive; a ValidationError naming each problem otherwise. */
export function checkEvent(name: unknown, payload: unknown, id: unknown): { name: string; payload: Json; id?: string } {
  const issues: { path: string; message: string }[] = [];
  if (typeof name !== "string" || !EVENT_NAME_PATTERN.test(name)) {
    issues.push({ path: "name", message: `${JSON.stringify(name)} ${EVENT_NAME_RULE}` });
  }
  if (id !== undefined && (typeof id !== "string" || !EVENT_ID_PATTERN.test(id))) {
    issues.push({ path: "id", message: `${JSON.stringify(id)} ${EVENT_ID_RULE}` });
  }
  let json: Json = null;
  try {
    json = toJson(payload ?? null, "The payload");
    if (jsonSize(json) > MAX_EVENT_PAYLOAD_BYTES) issues.push({ path: "payload", message: `is over ${MAX_EVENT_PAYLOAD_BYTES} bytes` });
  } catch (error) {
    issues.push({ path: "payload", message: (error as Error).message });
  }
  if (issues.length) throw new ValidationError(`Invalid event: ${issues.map((i) => `${i.path} ${i.message}`).join("; ")}`, issues);
  return { name: name as string, payload: json, ...(id === undefined ? {} : { id: id as string }) };
}

/** Sends an event to every waiting execution whose match holds, and starts the runs its triggers ask for. */
export async function sendEvent(name: string, payload: unknown, options: SendEventOptions = {}): Promise<SendEventOutcome> {
  const checked = checkEvent(name, payload, options.id);
  let keys: string[];
  try {
    keys = payloadKeys(checked.payload);
  } catch (error) {
    throw new ValidationError(`Invalid event: payload has ${(error as Error).message}`, [{
      path: "payload",
      message: (error as Error).message,
    }]);
  }
  const store = requireStore(options.store);
  const clock = toClock(options.clock);
  const event: SentEvent = {
    name: checked.name,
    id: checked.id ?? crypto.randomUUID(),
    payload: checked.payload,
    sentAt: clock.now().toISOString(),
    ...(options.actor ? { actor: options.actor } : {}),
  };
  const lookbackMs = (options.lookbackSeconds ?? DEFAULT_EVENT_LOOKBACK_SECONDS) * 1000;
  const sent = await store.sendEvent(event, { keys, lookbackMs, dedupMs: Math.max(lookbackMs, EVENT_DEDUP_MS) });
  if (sent.duplicate) return { id: event.id, delivered: 0, duplicate: true, started: [], refused: [] };
  const deliveries: EventDelivery[] = [...sent.delivered];
  for (const candidate of sent.candidates) {
    if (!eventMatches(candidate.match as Condition | null, event.payload)) continue;
    const claimed = await store.claimEvent(candidate.executionId, candidate.waitId, event);
    if (claimed) deliveries.push(claimed);
  }
  const adapter = options.adapter ?? new InlineAdapter({ store, workflows: options.workflows, services: options.services, clock });
  // A delivery is stored before its job is enqueued: a job that cannot be enqueued is left to the sweeper.
  await Promise.allSettled(deliveries.map((d) =>
    adapter.enqueue(
      { workflowId: d.workflowId, executionId: d.executionId, action: "resume", revision: d.revision, response: receivedRecord(event) },
      { key: `event-${event.id}` },
    )
  ));
  const { started, refused } = await startTriggered(event, { ...options, store, adapter, clock });
  return { id: event.id, delivered: deliveries.length, duplicate: false, started, refused };
}

/** The runs the event's `event` triggers start: `<workflow id>:event:<event id>`, input = the payload. */
async function startTriggered(
  event: SentEvent,
  options: SendEventOptions & { store: Store; adapter: QueueAdapter },
): Promise<Pick<SendEventOutcome, "started" | "refused">> {
  const started: string[] = [];
  const refused: SendEventOutcome["refused"] = [];
  for (const workflow of workflowsOf(options.workflows)) {
    const trigger = workflow.triggers?.find((t) => "event" in t && t.event === event.name && eventMatches(t.match, event.payload));
    if (!trigger) continue;
    const runner = new AsyncRunner(workflow, { store: options.store, adapter: options.adapter, clock: options.clock });
    const input = event.payload !== null && typeof event.payload === "object" && !Array.isArray(event.payload)
      ? event.payload
      : { payload: event.payload };
    try {
      const executionId = `${workflow.id}:event:${event.id}`;
      started.push(await runner.run(input, { executionId, trigger: { event: event.name, eventId: event.id } }));
    } catch (error) {
      refused.push({ workflowId: workflow.id, error: errorText(error) });
    }
  }
  return { started, refused };
}

/** Every workflow a lookup can list (a function lookup lists none). */
export function workflowsOf(lookup: WorkflowLookup | undefined): WorkflowDefinition[] {
  if (!lookup || typeof lookup === "function") return [];
  if (lookup instanceof Map) return [...lookup.values()];
  if (Array.isArray(lookup)) return [...lookup];
  return Object.values(lookup as Record<string, WorkflowDefinition>);
}
