/**
 * How a step's cost grows with the length of the run, now that checkpoints write deltas: a loop of N calls
 * (N = 10, 100, 1000) and a linear chain of N calls (N = 10, 100, 500), each call returning ~200 bytes, with
 * SyncRunner on the MemoryStore and on UpstashRedisStore (a private redis-server behind the Upstash-REST bridge).
 * Per step: µs of wall time and of this process's CPU time (medians of RUNS runs after a warm-up), store requests (MemoryStore: Store method calls; Redis:
 * HTTP requests the bridge received), also per side-effecting step (the calls), and request bytes (MemoryStore: what the commits serialized; Redis: request
 * bodies the bridge received), and the ratio of the largest N to N = 10.
 *   npx bun bench/scaling.ts            (RUNS=9 for more runs)
 */
import { MemoryStore, type Store, SyncRunner, UpstashRedisStore, type WorkflowDefinition } from "../mod.ts";
import { countedMemoryStore } from "./support/counted-memory.ts";
import { startCountedRedis } from "./support/counted-redis.ts";
import { medianTiming } from "./support/timing.ts";
import { linearWorkflow, loopWorkflow, table } from "./workflows.ts";

const RUNS = Number(process.env.RUNS ?? 5);
const WARM_UP_RUNS = 5;
const MAX_RATIO = 1.5;
/** Issue 22: store requests per step, and per side-effecting step (the calls). */
const MAX_REQUESTS_PER_STEP = 1.05;
const PAD = "x".repeat(180);
/** ~200 bytes of JSON per call. */
const services = { work: async (input: unknown) => ({ input, pad: PAD }) };

interface Shape {
  name: string;
  sizes: number[];
  workflow(n: number): WorkflowDefinition;
  input(n: number): unknown;
}

const shapes: Shape[] = [
  {
    name: "loop of N calls",
    sizes: [10, 100, 1000],
    workflow: loopWorkflow,
    input: (n) => ({ items: Array.from({ length: n }, (_, i) => i), count: n }),
  },
  { name: "linear chain of N calls", sizes: [10, 100, 500], workflow: linearWorkflow, input: () => ({}) },
];

/** One kind of store: a counted one for the counts, a plain one for the time. */
interface StoreKind {
  name: string;
  requestsLabel: string;
  counted(): Promise<{ store: Store; counts(): { requests: number; bytes: number }; reset(): void }>;
  timed(): Store;
}

let ids = 0;
const nextId = (what: string) => `${what}-${++ids}`;

/** One runner per workflow and store, kept as an app keeps its runners (it knows the current version after its first run). */
const runners = new Map<WorkflowDefinition, Map<Store, SyncRunner>>();
function runnerOf(workflow: WorkflowDefinition, store: Store): SyncRunner {
  const byStore = runners.get(workflow) ?? runners.set(workflow, new Map()).get(workflow)!;
  return byStore.get(store) ?? byStore.set(store, new SyncRunner(workflow, { store, services })).get(store)!;
}

async function runOnce(workflow: WorkflowDefinition, store: Store, input: unknown, id = nextId("run")): Promise<string> {
  const result = await runnerOf(workflow, store).run(input, { executionId: id });
  if (result.status !== "completed") throw new Error(`${workflow.id}: ${result.status} ${result.error ?? ""}`);
  return id;
}

async function measure(kind: StoreKind, shape: Shape): Promise<Record<string, string | number>[]> {
  const rows: Record<string, string | number>[] = [];
  const counted = await kind.counted();
  const timed = kind.timed();
  // Warm-up at the smallest N, so that its row is not the one that pays for compiling the code paths.
  for (let i = 0; i < WARM_UP_RUNS; i++) await runOnce(shape.workflow(shape.sizes[0]!), timed, shape.input(shape.sizes[0]!));
  for (const n of shape.sizes) {
    const workflow = shape.workflow(n);
    const input = shape.input(n);
    await runOnce(workflow, counted.store, input); // warm-up (Lua scripts loaded, code paths compiled)
    counted.reset();
    const id = await runOnce(workflow, counted.store, input);
    const { requests, bytes } = counted.counts();
    const entries = await counted.store.entries(id);
    const steps = entries.length;
    const calls = entries.filter((entry) => entry.stepType === "call").length;
    const { wallMs, cpuMs } = await medianTiming(RUNS, () => runOnce(workflow, timed, input));
    const requestsPerStep = requests / steps;
    const requestsPerCall = requests / calls;
    rows.push({
      N: n,
      steps,
      "µs/step": (wallMs * 1000) / steps,
      "CPU µs/step": (cpuMs * 1000) / steps,
      [kind.requestsLabel]: requestsPerStep,
      "req target": requestsPerStep <= MAX_REQUESTS_PER_STEP ? "PASS" : "MISS",
      "req/call": requestsPerCall,
      "per call target": requestsPerCall <= MAX_REQUESTS_PER_STEP ? "PASS" : "MISS",
      "bytes/step": bytes / steps,
    });
  }
  const first = rows[0]!;
  const last = rows.at(-1)!;
  const ratio = (key: string) => (last[key] as number) / (first[key] as number);
  const verdict = (r: number) => `${r.toFixed(2)} ${r <= MAX_RATIO ? "PASS" : "MISS"}`;
  rows.push({
    N: `ratio ${last.N}/${first.N}`,
    steps: "",
    "µs/step": verdict(ratio("µs/step")),
    "CPU µs/step": verdict(ratio("CPU µs/step")),
    [kind.requestsLabel]: ratio(kind.requestsLabel),
    "req target": "",
    "req/call": ratio("req/call"),
    "per call target": "",
    "bytes/step": verdict(ratio("bytes/step")),
  });
  return rows;
}

const redis = await startCountedRedis();
const prefix = () => `scale${Math.random().toString(36).slice(2, 8)}`;
const kinds: StoreKind[] = [
  {
    name: "MemoryStore",
    requestsLabel: "calls/step",
    async counted() {
      const memory = countedMemoryStore();
      return {
        store: memory.store,
        counts: () => ({ requests: memory.counts().calls, bytes: memory.counts().bytes }),
        reset: memory.reset,
      };
    },
    timed: () => new MemoryStore(),
  },
  {
    name: "UpstashRedisStore",
    requestsLabel: "HTTP req/step",
    async counted() {
      return { store: new UpstashRedisStore({ redis: redis.redis, prefix: prefix() }), counts: redis.counts, reset: redis.reset };
    },
    timed: () => new UpstashRedisStore({ redis: redis.redis, prefix: prefix() }),
  },
];

try {
  console.log(
    `Step cost against run length, SyncRunner, ~200-byte call results, median of ${RUNS} runs (${navigator.userAgent}, loopback bridge)`,
  );
  console.log(
    `Targets: ratio of µs/step and bytes/step ≤ ${MAX_RATIO}; ≤ ${MAX_REQUESTS_PER_STEP} store requests per step and per call ` +
      `(a run's requests: the claim before the first call, one commit per call: N + 1; the claim is the floor exactly-once needs)`,
  );
  for (const kind of kinds) {
    for (const shape of shapes) {
      console.log(`\n${kind.name}, ${shape.name}\n`);
      console.log(table(await measure(kind, shape)));
    }
  }
} finally {
  await redis.stop();
}
