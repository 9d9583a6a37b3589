import { currentConfig } from "../config.ts";
import type { WorkflowDefinition } from "../definition/workflow.ts";
import { toClock } from "../engine/clock.ts";
import { Catalog } from "../engine/definitions.ts";
import { Engine, type EngineOptions } from "../engine/engine.ts";
import { ConfigError } from "../errors.ts";
import { CurrentVersionChangedError, type Store } from "../store/store.ts";
import { Engines } from "./engines.ts";

export type RunnerOptions = Omit<EngineOptions, "store"> & {
  store?: Store;
  /**
   * Which definition new runs use. Default: a Catalog of the store with `workflow` as the code's definition, so a
   * version made current by `PUT /workflows/:id` (by any app sharing the store) is used, and a changed `workflow`
   * becomes current at its first run. `"as-given"`: `workflow` itself (the HTTP routes, which have just resolved it).
   */
  definitions?: Catalog | "as-given";
};

/** The store given, or the configured one; never a silent fallback to memory. */
export function requireStore(store: Store | undefined): Store {
  const resolved = store ?? currentConfig().store;
  if (!resolved) throw new ConfigError("No store configured: pass { store } or call configure({ store })");
  return resolved;
}

/** What every runner shares: its workflow, a required store, and engines made with its options. */
export abstract class Runner<O extends RunnerOptions = RunnerOptions> {
  readonly workflow: WorkflowDefinition;
  readonly store: Store;
  protected readonly options: O;
  readonly #definitions: Catalog | "as-given";
  #engines: Engines | undefined;

  constructor(workflow: WorkflowDefinition, options: O = {} as O) {
    this.workflow = workflow;
    this.store = requireStore(options.store);
    this.options = options;
    const clock = toClock(options.clock ?? currentConfig().clock);
    this.#definitions = options.definitions ??
      new Catalog(this.store, [workflow], { clock, registry: options.registry });
  }

  /** The definition new runs use (see `definitions`): one store request, unless it is `"as-given"`. */
  protected async current(): Promise<WorkflowDefinition> {
    if (this.#definitions === "as-given") return this.workflow;
    return (await this.#definitions.current(this.workflow.id)) ?? this.workflow;
  }

  /**
   * `start(workflow, checkCurrent)` on the definition new runs use, without a store request of its own once this runner
   * has resolved it: `start` saves the run with `checkCurrent` (the version is checked in the save's request), and only
   * when another version has become current meanwhile is it resolved again and `start` called on that one.
   */
  protected async onCurrent<T>(start: (workflow: WorkflowDefinition, checkCurrent: boolean) => Promise<T>): Promise<T> {
    const last = this.#definitions === "as-given" ? undefined : this.#definitions.lastCurrent(this.workflow.id);
    if (last) {
      try {
        return await start(last, true);
      } catch (error) {
        if (!(error instanceof CurrentVersionChangedError)) throw error;
      }
    }
    return await start(await this.current(), false);
  }

  /**
   * The engine with this runner's options, on `workflow` (default: the runner's; resumes run on the pinned one anyway):
   * one per definition, shared by the runner's calls (a runner reads nothing an engine keeps between calls).
   */
  protected engine(workflow: WorkflowDefinition = this.workflow): Engine {
    this.#engines ??= new Engines((definition) => new Engine(definition, this.engineOptions()));
    return this.#engines.shared(workflow);
  }

  /** The options of this runner's engines. */
  protected engineOptions(): EngineOptions {
    return { ...this.options, store: this.store };
  }
}
