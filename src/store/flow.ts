/**
 * Flow control in the store (issue 20): the admission decision of one start is one atomic store step. Per
 * workflow and key, the store keeps the slot holders (a set of execution ids, with the time each acquired its
 * slot), the waiters (ordered: lowest `order` first), and, per rate key, the starts of the current window.
 * `FlowBook` is the in-process implementation (MemoryStore); the Redis store runs the same rules in Lua.
 */
import { type ExecutionStatus, isTerminal } from "../types.ts";

export interface FlowAcquire {
  workflowId: string;
  executionId: string;
  /** The engine clock's time (ms). */
  now: number;
  /** Lower starts first among waiters: arrival time minus the priority's credit (see src/engine/flow.ts). Kept from the first ask. */
  order: number;
  concurrency?: { key: string; limit: number };
  /** `member` is what is counted (the execution id for a start, `<id>:<step>:<visit>` for a step's call). */
  rate?: { key: string; limit: number; periodMs: number; member: string };
  /** A halted holder that acquired longer ago than this is stale (its worker died between halting and releasing). */
  staleMs: number;
}

export type FlowAdmission =
  | { admitted: true }
  | { admitted: false; reason: "concurrency"; key: string; holders: number; limit: number; position: number }
  | { admitted: false; reason: "rate"; key: string; retryAt: number };

export interface FlowRelease {
  workflowId: string;
  executionId: string;
  now: number;
  concurrency: { key: string; limit: number };
  staleMs: number;
}

/** One key's usage, for `GET /workflows/:id/flow` and the dashboard. */
export interface FlowKeyState {
  kind: "concurrency" | "rate";
  key: string;
  limit: number;
  /** Rate keys: the window in seconds. */
  period?: number;
  /** Concurrency: the executions holding a slot; rate: the starts counted in the window. */
  holders: string[];
  /** Concurrency: executions waiting for a slot. */
  waiting: number;
}

/** What a store offers for flow control (both built-in stores do). */
export interface FlowStore {
  /** Admits the execution (it holds a slot and/or counted a start) or tells why not; a refused one waits in order. */
  flowAcquire(request: FlowAcquire): Promise<FlowAdmission>;
  /** Frees the execution's slot (and its place in the queue); returns the waiters that may start now, in order. */
  flowRelease(request: FlowRelease): Promise<string[]>;
  /**
   * Debounce: the execution that gathers the starts of a key. Sets it to `executionId` when it is `expected`
   * (undefined: when none is set) and returns `executionId`; otherwise returns the one that is set.
   */
  flowDebounce(request: { workflowId: string; key: string; executionId: string; expected?: string }): Promise<string>;
  /** Every key the workflow used, with holders and queue lengths. */
  flowState(workflowId: string, now: number): Promise<FlowKeyState[]>;
}

/** A holder that holds no slot any more: gone, ended, or halted (and not resuming) since long. */
function staleHolder(status: ExecutionStatus | undefined, acquiredAt: number, now: number, staleMs: number): boolean {
  return !status || isTerminal(status) || (status === "halted" && acquiredAt < now - staleMs);
}

/** A waiter that waits no more: gone or ended. */
function staleWaiter(status: ExecutionStatus | undefined): boolean {
  return !status || isTerminal(status);
}

interface Slots {
  limit: number;
  holders: Map<string, number>;
  waiters: Map<string, number>;
}

interface Window {
  limit: number;
  periodMs: number;
  starts: Map<string, number>;
}

/** The MemoryStore's flow bookkeeping; `statusOf` reads an execution's stored status. */
export class FlowBook implements FlowStore {
  readonly #slots = new Map<string, Map<string, Slots>>();
  readonly #windows = new Map<string, Map<string, Window>>();
  readonly #statusOf: (id: string) => ExecutionStatus | undefined;
  readonly #debounced = new Map<string, string>();

  constructor(statusOf: (id: string) => ExecutionStatus | undefined) {
    this.#statusOf = statusOf;
  }

  #slotsOf(workflowId: string, key: string, limit: number): Slots {
    let byKey = this.#slots.get(workflowId);
    if (!byKey) this.#slots.set(workflowId, byKey = new Map());
    let slots = byKey.get(key);
    if (!slots) byKey.set(key, slots = { limit, holders: new Map(), waiters: new Map() });
    slots.limit = limit;
    return slots;
  }

  #purge(slots: Slots, now: number, staleMs: number): void {
    for (const [id, at] of slots.holders) if (staleHolder(this.#statusOf(id), at, now, staleMs)) slots.holders.delete(id);
  }

  /** The first `free` live waiters, in order (dropping dead ones on the way). */
  #next(slots: Slots, free: number): string[] {
    const next: string[] = [];
    if (free <= 0) return next;
    for (const [id] of [...slots.waiters].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1))) {
      if (staleWaiter(this.#statusOf(id))) slots.waiters.delete(id);
      else if (next.push(id) >= free) break;
    }
    return next;
  }

  flowAcquire(request: FlowAcquire): Promise<FlowAdmission> {
    const { workflowId, executionId: id, now, concurrency, rate } = request;
    let slots: Slots | undefined;
    if (concurrency) {
      slots = this.#slotsOf(workflowId, concurrency.key, concurrency.limit);
      if (slots.holders.has(id)) {
        slots.holders.set(id, now);
        return Promise.resolve({ admitted: true });
      }
      this.#purge(slots, now, request.staleMs);
      if (!slots.waiters.has(id)) slots.waiters.set(id, request.order);
      if (!this.#next(slots, concurrency.limit - slots.holders.size).includes(id)) {
        const position = [...slots.waiters.values()].filter((order) => order < slots!.waiters.get(id)!).length + 1;
        return Promise.resolve({
          admitted: false,
          reason: "concurrency",
          key: concurrency.key,
          holders: slots.holders.size,
          limit: concurrency.limit,
          position,
        });
      }
    }
    if (rate) {
      let byKey = this.#windows.get(workflowId);
      if (!byKey) this.#windows.set(workflowId, byKey = new Map());
      let window = byKey.get(rate.key);
      if (!window) byKey.set(rate.key, window = { limit: rate.limit, periodMs: rate.periodMs, starts: new Map() });
      Object.assign(window, { limit: rate.limit, periodMs: rate.periodMs });
      for (const [member, at] of window.starts) if (at <= now - rate.periodMs) window.starts.delete(member);
      if (!window.starts.has(rate.member)) {
        if (window.starts.size >= rate.limit) {
          const first = Math.min(...window.starts.values());
          return Promise.resolve({ admitted: false, reason: "rate", key: rate.key, retryAt: first + rate.periodMs });
        }
        window.starts.set(rate.member, now);
      }
    }
    if (slots) {
      slots.holders.set(id, now);
      slots.waiters.delete(id);
    }
    return Promise.resolve({ admitted: true });
  }

  flowRelease(request: FlowRelease): Promise<string[]> {
    const slots = this.#slotsOf(request.workflowId, request.concurrency.key, request.concurrency.limit);
    slots.holders.delete(request.executionId);
    slots.waiters.delete(request.executionId);
    this.#purge(slots, request.now, request.staleMs);
    return Promise.resolve(this.#next(slots, slots.limit - slots.holders.size));
  }

  flowDebounce(request: { workflowId: string; key: string; executionId: string; expected?: string }): Promise<string> {
    const slot = JSON.stringify([request.workflowId, request.key]);
    const current = this.#debounced.get(slot);
    if (current !== request.expected) return Promise.resolve(current!);
    this.#debounced.set(slot, request.executionId);
    return Promise.resolve(request.executionId);
  }

  flowState(workflowId: string, now: number): Promise<FlowKeyState[]> {
    const states: FlowKeyState[] = [];
    for (const [key, slots] of this.#slots.get(workflowId) ?? []) {
      states.push({ kind: "concurrency", key, limit: slots.limit, holders: [...slots.holders.keys()].sort(), waiting: slots.waiters.size });
    }
    for (const [key, window] of this.#windows.get(workflowId) ?? []) {
      const holders = [...window.starts].filter(([, at]) => at > now - window.periodMs).map(([member]) => member).sort();
      states.push({ kind: "rate", key, limit: window.limit, period: window.periodMs / 1000, holders, waiting: 0 });
    }
    return Promise.resolve(states);
  }
}
