// Shared by tests/sse.*.test.ts and tests/stream.*.test.ts: SSE parsing (eventsource-parser, as a browser
// parses), an incremental reader of a response body, gates for services, and a tracker of live timers.
import { createParser, type EventSourceParser } from "eventsource-parser";
import { createOrderServices } from "../../examples/order-fulfillment/services.ts";
import type { Services } from "../../src/types.ts";

/** One dispatched SSE message, or a comment line (`: heartbeat`). */
export interface Frame {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** A parser that appends every message and comment, in stream order, to `frames`. */
function frameParser(frames: Frame[]): EventSourceParser {
  return createParser({
    onEvent: ({ id, event, data }) => frames.push({ ...(id !== undefined ? { id } : {}), ...(event !== undefined ? { event } : {}), data }),
    onComment: (comment) => frames.push({ comment }),
    onError: (error) => {
      throw error;
    },
  });
}

/** Whether SSE text stops at a frame boundary (a blank line), not inside a frame. */
function endsCleanly(text: string): boolean {
  return text === "" || /(\r\n|\r|\n)(\r\n|\r|\n)$/.test(text);
}

/** The frames of a whole SSE text, comments left out. */
export function messagesOf(text: string): Frame[] {
  if (!endsCleanly(text)) throw new Error(`SSE text ends inside a frame: ${JSON.stringify(text.slice(-200))}`);
  const frames: Frame[] = [];
  frameParser(frames).feed(text);
  return frames.filter((f) => f.comment === undefined);
}

export interface EventJson {
  type: string;
  data: Record<string, unknown> & { executionId: string };
  timestamp: string;
  seq: number;
}

export function jsonOf(frame: Frame): EventJson {
  return JSON.parse(frame.data!) as EventJson;
}

/** `<seq>:<type>[:<stepId>]` of each message: one string shows order and content at a glance. */
export function summary(frames: Frame[]): string[] {
  return frames.map((f) => {
    const event = jsonOf(f);
    return `${event.seq}:${event.type}${event.data.stepId ? `:${event.data.stepId}` : ""}`;
  });
}

/** Reads a response body as it arrives, a frame at a time. */
export class SseReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>;
  readonly #decoder = new TextDecoder();
  readonly #queue: Frame[] = [];
  readonly #parser = frameParser(this.#queue);
  #tail = "";
  done = false;
  /** Every frame read so far, comments included. */
  readonly seen: Frame[] = [];

  constructor(response: Response) {
    if (!response.body) throw new Error(`no body (status ${response.status})`);
    this.#reader = response.body.getReader();
  }

  /** The next frame (comments included), or null when the stream has ended. */
  async next(): Promise<Frame | null> {
    while (this.#queue.length === 0) {
      if (this.done) return null;
      const { done, value } = await this.#reader.read();
      const text = done ? this.#decoder.decode() : this.#decoder.decode(value, { stream: true });
      this.#parser.feed(text);
      this.#tail = (this.#tail + text).slice(-4);
      if (done) {
        this.done = true;
        if (!endsCleanly(this.#tail)) throw new Error(`stream ended inside a frame: ${JSON.stringify(this.#tail)}`);
      }
    }
    const frame = this.#queue.shift()!;
    this.seen.push(frame);
    return frame;
  }

  /** The next message, skipping comments; null at the end. */
  async message(): Promise<Frame | null> {
    for (let frame = await this.next(); frame; frame = await this.next()) if (frame.comment === undefined) return frame;
    return null;
  }

  /** `n` messages (fails if the stream ends first). */
  async take(n: number): Promise<Frame[]> {
    const out: Frame[] = [];
    while (out.length < n) {
      const frame = await this.message();
      if (!frame) throw new Error(`stream ended after ${out.length} of ${n} messages`);
      out.push(frame);
    }
    return out;
  }

  /** Messages up to and including the first that matches. */
  async until(match: (event: EventJson) => boolean): Promise<Frame[]> {
    const out: Frame[] = [];
    for (let frame = await this.message(); frame; frame = await this.message()) {
      out.push(frame);
      if (match(jsonOf(frame))) return out;
    }
    throw new Error(`stream ended before the awaited event (after ${out.length} messages)`);
  }

  /** Every remaining message, until the server ends the stream. */
  async rest(): Promise<Frame[]> {
    const out: Frame[] = [];
    for (let frame = await this.message(); frame; frame = await this.message()) out.push(frame);
    return out;
  }

  /** The client goes away. */
  cancel(): Promise<void> {
    this.done = true;
    return this.#reader.cancel();
  }
}

/** A promise with its resolve function outside. */
export function deferred<T = void>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/**
 * Holds a service call until `open()`: `entered` resolves when the call has started (the engine has
 * checkpointed everything before it).
 */
export function gate() {
  const entered = deferred();
  const opened = deferred();
  return {
    entered: entered.promise,
    open: () => opened.resolve(),
    /** Wraps a service method so that it waits for the gate. */
    hold<A extends unknown[], R>(method: (...args: A) => R) {
      return async (...args: A): Promise<Awaited<R>> => {
        entered.resolve();
        await opened.promise;
        return await method(...args);
      };
    },
  };
}

/** Polls `condition` until it holds (a condition, not a duration: the limit only turns a hang into a failure). */
export async function waitFor(condition: () => boolean | Promise<boolean>, what = "condition"): Promise<void> {
  for (let i = 0; i < 2000; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Counts the timers created while it is installed that are still pending (a fired setTimeout or a cleared
 * timer no longer counts). A test's own `waitFor` does not disturb the count when read from its condition:
 * its previous timer has fired by then.
 */
export function trackTimers() {
  const original = { setTimeout, clearTimeout, setInterval, clearInterval };
  const live = new Set<unknown>();
  globalThis.setTimeout = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const handle: unknown = original.setTimeout(() => {
      live.delete(handle);
      fn(...args);
    }, ms);
    live.add(handle);
    return handle;
  }) as typeof setTimeout;
  globalThis.setInterval = ((fn: (...args: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const handle: unknown = original.setInterval(fn, ms, ...args);
    live.add(handle);
    return handle;
  }) as typeof setInterval;
  globalThis.clearTimeout = ((handle: Parameters<typeof clearTimeout>[0]) => {
    live.delete(handle);
    original.clearTimeout(handle);
  }) as typeof clearTimeout;
  globalThis.clearInterval = ((handle: Parameters<typeof clearInterval>[0]) => {
    live.delete(handle);
    original.clearInterval(handle);
  }) as typeof clearInterval;
  return {
    get live() {
      return live.size;
    },
    restore() {
      Object.assign(globalThis, original);
    },
  };
}

/** The order example's services, with the shipping call held until `shipping.open()`: a run caught mid-way. */
export function gatedOrderServices(): { services: Services; shipping: ReturnType<typeof gate> } {
  const orders = createOrderServices();
  const shipping = gate();
  const services = {
    ...orders.services,
    ShippingService: { create_shipment: shipping.hold(orders.services.ShippingService.create_shipment) },
  } as unknown as Services;
  return { services, shipping };
}
