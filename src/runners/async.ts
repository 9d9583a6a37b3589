import { lookupWorkflow } from "../config.ts";
import type { WorkflowDefinition } from "../definition/workflow.ts";
import { Engine, resultOf } from "../engine/engine.ts";
import { ConflictError, NotFoundError } from "../errors.ts";
import type { Store } from "../store/store.ts";
import type { ExecutionResult, ExecutionStatus } from "../types.ts";
import { InlineAdapter } from "./adapters/inline.ts";
import type { QueueAdapter } from "./jobs.ts";
import { requireStore, type HaltAnswer, type RunnerOptions } from "./sync.ts";

export interface AsyncRunnerOptions extends RunnerOptions {
  /** Default: an InlineAdapter on the same store that knows this workflow. */
  adapter?: QueueAdapter;
}

/** Saves a `pending` execution and enqueues it; an adapter performs it later. */
export class AsyncRunner {
  readonly workflow: WorkflowDefinition;
  readonly store: Store;
  readonly adapter: QueueAdapter;
  readonly #options: AsyncRunnerOptions;

  constructor(workflow: WorkflowDefinition, options: AsyncRunnerOptions = {}) {
    this.workflow = workflow;
    this.store = requireStore(options.store);
    this.#options = options;
    this.adapter = options.adapter ?? new InlineAdapter({
      ...options,
      store: this.store,
      workflows: (id) => (id === workflow.id ? workflow : lookupWorkflow(options.workflows, id)),
    });
  }

  /** Checks the input, saves a `pending` execution, enqueues a start job and returns the id. */
  async run(input: unknown, options: { executionId?: string; queue?: string; priority?: number } = {}): Promise<string> {
    const engine = new Engine(this.workflow, { ...this.#options, store: this.store });
    const exec = await engine.prepare(input, { executionId: options.executionId });
    if (exec.status === "pending") {
      await this.adapter.enqueue({
        workflowId: this.workflow.id,
        workflowVersion: this.workflow.version,
        executionId: exec.id,
        action: "start",
        createdAt: exec.createdAt,
        ...(options.queue ? { queue: options.queue } : {}),
        ...(options.priority !== undefined ? { priority: options.priority } : {}),
      });
    }
    return exec.id;
  }

  /** Checks that the execution is halted (ConflictError otherwise, NotFoundError if unknown) and enqueues a resume. */
  async resume(executionId: string, options: HaltAnswer & { queue?: string } = {}): Promise<string> {
    const exec = await this.store.load(executionId);
    if (!exec) throw new NotFoundError(`Execution "${executionId}" not found`);
    if (exec.status !== "halted") {
      throw new ConflictError(`Execution "${executionId}" is ${exec.status}: only a halted execution can be resumed`);
    }
    await this.adapter.enqueue({
      workflowId: exec.workflowId,
      workflowVersion: exec.workflowVersion,
      executionId,
      action: "resume",
      revision: exec.revision,
      ...(options.response !== undefined ? { response: options.response } : {}),
      ...(options.approved !== undefined ? { approved: options.approved } : {}),
      ...(options.queue ? { queue: options.queue } : {}),
    });
    return executionId;
  }

  /** Polls until the execution is completed, halted or failed; null on timeout. */
  async wait(executionId: string, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<ExecutionResult | null> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const intervalMs = options.intervalMs ?? 100;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const exec = await this.store.load(executionId);
      if (exec && (exec.status === "completed" || exec.status === "halted" || exec.status === "failed")) return resultOf(exec);
      if (Date.now() + intervalMs > deadline) return null;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  async status(executionId: string): Promise<ExecutionStatus | "unknown"> {
    return (await this.store.load(executionId))?.status ?? "unknown";
  }
}
