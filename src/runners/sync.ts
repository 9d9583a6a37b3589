import { currentConfig } from "../config.ts";
import type { WorkflowDefinition } from "../definition/workflow.ts";
import { Engine, type EngineOptions } from "../engine/engine.ts";
import { ConfigError } from "../errors.ts";
import type { Store } from "../store/store.ts";
import type { ExecutionResult, HaltInfo, Json } from "../types.ts";

export type RunnerOptions = Omit<EngineOptions, "store"> & { store?: Store };

/** What `onHalt` answers: a response for a halt, a decision for an approval. */
export interface HaltAnswer {
  response?: Json;
  approved?: boolean;
}

export type OnHalt = (halt: HaltInfo, result: ExecutionResult) => HaltAnswer | Promise<HaltAnswer>;

/** The store given, or the configured one; never a silent fallback to memory. */
export function requireStore(store: Store | undefined): Store {
  const resolved = store ?? currentConfig().store;
  if (!resolved) throw new ConfigError("No store configured: pass { store } or call configure({ store })");
  return resolved;
}

/** Runs a workflow to completion or to its next halt, and returns the result. */
export class SyncRunner {
  readonly workflow: WorkflowDefinition;
  readonly store: Store;
  readonly #options: RunnerOptions;

  constructor(workflow: WorkflowDefinition, options: RunnerOptions = {}) {
    this.workflow = workflow;
    this.store = requireStore(options.store);
    this.#options = options;
  }

  #engine(): Engine {
    return new Engine(this.workflow, { ...this.#options, store: this.store });
  }

  run(input: unknown, options: { executionId?: string } = {}): Promise<ExecutionResult> {
    return this.#engine().run(input, options);
  }

  resume(executionId: string, options: HaltAnswer = {}): Promise<ExecutionResult> {
    return this.#engine().resume(executionId, options);
  }

  /**
   * Runs, and while the run halts, asks `onHalt` for an answer and resumes with it. Without `onHalt`
   * the halted result is returned.
   */
  async runUntilComplete(input: unknown, onHalt?: OnHalt, options: { executionId?: string } = {}): Promise<ExecutionResult> {
    let result = await this.run(input, options);
    while (result.status === "halted" && onHalt) {
      const answer = (await onHalt(result.halt!, result)) ?? {};
      result = await this.resume(result.executionId, { response: answer.response, approved: answer.approved });
    }
    return result;
  }
}
