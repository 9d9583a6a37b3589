/**
 * The cost of one job with an engine made per job (BASE, when set: bench/base.sh) or kept between jobs
 * (this checkout): `performJob` of `continue` jobs with `budgetMs: 0` (each job runs one step and yields) on a
 * MemoryStore, for linear workflows of 20, 100 and 500 steps, in the same run. The difference is what an Engine and
 * its step map cost per job.
 *   npx bun bench/jobs.ts            (JOBS=2000 for more jobs per round; rounds alternate before and after)
 */
import { baseCheckout } from "./support/checkouts.ts";
import { median } from "./support/timing.ts";
import { table } from "./workflows.ts";

const JOBS = Number(process.env.JOBS ?? 500);
const ROUNDS = 11;
const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const baseRoot = baseCheckout();
const roots = [...(baseRoot ? [["before", baseRoot]] : []), ["after", here]];

/** µs per job: JOBS jobs, one step each, spread over as many executions as needed. */
async function perJob(root: string, calls: number): Promise<number> {
  const mod = await import(`${root}/mod.ts`);
  const { performJob } = await import(`${root}/src/queue.ts`);
  const { linearWorkflow, work } = await import(`${root}/bench/workflows.ts`);
  const workflow = linearWorkflow(calls);
  const store = new mod.MemoryStore();
  const options = { store, services: { work }, workflows: () => workflow, budgetMs: 0 };
  let done = 0;
  let n = 0;
  const started = performance.now();
  while (done < JOBS) {
    const id = `job-${++n}`;
    await new mod.Engine(workflow, { store }).prepare({}, { executionId: id });
    let result;
    do {
      result = (await performJob({ workflowId: workflow.id, executionId: id, action: "continue" }, options)).result;
      done++;
    } while (result.status === "pending" && done < JOBS);
  }
  return (performance.now() - started) * 1000 / JOBS;
}

const rows: Record<string, string | number>[] = [];
for (const calls of [18, 98, 498]) {
  const times = new Map<string, number[]>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const [name, root] of roots) times.set(name!, [...(times.get(name!) ?? []), await perJob(root!, calls)]);
  }
  const before = times.has("before") ? median(times.get("before")!) : undefined;
  const after = median(times.get("after")!);
  rows.push({
    steps: calls + 2,
    "µs/job before": before ?? "",
    "µs/job after": after,
    "µs saved/job": before === undefined ? "" : before - after,
  });
}
console.log(
  `performJob, budgetMs 0 (one step per job), MemoryStore, median of ${ROUNDS} rounds of ${JOBS} jobs (${navigator.userAgent})\n`,
);
console.log(table(rows));
