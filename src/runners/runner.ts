import { currentConfig } from "../config.ts";
import type { WorkflowDefinition } from "../definition/workflow.ts";
import { Engine, type EngineOptions } from "../engine/engine.ts";
import { ConfigError } from "../errors.ts";
import type { Store } from "../store/store.ts";

export type RunnerOptions = Omit<EngineOptions, "store"> & { store?: Store };

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

  constructor(workflow: WorkflowDefinition, options: O = {} as O) {
    this.workflow = workflow;
    this.store = requireStore(options.store);
    this.options = options;
  }

  protected engine(extra: Partial<EngineOptions> = {}): Engine {
    return new Engine(this.workflow, { ...this.options, ...extra, store: this.store });
  }
}
