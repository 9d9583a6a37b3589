import type { WorkflowDefinition } from "../definition/workflow.ts";
import type { EngineOptions } from "../engine/engine.ts";
import type { WorkflowEvent } from "../engine/events.ts";
import { ConfigError } from "../errors.ts";
import { errorText, Log } from "../log.ts";
import { EVENT_TYPES, type EventType } from "../types.ts";
import type { RunnerOptions } from "./runner.ts";
import { SyncRunner } from "./sync.ts";

interface Subscriber {
  handler: (event: WorkflowEvent) => unknown;
  events?: ReadonlySet<string>;
  failed: boolean;
}

export interface StreamRunnerOptions extends RunnerOptions {
  /** Told once per subscriber about its first error (default: an "error" log line on the console). */
  onSubscriberError?: (error: unknown, event: WorkflowEvent) => void;
}

/** Runs a workflow and hands every event of the run and its steps to the subscribers, as they happen. */
export class StreamRunner extends SyncRunner {
  readonly #options: StreamRunnerOptions;
  readonly #subscribers: Subscriber[] = [];

  constructor(workflow: WorkflowDefinition, options: StreamRunnerOptions = {}) {
    super(workflow, options);
    this.#options = options;
  }

  /** Adds a handler, for all events or only the listed types. Chainable. */
  subscribe(handler: (event: WorkflowEvent) => unknown, options: { events?: readonly (EventType | string)[] } = {}): this {
    if (typeof handler !== "function") throw new ConfigError("subscribe needs a handler function");
    // A misspelt type would silently never match: refuse it here.
    const unknown = (options.events ?? []).filter((type) => !EVENT_TYPES.includes(type as EventType));
    if (unknown.length) {
      throw new ConfigError(`Unknown event type ${unknown.map((t) => JSON.stringify(t)).join(", ")}: use ${EVENT_TYPES.join(", ")}`);
    }
    this.#subscribers.push({ handler, events: options.events ? new Set(options.events) : undefined, failed: false });
    return this;
  }

  protected override engineOptions(): EngineOptions {
    const user = this.#options.onEvent;
    return {
      ...super.engineOptions(),
      onEvent: (event) => {
        this.#dispatch(event);
        user?.(event);
      },
    };
  }

  /** A throwing, rejecting or slow subscriber never breaks or stalls the run: nothing is awaited. */
  #dispatch(event: WorkflowEvent): void {
    for (const subscriber of this.#subscribers) {
      if (subscriber.events && !subscriber.events.has(event.type)) continue;
      const report = (error: unknown) => {
        if (subscriber.failed) return;
        subscriber.failed = true;
        try {
          (this.#options.onSubscriberError ?? reportToConsole)(error, event);
        } catch {
          // The reporter itself failed: nothing left to tell.
        }
      };
      try {
        const returned = subscriber.handler(event);
        if (returned && typeof (returned as Promise<unknown>).then === "function") (returned as Promise<unknown>).then(undefined, report);
      } catch (error) {
        report(error);
      }
    }
  }
}

function reportToConsole(error: unknown, event: WorkflowEvent): void {
  new Log().error("a stream subscriber failed", {
    executionId: String(event.data.executionId),
    event: event.type,
    error: errorText(error),
    stack: error instanceof Error ? error.stack : undefined,
  });
}
