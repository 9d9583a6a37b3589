import type { AsyncRunner } from "../src/runners/async.ts";
import type { ExecutionResult } from "../src/types.ts";
import { type AppContext, appNow } from "./context.ts";

/**
 * A sync call that ended `pending` until `notBefore` (a long `wait`, a far call retry) leaves a delayed
 * `continue` job on the app's queue, so the run goes on then without waiting for the sweeper; one that halted with a wake
 * time (an approval's `timeout`) leaves its `wake` job for then, as an async run's delivery does; the waiters whose
 * flow-control slot the call released get their `continue` jobs.
 */
export async function continueWhenDue(app: AppContext, workflowId: string, result: ExecutionResult): Promise<void> {
  const now = appNow(app).getTime();
  const delaySeconds = (at: number) => Math.max(0, (at - now) / 1000);
  const base = { workflowId, executionId: result.executionId };
  // Flow control: the waiters the sync run's released slot lets start.
  for (const id of result.flowStart ?? []) {
    await app.adapter.enqueue({ workflowId, executionId: id, action: "continue" }, { key: `flow-${result.executionId}-${now}` });
  }
  if (result.status === "pending" && result.notBefore) {
    const at = Date.parse(result.notBefore);
    await app.adapter.enqueue({ ...base, action: "continue" }, { delaySeconds: delaySeconds(at), key: `at-${at}` });
  }
  const wakeAt = result.status === "halted" ? result.halt?.wakeAt : undefined;
  if (wakeAt) {
    const at = Date.parse(wakeAt);
    await app.adapter.enqueue({ ...base, action: "wake", wakeAt }, { delaySeconds: delaySeconds(at), key: String(at) });
  }
}

/** The status a 202 answer reports: the execution's now, `pending` while the queue has not saved it yet. */
export async function statusOf(runner: AsyncRunner, id: string) {
  const status = await runner.status(id);
  return status === "unknown" ? "pending" : status;
}
