import { lookupWorkflow } from "../config.ts";
import type { WorkflowDefinition } from "../definition/workflow.ts";
import { resultOf } from "../engine/engine.ts";
import { type ExecutionResult, type ExecutionStatus, isTerminal, type JsonObject } from "../types.ts";
import { InlineAdapter } from "./adapters/inline.ts";
import type { QueueAdapter } from "./jobs.ts";
import { recover } from "./recovery.ts";
import { queueFlowControl } from "../engine/flow.ts";
import { Runner, type RunnerOptions } from "./runner.ts";
import type { HaltAnswer } from "./sync.ts";

export interface AsyncRunnerOptions extends RunnerOptions {
  /** Default: an InlineAdapter on the same store that knows this workflow. */
  adapter?: QueueAdapter;
}

/** Saves a `pending` execution and enqueues it; an adapter performs it later. */
export class AsyncRunner extends Runner<AsyncRunnerOptions> {
  readonly adapter: QueueAdapter;

  constructor(workflow: WorkflowDefinition, options: AsyncRunnerOptions = {}) {
    super(workflow, options);
    this.adapter = options.adapter ?? new InlineAdapter({
      ...options,
      store: this.store,
      workflows: (id) => (id === workflow.id ? workflow : lookupWorkflow(options.workflows, id)),
    });
  }

  /**
   * Checks the input, saves a `pending` execution on the workflow's current version, enqueues a start job and returns
   * the id. `traceparent`: the start request's W3C trace context, the parent of the execution's trace.
   */
  async run(
    input: unknown,
    options: {
      executionId?: string;
      queue?: string;
      priority?: number;
      trigger?: JsonObject;
      traceparent?: string;
      labels?: Record<string, string>;
    } = {},
  ): Promise<string> {
    const [workflow, exec] = await this.onCurrent(async (workflow, checkCurrent) =>
      [
        workflow,
        await this.engine(workflow).prepare(input, {
          executionId: options.executionId,
          priority: options.priority,
          labels: options.labels,
          ...(options.trigger ? { trigger: options.trigger } : {}),
          traceparent: options.traceparent,
          checkCurrent,
        }),
      ] as const
    );
    if (exec.status === "pending") {
      await this.adapter.enqueue({
        workflowId: workflow.id,
        workflowVersion: workflow.version,
        executionId: exec.id,
        action: "start",
        createdAt: exec.createdAt,
        ...(options.queue ? { queue: options.queue } : {}),
        ...(options.priority !== undefined ? { priority: options.priority } : {}),
        ...queueFlowControl(workflow, exec.input),
        ...(exec.trace ? { traceparent: exec.trace.traceparent } : {}),
      });
    }
    return exec.id;
  }

  /**
   * Checks the answer (ValidationError) and that the execution is halted (ConflictError otherwise, also when
   * another answer is already waiting; NotFoundError if unknown), stores it on the execution, then enqueues a
   * resume: an answer that would be refused is never queued, and one that is accepted is never lost. `traceparent`:
   * the resume request's trace context, which the segment applying the answer links to.
   */
  async resume(executionId: string, options: HaltAnswer & { queue?: string; traceparent?: string; actor?: string } = {}): Promise<string> {
    const exec = await this.engine().accept(executionId, { response: options.response, approved: options.approved, actor: options.actor });
    // The actor stays on the stored answer (the job carries the answer only).
    const { actor: _actor, ...answer } = exec.answer ?? {};
    await this.adapter.enqueue({
      workflowId: exec.workflowId,
      workflowVersion: exec.workflowVersion,
      executionId,
      action: "resume",
      revision: exec.revision,
      ...answer,
      ...(options.queue ? { queue: options.queue } : {}),
      ...(options.traceparent ? { traceparent: options.traceparent } : {}),
    });
    return executionId;
  }

  /** Cancels a pending, running or halted execution (see Engine.cancel); queued jobs then do nothing. */
  cancel(executionId: string, options: { reason?: string; actor?: string } = {}): Promise<ExecutionResult> {
    return this.engine().cancel(executionId, options);
  }

  /** Reopens a failed execution at the step that failed and enqueues it. */
  async retry(executionId: string, options: { actor?: string } = {}): Promise<string> {
    const exec = await this.engine().retry(executionId, options);
    await this.adapter.enqueue({ workflowId: exec.workflowId, executionId, action: "continue" }, { key: `retry-r${exec.revision}` });
    return executionId;
  }

  /** Hands a stuck execution (expired lease, lost job) back to the queue; ConflictError while its lease is live. */
  async recover(executionId: string, options: { actor?: string } = {}): Promise<string> {
    await recover(this.store, this.adapter, executionId, { clock: this.options.clock, leaseMs: this.options.leaseMs, ...options });
    return executionId;
  }

  /** Polls until the execution is completed, halted, failed or cancelled; null on timeout. */
  async wait(executionId: string, options: { timeoutMs?: number; intervalMs?: number } = {}): Promise<ExecutionResult | null> {
    const timeoutMs = options.timeoutMs ?? 30_000;
    const intervalMs = options.intervalMs ?? 100;
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const exec = await this.store.load(executionId);
      if (exec && (exec.status === "halted" || isTerminal(exec.status))) return resultOf(exec);
      if (Date.now() + intervalMs > deadline) return null;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }

  async status(executionId: string): Promise<ExecutionStatus | "unknown"> {
    return (await this.store.load(executionId))?.status ?? "unknown";
  }
}
