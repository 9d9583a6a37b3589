import type { ExecutionResult } from "../src/types.ts";
import type { AppContext } from "./context.ts";

/**
 * A sync call that ended `pending` until `notBefore` (a long `wait`, a far call retry) leaves a delayed
 * `continue` job on the app's queue, so the run goes on then without waiting for the sweeper.
 */
export async function continueWhenDue(app: AppContext, workflowId: string, result: ExecutionResult): Promise<void> {
  const now = (app.options.clock?.() ?? new Date()).getTime();
  // Flow control: the waiters the sync run's released slot lets start.
  for (const id of result.flowStart ?? []) {
    await app.adapter.enqueue({ workflowId, executionId: id, action: "continue" }, { key: `flow-${result.executionId}-${now}` });
  }
  if (result.status !== "pending" || !result.notBefore) return;
  const at = Date.parse(result.notBefore);
  await app.adapter.enqueue(
    { workflowId, executionId: result.executionId, action: "continue" },
    { delaySeconds: Math.max(0, (at - now) / 1000), key: `at-${at}` },
  );
}
