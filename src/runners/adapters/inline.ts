import type { WorkflowLookup } from "../../config.ts";
import { type Clock, toClock } from "../../engine/clock.ts";
import type { EngineOptions } from "../../engine/engine.ts";
import type { StepRegistry } from "../../steps/registry.ts";
import type { Store } from "../../store/store.ts";
import type { Services } from "../../types.ts";
import { type EnqueueOptions, followUpsOf, type Job, performJob, type PerformOptions, type QueueAdapter } from "../jobs.ts";
import { requireStore } from "../runner.ts";

export interface InlineAdapterOptions extends Omit<EngineOptions, "workflows" | "store"> {
  store?: Store;
  services?: Services;
  registry?: StepRegistry;
  /** Where jobs find their workflow (default: the global `register`). */
  workflows?: WorkflowLookup;
}

/**
 * Performs each job in the same process, awaited (for development and tests). Continuations run at once;
 * a delayed job (an approval's timeout, the end of a wait, a scheduled retry, a busy execution's lease) is kept
 * and run by `runDueTimers()` once the clock has reached it — nothing sleeps.
 */
export class InlineAdapter implements QueueAdapter {
  readonly #options: InlineAdapterOptions;
  readonly #clock: Clock;
  readonly #timers: { job: Job; at: number }[] = [];
  #performOptions: PerformOptions | undefined;

  constructor(options: InlineAdapterOptions = {}) {
    this.#options = options;
    this.#clock = toClock(options.clock);
  }

  get store(): Store {
    return requireStore(this.#options.store);
  }

  /** Jobs waiting for their time. */
  get pendingTimers(): readonly { job: Job; at: number }[] {
    return this.#timers;
  }

  async enqueue(job: Job, options: EnqueueOptions = {}): Promise<void> {
    if (options.delaySeconds && options.delaySeconds > 0) {
      this.#timers.push({ job, at: this.#now() + options.delaySeconds * 1000 });
      return;
    }
    const outcome = await performJob(job, this.#perform());
    for (const { job: next, options } of followUpsOf(job, outcome, this.#now())) {
      // A follow-up with a time waits for runDueTimers even when that time is now; a plain continuation runs now.
      await this.enqueue(next, options.delaySeconds === undefined ? {} : { delaySeconds: Math.max(0.001, options.delaySeconds) });
    }
  }

  /** The options of performJob: the same object while the store is (performJob keeps engines per options object). */
  #perform(): PerformOptions {
    const store = this.store;
    if (this.#performOptions?.store !== store) this.#performOptions = { ...this.#options, store };
    return this.#performOptions;
  }

  /** Runs the timer jobs that are due by the clock. */
  async runDueTimers(): Promise<number> {
    const now = this.#now();
    const due = this.#timers.filter((t) => t.at <= now);
    for (const timer of due) {
      this.#timers.splice(this.#timers.indexOf(timer), 1);
      await this.enqueue(timer.job);
    }
    return due.length;
  }

  #now(): number {
    return this.#clock.now().getTime();
  }
}
