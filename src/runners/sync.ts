import type { ResumeAnswer } from "../definition/answer.ts";
import type { ExecutionResult, HaltInfo } from "../types.ts";
import { Runner } from "./runner.ts";

export type { RunnerOptions } from "./runner.ts";

/** What `onHalt` answers: a response for a halt, a decision for an approval. */
export type HaltAnswer = ResumeAnswer;

export type OnHalt = (halt: HaltInfo, result: ExecutionResult) => HaltAnswer | Promise<HaltAnswer>;

/** Runs a workflow to completion or to its next halt (or long wait), and returns the result. */
export class SyncRunner extends Runner {
  /**
   * Starts a run on the workflow's current version (see RunnerOptions.definitions). `traceparent`: the start
   * request's W3C trace context, the parent of the execution's trace.
   */
  async run(
    input: unknown,
    options: { executionId?: string; traceparent?: string; labels?: Record<string, string> } = {},
  ): Promise<ExecutionResult> {
    return await this.onCurrent((workflow, checkCurrent) => this.engine(workflow).run(input, { ...options, checkCurrent }));
  }

  resume(executionId: string, options: HaltAnswer & { actor?: string } = {}): Promise<ExecutionResult> {
    return this.engine().resume(executionId, options);
  }

  /** Runs on a pending execution: one whose wait is over, or one left by a yield or a crash. */
  continue(executionId: string): Promise<ExecutionResult> {
    return this.engine().continue(executionId);
  }

  cancel(executionId: string, options: { reason?: string; actor?: string } = {}): Promise<ExecutionResult> {
    return this.engine().cancel(executionId, options);
  }

  /** Runs a failed execution again from the step that failed, with the ctx it had before that step. */
  async retry(executionId: string, options: { actor?: string } = {}): Promise<ExecutionResult> {
    await this.engine().retry(executionId, options);
    return await this.engine().continue(executionId);
  }

  /**
   * Runs, and while the run halts, asks `onHalt` for an answer and resumes with it. Without `onHalt`
   * the halted result is returned.
   */
  async runUntilComplete(
    input: unknown,
    onHalt?: OnHalt,
    options: { executionId?: string; traceparent?: string } = {},
  ): Promise<ExecutionResult> {
    let result = await this.run(input, options);
    while (result.status === "halted" && onHalt) {
      const answer = (await onHalt(result.halt!, result)) ?? {};
      result = await this.resume(result.executionId, { response: answer.response, approved: answer.approved });
    }
    return result;
  }
}
