import type { ExecutionResult } from "../src/types.ts";
import type { AppContext } from "./context.ts";

/**
 * A sync call that ended `pending` until `notBefore` (a long `wait`, a far call retry) leaves a delayed
 * `continue` job on the app's queue, so the run goes on then without waiting for the sweeper; one that halted with a wake
 * time (an approval's `timeout`) leaves its `wake` job for then, as an async run's delivery does.
 */
export async function continueWhenDue(app: AppContext, workflowId: string, result: ExecutionResult): Promise<void> {
  const now = (app.options.clock?.() ?? new Date()).getTime();
  const delaySeconds = (at: number) => Math.max(0, (at - now) / 1000);
  const base = { workflowId, executionId: result.executionId };
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
