import type { StepRegistry } from "../../steps/registry.ts";
import type { Store } from "../../store/store.ts";
import type { Services } from "../../types.ts";
import type { WorkflowLookup } from "../../config.ts";
import type { EngineOptions } from "../../engine/engine.ts";
import { requireStore } from "../sync.ts";
import { performJob, type EnqueueOptions, type Job, type QueueAdapter } from "../jobs.ts";

export interface InlineAdapterOptions extends Omit<EngineOptions, "workflows" | "store"> {
  store?: Store;
  services?: Services;
  registry?: StepRegistry;
  /** Where jobs find their workflow (default: the global `register`). */
  workflows?: WorkflowLookup;
}

/**
 * Performs each job in the same process, awaited (for development and tests). Continuations run at once;
 * a delayed job (an approval's timeout timer) is kept and run by `runDueTimers()` — nothing sleeps.
 */
export class InlineAdapter implements QueueAdapter {
  readonly #options: InlineAdapterOptions;
  readonly #timers: { job: Job; at: number }[] = [];

  constructor(options: InlineAdapterOptions = {}) {
    this.#options = options;
  }

  get store(): Store {
    return requireStore(this.#options.store);
  }

  /** Jobs waiting for their time (approval timeouts). */
  get pendingTimers(): readonly { job: Job; at: number }[] {
    return this.#timers;
  }

  async enqueue(job: Job, options: EnqueueOptions = {}): Promise<void> {
    if (options.delaySeconds && options.delaySeconds > 0) {
      this.#timers.push({ job, at: this.#now() + options.delaySeconds * 1000 });
      return;
    }
    const outcome = await performJob(job, { ...this.#options, store: this.store });
    if (outcome.continueLater) await this.enqueue({ ...job, action: "continue" });
    if (outcome.timer) {
      const delaySeconds = Math.max(0, (Date.parse(outcome.timer.at) - this.#now()) / 1000);
      await this.enqueue({ workflowId: job.workflowId, executionId: job.executionId, action: "wake", haltedAt: outcome.timer.haltedAt }, { delaySeconds: delaySeconds || 0.001 });
    }
  }

  /** Runs the timer jobs that are due by the injected clock. */
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
    return (this.#options.clock?.() ?? new Date()).getTime();
  }
}
