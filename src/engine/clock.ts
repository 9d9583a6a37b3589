/**
 * Time, injected: the engine reads the time, sleeps between call attempts, bounds attempts and the workflow's
 * deadline, and measures its budget through one `Clock`. Tests pass a `ManualClock` and move time themselves.
 */
export interface Clock {
  now(): Date;
  /** The same time in ms since the epoch, when the clock can give it without making a Date (optional). */
  nowMs?(): number;
  /**
   * A reading that never goes back, for measuring how long something took (a lease's remaining time). Default:
   * `performance.now()`. Unlike `now()`, it is never moved by a wall-clock adjustment.
   */
  monotonicMs?(): number;
  /** Resolves after `ms` of this clock; rejects with the signal's reason when it is aborted first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Calls `fn` after `ms` of this clock; returns a function that cancels it. */
  setTimer(ms: number, fn: () => void): () => void;
}

/** setTimeout cannot wait longer than this (about 24.8 days); longer timers are chained. */
const MAX_TIMEOUT_MS = 2 ** 31 - 1;

function realTimer(ms: number, fn: () => void): () => void {
  let handle: ReturnType<typeof setTimeout>;
  let left = Math.max(0, ms);
  const arm = () => {
    const step = Math.min(left, MAX_TIMEOUT_MS);
    left -= step;
    handle = setTimeout(() => (left > 0 ? arm() : fn()), step);
  };
  arm();
  return () => clearTimeout(handle);
}

function sleepWith(setTimer: Clock["setTimer"], ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = () => {
      cancel();
      reject(signal!.reason);
    };
    const cancel = setTimer(ms, () => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The wall clock and real timers. */
export const systemClock: Clock = {
  now: () => new Date(),
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
  sleep: (ms, signal) => sleepWith(realTimer, ms, signal),
  setTimer: realTimer,
};

/**
 * A `Clock` from an option: a Clock as it is, or a function giving the time (older options) with real timers —
 * and `sleep`, when given, for the waits between call attempts.
 */
export function toClock(clock?: Clock | (() => Date), sleep?: Clock["sleep"]): Clock {
  const base: Clock = clock === undefined
    ? systemClock
    : typeof clock === "function"
    ? { now: clock, sleep: systemClock.sleep, setTimer: systemClock.setTimer, monotonicMs: systemClock.monotonicMs }
    : clock;
  if (!sleep) return base;
  return {
    now: () => base.now(),
    ...(base.nowMs ? { nowMs: () => base.nowMs!() } : {}),
    ...(base.monotonicMs ? { monotonicMs: () => base.monotonicMs!() } : {}),
    setTimer: (ms, fn) => base.setTimer(ms, fn),
    sleep,
  };
}

/**
 * A clock that moves only when told: `advance(ms)` fires the timers that fall due, in order, letting the work
 * they start run between them. With `autoAdvance`, `sleep(ms)` moves the clock itself (a retry wait of an hour
 * takes no real time).
 */
export class ManualClock implements Clock {
  #now: number;
  #timers: { at: number; seq: number; fn: () => void }[] = [];
  #seq = 0;
  readonly #autoAdvance: boolean;

  constructor(start: Date | string | number = "2026-01-01T00:00:00.000Z", options: { autoAdvance?: boolean } = {}) {
    this.#now = new Date(start).getTime();
    this.#autoAdvance = options.autoAdvance ?? false;
  }

  now(): Date {
    return new Date(this.#now);
  }

  nowMs(): number {
    return this.#now;
  }

  monotonicMs(): number {
    return this.#now;
  }

  setTimer(ms: number, fn: () => void): () => void {
    const timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn };
    this.#timers.push(timer);
    return () => {
      const i = this.#timers.indexOf(timer);
      if (i >= 0) this.#timers.splice(i, 1);
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    const slept = sleepWith((wait, fn) => this.setTimer(wait, fn), ms, signal);
    // After what is running now has registered its own timers, so they fire in time order.
    if (this.#autoAdvance) setTimeout(() => void this.advance(ms), 0);
    return slept;
  }

  /** Resolves once at least `count` timers are waiting (the code under test has reached its sleep or timeout). */
  async waitForTimers(count = 1): Promise<void> {
    for (let turns = 0; this.#timers.length < count; turns++) {
      if (turns > 10_000) throw new Error(`ManualClock: no ${count} timer(s) set after 10 000 turns`);
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  }

  /** Timers not fired yet. */
  get pending(): number {
    return this.#timers.length;
  }

  /**
   * Moves the clock by `ms` without firing any timer, as a process that was paused (SIGSTOP) and woken sees it:
   * the timers that fell due meanwhile fire at the next `advance` (even `advance(0)`).
   */
  jump(ms: number): void {
    this.#now += Math.max(0, ms);
  }

  /** Moves the clock by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.#now + Math.max(0, ms);
    for (;;) {
      const due = this.#timers.filter((t) => t.at <= target).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!due) break;
      this.#timers.splice(this.#timers.indexOf(due), 1);
      this.#now = Math.max(this.#now, due.at);
      due.fn();
      // Let what the timer started run up to its next await before the next timer fires.
      for (let i = 0; i < 10; i++) await Promise.resolve();
    }
    this.#now = Math.max(this.#now, target);
  }
}
