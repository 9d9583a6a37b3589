/**
 * Child workflows of `workflow` steps: run in the same store under the deterministic id `<parent>:<step>`,
 * resumed with the parent, read back when they already finished.
 */
import type { WorkflowDefinition } from "../definition/workflow.ts";
import { ExecutionError } from "../errors.ts";
import type { ChildOutcome, ChildRequest } from "../steps/step.ts";
import type { Store } from "../store/store.ts";
import type { ExecutionResult } from "../types.ts";

/** What a child run needs of an engine for the child workflow. */
export interface ChildEngine {
  run(input: unknown, options: { executionId: string; deadline: string | null; traceparent?: string }): Promise<ExecutionResult>;
  resume(id: string, answer: NonNullable<ChildRequest["resume"]>): Promise<ExecutionResult>;
  continue(id: string): Promise<ExecutionResult>;
}

export async function runChild(
  store: Store,
  request: ChildRequest,
  workflow: WorkflowDefinition | undefined,
  engineFor: (workflow: WorkflowDefinition) => ChildEngine,
  deadlines: { parent: string | null; now: number },
  resultOf: (exec: NonNullable<Awaited<ReturnType<Store["load"]>>>) => ExecutionResult,
): Promise<ChildOutcome> {
  if (!workflow) throw new ExecutionError(`Unknown workflow "${request.workflowId}" (child ${request.childId})`);
  const child = engineFor(workflow);
  const limits = [deadlines.parent ? Date.parse(deadlines.parent) : Infinity];
  if (request.timeoutSeconds) limits.push(deadlines.now + request.timeoutSeconds * 1000);
  if (workflow.timeout) limits.push(deadlines.now + workflow.timeout * 1000);
  const deadline = Math.min(...limits);
  const existing = await store.load(request.childId);
  let result: ExecutionResult;
  if (!existing) {
    result = await child.run(request.input, {
      executionId: request.childId,
      deadline: Number.isFinite(deadline) ? new Date(deadline).toISOString() : null,
      ...(request.traceparent ? { traceparent: request.traceparent } : {}),
    });
  } else if (existing.status === "halted" && request.resume) {
    result = await child.resume(request.childId, request.resume);
  } else if (existing.status === "pending") {
    result = await child.continue(request.childId);
  } else {
    result = resultOf(existing);
  }
  const name = `Child workflow "${request.workflowId}" (${request.childId})`;
  if (result.status === "failed" || result.status === "cancelled") throw new ExecutionError(`${name} ${result.status}: ${result.error}`);
  if (result.status === "halted") {
    if (!request.mayHalt) throw new ExecutionError(`${name} halted, but a step inside a loop body or a parallel branch cannot halt`);
    const { resumeStep: _child, ...halt } = result.halt ?? { data: {} };
    return { status: "halted", halt };
  }
  if (result.status !== "completed") throw new ExecutionError(`${name} is ${result.status}, still in progress elsewhere`);
  return { status: "completed", output: result.output ?? null };
}
