/**
 * The events part of MemoryStore: sent events kept for their lookback, waiters indexed by `<name>|<key>`, the
 * events each execution received, and deliveries not applied yet. Same semantics as the Redis scripts.
 */
import { type SentEvent, UNINDEXED } from "../expressions/events.ts";
import type { ExecutionHead, JsonObject } from "../types.ts";
import type { EventDelivery, EventWait, SendEventOptions, SendEventResult } from "./store.ts";

interface Waiter {
  wait: EventWait;
  workflowId: string;
  revision: number;
}

interface Buffered {
  event: SentEvent;
  keys: Set<string>;
  expires: number;
}

/** What the events need of the store's rows: an execution's head, and a way to mark it due for the sweep. */
export interface EventHost {
  head(id: string): ExecutionHead | undefined;
  due(id: string, at: number): void;
}

export class MemoryEvents {
  /** Event id → when its id is forgotten. */
  readonly #seen = new Map<string, number>();
  /** Event name → the events sent within their lookback, oldest first. */
  readonly #buffer = new Map<string, Buffered[]>();
  readonly #waiters = new Map<string, Waiter>();
  /** `<name>|<key>` → waiting execution ids. */
  readonly #index = new Map<string, Set<string>>();
  /** Execution id → ids of the events it received. */
  readonly #received = new Map<string, Set<string>>();
  /** Execution id → an event handed to its wait and not applied yet. */
  readonly #deliveries = new Map<string, { waitId: string; event: SentEvent }>();
  readonly #cursors = new Map<string, number>();
  readonly #host: EventHost;

  constructor(host: EventHost) {
    this.#host = host;
  }

  /** The halt of `id` at `revision` waits: an event for it (pending delivery, or buffered and indexed), else registered. */
  wait(id: string, workflowId: string, revision: number, wait: EventWait, now: number): { event?: SentEvent; candidates?: SentEvent[] } {
    const pending = this.#deliveries.get(id);
    this.#deliveries.delete(id);
    if (pending && pending.waitId === wait.waitId) return { event: structuredClone(pending.event) };
    this.forget(id);
    const received = this.#received.get(id);
    const live = wait.events.flatMap((name) => this.#live(name, now)).filter((b) => !received?.has(b.event.id));
    live.sort((a, b) => a.expires - b.expires);
    if (wait.key !== UNINDEXED) {
      const found = live.find((b) => b.keys.has(wait.key));
      if (found) {
        this.#deliver(id, { wait, workflowId, revision }, found.event, now);
        return { event: structuredClone(found.event) };
      }
    }
    this.#waiters.set(id, { wait: structuredClone(wait), workflowId, revision });
    for (const name of wait.events) this.#indexed(`${name}|${wait.key}`).add(id);
    return wait.key === UNINDEXED ? { candidates: live.map((b) => structuredClone(b.event)) } : {};
  }

  send(event: SentEvent, options: SendEventOptions): SendEventResult {
    const now = Date.parse(event.sentAt);
    const result: SendEventResult = { duplicate: false, delivered: [], candidates: [] };
    if ((this.#seen.get(event.id) ?? -Infinity) > now) return { ...result, duplicate: true };
    this.#seen.set(event.id, now + options.dedupMs);
    const kept = structuredClone(event);
    const list = this.#live(event.name, now);
    list.push({ event: kept, keys: new Set(options.keys), expires: now + options.lookbackMs });
    this.#buffer.set(event.name, list);
    for (const key of [...options.keys, UNINDEXED]) {
      for (const id of [...this.#index.get(`${event.name}|${key}`) ?? []]) {
        const waiter = this.#current(id, `${event.name}|${key}`);
        if (!waiter || this.#received.get(id)?.has(event.id)) continue;
        if (key === UNINDEXED) {
          result.candidates.push({
            ...this.#delivery(id, waiter),
            waitId: waiter.wait.waitId,
            match: waiter.wait.match as JsonObject | null,
          });
        } else {
          result.delivered.push(this.#deliver(id, waiter, kept, now));
        }
      }
    }
    return result;
  }

  claim(id: string, waitId: string, event: SentEvent, now: number): EventDelivery | null {
    const waiter = this.#waiters.get(id);
    if (!waiter || waiter.wait.waitId !== waitId || this.#received.get(id)?.has(event.id)) return null;
    if (!this.#current(id)) return null;
    return this.#deliver(id, waiter, structuredClone(event), now);
  }

  advanceCursor(name: string, at: number): { moved: boolean; previous: number | null } {
    const previous = this.#cursors.get(name) ?? null;
    if (previous !== null && previous >= at) return { moved: false, previous };
    this.#cursors.set(name, at);
    return { moved: true, previous };
  }

  /** Removes the execution's registration (its wait ended, or it was deleted). */
  forget(id: string): void {
    const waiter = this.#waiters.get(id);
    if (!waiter) return;
    this.#waiters.delete(id);
    for (const name of waiter.wait.events) this.#index.get(`${name}|${waiter.wait.key}`)?.delete(id);
  }

  /** The waiter of `id` if its execution still halts at the registered revision (else it is dropped). */
  #current(id: string, indexKey?: string): Waiter | undefined {
    const waiter = this.#waiters.get(id);
    const head = this.#host.head(id);
    if (waiter && head && head.status === "halted" && head.revision === waiter.revision) return waiter;
    if (waiter) this.forget(id);
    else if (indexKey) this.#index.get(indexKey)?.delete(id);
    return undefined;
  }

  #deliver(id: string, waiter: Waiter, event: SentEvent, now: number): EventDelivery {
    this.forget(id);
    this.#receive(id, event.id);
    this.#deliveries.set(id, { waitId: waiter.wait.waitId, event });
    this.#host.due(id, now);
    return this.#delivery(id, waiter);
  }

  #delivery(id: string, waiter: Waiter): EventDelivery {
    return { executionId: id, workflowId: waiter.workflowId, revision: waiter.revision };
  }

  #receive(id: string, eventId: string): void {
    let received = this.#received.get(id);
    if (!received) this.#received.set(id, received = new Set());
    received.add(eventId);
  }

  #live(name: string, now: number): Buffered[] {
    const list = (this.#buffer.get(name) ?? []).filter((b) => b.expires >= now);
    this.#buffer.set(name, list);
    return list;
  }

  #indexed(key: string): Set<string> {
    let set = this.#index.get(key);
    if (!set) this.#index.set(key, set = new Set());
    return set;
  }
}
