/**
 * Engine overhead on the MemoryStore: steps per second for a 1 000-iteration loop and a 20-step linear
 * workflow, and the ratio of engine time to the same service calls made as plain awaited calls; then pure
 * `assign` steps (issue 22): a 1 000-iteration loop and a 900-step chain as whole runs, on the MemoryStore and on
 * the engine alone (a store that discards), before (the code at BASE, when set: bench/base.sh) and after (this
 * checkout) in one process, one shape at a time with the runs of its variants interleaved so that a busy machine slows
 * them alike (also with a timeout and budgetMs, and a call loop with a 500-key ctx); then, before and after, the MemoryStore's `find`
 * with 10 000 executions stored and a live event's way to 1 and 10 SSE streams.
 *   npx bun bench/engine.ts            (BASE=$(bash bench/base.sh <commit>) for "before")
 */
import { Engine, loadWorkflow, MemoryStore } from "../mod.ts";
import { linearWorkflow, loopWorkflow, medianMs, table, work } from "./workflows.ts";
import { baseCheckout } from "./support/checkouts.ts";
import { median } from "./support/timing.ts";

const RUNS = Number(process.env.RUNS ?? 15);
/** The code before (BASE, when set) and after (this checkout), for the sections that compare. */
const BASE = baseCheckout();
type Mod = typeof import("../mod.ts");
const roots: [string, Mod][] = [
  ...(BASE ? [["before", await import(`${BASE}/mod.ts`) as Mod] as [string, Mod]] : []),
  ["after", await import("../mod.ts")],
];
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

const items = Array.from({ length: 1000 }, (_, i) => i);
// loop: start + 1 000 body steps + the loop step + end
await measure("loop of 1 000", loopWorkflow(1000), { items, count: 1000 }, 1003, items);
await measure("linear 20", linearWorkflow(18), {}, 20, Array.from({ length: 18 }, (_, i) => ({ i })));

console.log(`Engine on MemoryStore, median of ${RUNS} runs (${navigator.userAgent})\n`);
console.log(table(rows));
console.log(`\nPure steps (the whole run, its one checkpoint included)\n`);
console.log(table(pureRows));
await pureShapes();
await finds();
await liveEvents();

/**
 * A live event on its way to SSE streams: the engine makes a WorkflowEvent of it (a frozen copy) and each stream's
 * route serializes it (`JSON.stringify(event)` before, `event.json()`, made once, after): µs per event for 1 and 10
 * streams, with a ~200-byte output.
 */
async function liveEvents(): Promise<void> {
  const stored = Array.from({ length: 1000 }, (_, i) => ({
    seq: i + 1,
    type: "step.completed" as const,
    data: { executionId: "e-1", stepId: `s${i}`, stepType: "call", output: { i, pad: "x".repeat(180) } },
    timestamp: "2026-01-01T00:00:00.000Z",
  }));
  const rows: Record<string, string | number>[] = [];
  for (const [root, { WorkflowEvent }] of roots) {
    const frame = (event: InstanceType<typeof WorkflowEvent>) => typeof event.json === "function" ? event.json() : JSON.stringify(event);
    const row: Record<string, string | number> = { code: root };
    for (const streams of [1, 10]) {
      const ms = await medianMs(RUNS, async () => {
        for (const event of stored) {
          const live = WorkflowEvent.fromStored(event);
          for (let i = 0; i < streams; i++) frame(live);
        }
      });
      row[`µs per event, ${streams} stream${streams > 1 ? "s" : ""}`] = (ms * 1000) / stored.length;
    }
    rows.push(row);
  }
  console.log(`\nA live event to SSE streams (~200-byte output), median of ${RUNS}\n`);
  console.log(table(rows));
}

/** The MemoryStore's `find` (a page of 20) with 10 000 executions stored, before and after, µs per call. */
async function finds(): Promise<void> {
  const rows: Record<string, string | number>[] = [];
  for (const [root, mod] of roots) {
    const store = new mod.MemoryStore();
    const tiny = mod.loadWorkflow(
      `id: tiny\nname: Tiny\nsteps:\n  - { id: start, type: start, next: finish }\n  - { id: finish, type: end }\n`,
    );
    await new mod.Engine(tiny, { store }).run({}, { executionId: "model" });
    const model = (await store.load("model"))!;
    for (let i = 0; i < 10_000; i++) {
      await store.save({ ...model, id: `e${i}`, createdAt: new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString(), revision: 0 });
    }
    const perCall = async (query: Parameters<typeof store.find>[0]) => (await medianMs(RUNS, () => store.find(query))) * 1000;
    rows.push({
      code: root,
      "µs per find({ limit: 20 })": await perCall({ limit: 20 }),
      "µs per find({ workflowId, status, limit: 20 })": await perCall({ workflowId: "tiny", status: "completed", limit: 20 }),
    });
  }
  console.log(`\nMemoryStore find with 10 000 executions stored, median of ${RUNS}\n`);
  console.log(table(rows));
}

/**
 * Issue 22, item 3: whole runs of pure `assign` steps (two store calls each: the commit of the first step that needs
 * one and the final one) on the MemoryStore and on a store that discards commits; targets ≥ 200 000 steps/s and
 * MemoryStore / engine alone ≤ 1.5.
 */
async function pureShapes(): Promise<void> {
  const chain = (header = "") => `
id: assign_chain
name: Assign chain
${header}
steps:
  - { id: start, type: start, next: a0 }
${
    Array.from({ length: 900 }, (_, i) =>
      `  - { id: a${i}, type: assign, set: { v${i % 10}: ${i} }, next: ${i < 899 ? `a${i + 1}` : "finish"} }`).join("\n")
  }
  - { id: finish, type: end, result: $v9 }
`;
  /** Each shape's definition and engine options (the last one: a deadline and a time budget, checked at every step). */
  const shapes: Record<string, { yaml: string; budgetMs?: number; targets?: false }> = {
    "assign loop of 1 000": {
      yaml: `
id: assign_loop
name: Assign loop
steps:
  - { id: start, type: start, next: each }
  - id: each
    type: loop
    while: { field: iteration, op: lte, value: 1000 }
    max: 1000
    do:
      - { id: bump, type: assign, set: { counter: $iteration } }
    next: finish
  - { id: finish, type: end, result: $counter }
`,
    },
    "assign chain of 900": { yaml: chain() },
    "… with timeout and budgetMs": { yaml: chain("timeout: 3600"), budgetMs: 600_000 },
    "call loop of 200, 500-key ctx": {
      targets: false,
      yaml: `
id: call_loop
name: Call loop, wide ctx
steps:
  - { id: start, type: start, next: wide }
  - { id: wide, type: assign, set: { ${Array.from({ length: 500 }, (_, i) => `k${i}: ${i}`).join(", ")} }, next: each }
  - id: each
    type: loop
    while: { field: iteration, op: lte, value: 200 }
    max: 200
    do:
      - { id: work, type: call, service: work, input: $iteration, output: last }
    next: finish
  - { id: finish, type: end, result: $last }
`,
    },
  };
  interface Variant {
    shape: string;
    root: string;
    store: string;
    steps: number;
    run(): Promise<unknown>;
    times: number[];
  }
  const variants: Variant[] = [];
  for (const [shape, { yaml, budgetMs }] of Object.entries(shapes)) {
    for (const [root, mod] of roots) {
      const workflow = mod.loadWorkflow(yaml);
      /** The engine alone: a store whose commit keeps nothing (the MemoryStore's handling of the history is the difference). */
      class Discarding extends mod.MemoryStore {
        override async commit(commit: Parameters<MemoryStore["commit"]>[0]): Promise<{ revision: number }> {
          return { revision: (commit.expectedRevision ?? 0) + 1 };
        }
      }
      const probe = new mod.MemoryStore();
      const done = await new mod.Engine(workflow, { store: probe, budgetMs, services: { work } }).run({}, { executionId: "probe" });
      if (done.status !== "completed") throw new Error(`${shape}: ${done.status}`);
      const steps = (await probe.entries("probe")).length;
      for (const [store, make] of [["MemoryStore", () => new mod.MemoryStore()], ["engine alone", () => new Discarding()]] as const) {
        variants.push({
          shape,
          root,
          store,
          steps,
          times: [],
          run: async () => {
            const result = await new mod.Engine(workflow, { store: make(), budgetMs, services: { work } }).run({});
            if (result.status !== "completed") throw new Error(`${shape}: ${result.status} ${result.error ?? ""}`);
          },
        });
      }
    }
  }
  const rounds = Math.max(RUNS, 31);
  // One shape at a time, its variants interleaved (a busy spell slows them alike), after a full collection: interleaved
  // with the others, a shape's runs would pay for collecting their garbage (the call loop's most), which lands on
  // whichever run allocates when it is due — most often the MemoryStore's, whose commit allocates its copies at once.
  for (const shape of Object.keys(shapes)) {
    const block = variants.filter((variant) => variant.shape === shape);
    for (const variant of block) for (let i = 0; i < 5; i++) await variant.run(); // warm-up
    Bun.gc(true);
    for (let i = 0; i < rounds; i++) {
      // Each round starts one variant later: each follows every other equally often (and pays its garbage alike).
      for (let j = 0; j < block.length; j++) {
        const variant = block[(i + j) % block.length]!;
        const started = performance.now();
        await variant.run();
        variant.times.push(performance.now() - started);
      }
    }
  }
  const perSecond = (variant: Variant) => Math.round((variant.steps / median(variant.times)) * 1000);
  /** The median of each round's own ratio: the two runs of a round are next to each other, so a busy spell slows both. */
  const ratioOf = (slow: Variant, fast: Variant) => median(slow.times.map((time, i) => time / fast.times[i]!));
  const find = (shape: string, root: string, store: string) =>
    variants.find((v) => v.shape === shape && v.root === root && v.store === store)!;
  const rows: Record<string, string | number>[] = [];
  for (const shape of Object.keys(shapes)) {
    const cells: Record<string, string | number> = {};
    for (const [root] of roots) {
      const memory = perSecond(find(shape, root, "MemoryStore"));
      const alone = perSecond(find(shape, root, "engine alone"));
      const ratio = ratioOf(find(shape, root, "MemoryStore"), find(shape, root, "engine alone"));
      cells[`${root}: MemoryStore steps/s`] = memory;
      cells[`${root}: engine alone`] = alone;
      cells[`${root}: ratio`] = ratio;
      if (root === "after") {
        const targeted = shapes[shape]!.targets !== false;
        cells["≥ 200 000"] = !targeted ? "-" : memory >= 200_000 ? "PASS" : "MISS";
        cells["ratio ≤ 1.5"] = !targeted ? "-" : ratio <= 1.5 ? "PASS" : "MISS";
      }
    }
    if (roots.length === 2) {
      for (const store of ["MemoryStore", "engine alone"]) {
        cells[`after / before, ${store}`] = perSecond(find(shape, "after", store)) / perSecond(find(shape, "before", store));
      }
    }
    rows.push({ shape, steps: find(shape, "after", "MemoryStore").steps, ...cells });
  }
  console.log(
    `\nWhole runs (steps/s), median of ${rounds} runs, each shape's variants interleaved${
      BASE ? ` (before: ${BASE})` : ""
    }; targets for assign steps\n`,
  );
  console.log(table(rows));
}
