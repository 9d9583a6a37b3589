/**
 * Engine overhead on the MemoryStore: steps per second for a 1 000-iteration loop and a 20-step linear
 * workflow, and the ratio of engine time to the same service calls made as plain awaited calls.
 *   npx bun bench/engine.ts
 */
import { Engine, loadWorkflow, MemoryStore } from "../mod.ts";
import { linearWorkflow, loopWorkflow, medianMs, table, work } from "./workflows.ts";

const RUNS = Number(process.env.RUNS ?? 15);
const rows: Record<string, string | number>[] = [];

async function measure(name: string, workflow: ReturnType<typeof linearWorkflow>, input: unknown, steps: number, calls: unknown[]) {
  let n = 0;
  const engineMs = await medianMs(RUNS, async () => {
    const engine = new Engine(workflow, { store: new MemoryStore(), services: { work } });
    const result = await engine.run(input, { executionId: `run-${++n}` });
    if (result.status !== "completed") throw new Error(`${name}: ${result.status} ${result.error ?? ""}`);
  });
  const plainMs = await medianMs(RUNS, async () => {
    for (const c of calls) await work(c);
  });
  rows.push({
    workflow: name,
    "steps": steps,
    "engine ms": engineMs,
    "steps/s": Math.round((steps / engineMs) * 1000),
    "plain calls ms": plainMs,
    "engine / plain": Math.round(engineMs / Math.max(plainMs, 1e-6)),
    "µs per step": (engineMs * 1000) / steps,
  });
}

/** A while loop of `n` pure `assign` steps: no checkpoint inside, one at the end. */
function pureLoop(n: number) {
  return loadWorkflow(`
id: pure_loop
name: Pure loop
steps:
  - id: start
    type: start
    next: each
  - id: each
    type: loop
    while: { field: iteration, op: lte, value: ${n} }
    max: ${n}
    do:
      - id: bump
        type: assign
        set: { counter: $iteration }
    next: finish
  - id: finish
    type: end
    result: $counter
`);
}

const PURE = 9000;
const pureWorkflow = pureLoop(PURE);
const pureRows: Record<string, string | number>[] = [];
for (
  const [label, input] of [
    ["small ctx", {}],
    ["~600 KB ctx", { blob: "x".repeat(500_000), list: Array.from({ length: 5000 }, (_, i) => ({ i })) }],
  ] as const
) {
  const ms = await medianMs(RUNS, async () => {
    const result = await new Engine(pureWorkflow, { store: new MemoryStore() }).run(input);
    if (result.status !== "completed") throw new Error(`pure loop: ${result.status} ${result.error ?? ""}`);
  });
  const perSecond = Math.round(((PURE + 3) / ms) * 1000);
  pureRows.push({
    "loop of assign steps": `${PURE}, ${label}`,
    "engine ms": ms,
    "steps/s": perSecond,
    "target ≥ 200 000": perSecond >= 200_000 ? "PASS" : "MISS",
  });
}

/** The engine alone: a store whose commit keeps nothing (what the MemoryStore's copy of the history costs is the difference). */
class DiscardingStore extends MemoryStore {
  override async commit(commit: Parameters<MemoryStore["commit"]>[0]): Promise<{ revision: number }> {
    return { revision: (commit.expectedRevision ?? 0) + 1 };
  }
}
{
  const ms = await medianMs(RUNS, async () => {
    const result = await new Engine(pureWorkflow, { store: new DiscardingStore() }).run({});
    if (result.status !== "completed") throw new Error(`pure loop: ${result.status} ${result.error ?? ""}`);
  });
  const perSecond = Math.round(((PURE + 3) / ms) * 1000);
  pureRows.push({
    "loop of assign steps": `${PURE}, engine alone (store discards)`,
    "engine ms": ms,
    "steps/s": perSecond,
    "target ≥ 200 000": perSecond >= 200_000 ? "PASS" : "MISS",
  });
}

const items = Array.from({ length: 1000 }, (_, i) => i);
// loop: start + 1 000 body steps + the loop step + end
await measure("loop of 1 000", loopWorkflow(1000), { items, count: 1000 }, 1003, items);
await measure("linear 20", linearWorkflow(18), {}, 20, Array.from({ length: 18 }, (_, i) => ({ i })));

console.log(`Engine on MemoryStore, median of ${RUNS} runs (${navigator.userAgent})\n`);
console.log(table(rows));
console.log(`\nPure steps (the whole run, its one checkpoint included)\n`);
console.log(table(pureRows));
