/**
 * Flow control on the engine's side (issue 20): which limits a run is under (the definition's keys resolved
 * against its input), the order it waits in, and the text that says why it waits. The decisions themselves are
 * the store's (src/store/flow.ts), atomic across instances.
 */
import type { WorkflowDefinition } from "../definition/workflow.ts";
import { ConfigError } from "../errors.ts";
import { resolveValue } from "../expressions/references.ts";
import type { FlowAcquire, FlowAdmission, FlowStore } from "../store/flow.ts";
import type { Store } from "../store/store.ts";
import type { Execution, JobFlowControl, Json, JsonObject } from "../types.ts";

/** A waiting run's effective priority grows by one per this many ms waited, so no run starves. */
export const PRIORITY_AGING_MS = 60_000;
/** A run that already ran (resumed, woken) waits ahead of every new start: its order gets this much credit. */
const RESUME_CREDIT_MS = 1e13;
/** The key of a limit declared without `key`: one limit for the whole workflow. */
const WHOLE_WORKFLOW_KEY = "*";

/** True when starts of this workflow are admitted by the store (it declares `concurrency` or `rate`). */
export function isGated(workflow: WorkflowDefinition): boolean {
  return workflow.concurrency !== undefined || workflow.rate !== undefined;
}

/** A flow key's value for this input: the reference resolved (text as is, anything else as JSON), or `*` without a key. */
export function flowKey(reference: string | undefined, input: JsonObject): string {
  if (!reference) return WHOLE_WORKFLOW_KEY;
  const value: Json = resolveValue(reference, { input, ctx: {}, now: () => new Date(0) }) as Json;
  return (typeof value === "string" ? value : JSON.stringify(value)).slice(0, 200);
}

/** The run's priority: the runner's option (kept on the execution), else the definition's (a number or an input reference), else 0. */
function priorityOf(workflow: WorkflowDefinition, exec: Execution): number {
  if (typeof exec.flow?.priority === "number") return exec.flow.priority;
  const declared = workflow.priority;
  if (typeof declared === "number") return declared;
  if (typeof declared === "string") {
    const value = resolveValue(declared, { input: exec.input, ctx: {}, now: () => new Date(0) });
    const n = typeof value === "number" ? value : Number(value);
    if (Number.isFinite(n)) return n;
  }
  return 0;
}

/**
 * What to ask the store when the execution is about to run. Its order among waiters: arrival time minus
 * `priority × PRIORITY_AGING_MS` (the same as "effective priority = priority + minutes waited", highest first),
 * minus a large credit for a run that already ran, so resumed runs go ahead of new starts. The start is counted
 * against `rate` only the first time.
 */
export function acquireRequest(workflow: WorkflowDefinition, exec: Execution, now: number, staleMs: number): FlowAcquire {
  const { concurrency, rate } = workflow;
  const resumed = exec.stepsExecuted > 0 || exec.flow?.admitted === true;
  return {
    workflowId: exec.workflowId,
    executionId: exec.id,
    now,
    order: Date.parse(exec.createdAt) - priorityOf(workflow, exec) * PRIORITY_AGING_MS - (resumed ? RESUME_CREDIT_MS : 0),
    staleMs,
    ...(concurrency ? { concurrency: { key: flowKey(concurrency.key, exec.input), limit: concurrency.limit } } : {}),
    ...(rate && !exec.flow?.admitted
      ? { rate: { key: flowKey(rate.key, exec.input), limit: rate.limit, periodMs: rate.period * 1000, member: exec.id } }
      : {}),
  };
}

/** Why a run waits, for people. */
export function waitingText(admission: Exclude<FlowAdmission, { admitted: true }>): string {
  if (admission.reason === "rate") return `rate limited until ${new Date(admission.retryAt).toISOString()} (key ${admission.key})`;
  return `waiting for a concurrency slot of key ${admission.key} (${admission.holders}/${admission.limit}), position ${admission.position}`;
}

/** The store's flow-control side; a ConfigError when the store has none (never an unlimited run instead). */
export function flowStoreOf(store: Store): FlowStore {
  const flow = store as Partial<FlowStore>;
  if (typeof flow.flowAcquire !== "function" || typeof flow.flowRelease !== "function" || typeof flow.flowState !== "function") {
    throw new ConfigError(
      "This store has no flow control (flowAcquire/flowRelease/flowState): a workflow with concurrency or rate needs it",
    );
  }
  return store as Store & FlowStore;
}

/**
 * The queue-side flow control of a start job (QStash `flowControl`): the concurrency limit as `parallelism` and the
 * rate as `rate` per `period` — the rate only when it shares the concurrency's key (a message has one key). Key:
 * `<workflow id>.<key value>`, escaped to letters, digits, `-` and `_`.
 */
export function queueFlowControl(workflow: WorkflowDefinition, input: JsonObject): { flowControl?: JobFlowControl } {
  const { concurrency, rate } = workflow;
  if (!concurrency && !rate) return {};
  const keyRef = concurrency ? concurrency.key : rate!.key;
  const withRate = rate && (!concurrency || rate.key === concurrency.key);
  const key = `${workflow.id}.${flowKey(keyRef, input)}`.replace(/[^A-Za-z0-9_.-]/g, (c) => `_${c.charCodeAt(0).toString(16)}`);
  return {
    flowControl: {
      key: key.slice(0, 200),
      ...(concurrency ? { parallelism: concurrency.limit } : {}),
      ...(withRate ? { rate: rate.limit, period: rate.period } : {}),
    },
  };
}
