/**
 * The cost of tracing per step: the same runs with no OpenTelemetry SDK (the API's no-op) and with the trace and
 * metrics SDKs wired to in-memory exporters (spans through a SimpleSpanProcessor, as in tests, and through a
 * BatchSpanProcessor, as in production). The modes are interleaved run by run, so a busy machine slows them alike.
 * On the MemoryStore (the engine's own cost, the worst case) and on UpstashRedisStore (a private redis-server behind the
 * Upstash-REST bridge: what a deployment pays per step). Target: no measurable cost with none; ≤ 15 % with an SDK.
 *   npx bun bench/tracing.ts
 */
import { metrics, trace } from "@opentelemetry/api";
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { MeterProvider } from "@opentelemetry/sdk-metrics";
import { Engine, MemoryStore, type Store, UpstashRedisStore } from "../mod.ts";
import { startRedisStack } from "../tests/support/redis.ts";
import { median } from "./support/timing.ts";
import { linearWorkflow, loopWorkflow, table, work } from "./workflows.ts";

const RUNS = Number(process.env.RUNS ?? 41);
const LINEAR = 50;
const LOOP = 1000;
const redis = await startRedisStack();
let prefixes = 0;
const memory = () => new MemoryStore();
const upstash = () => new UpstashRedisStore({ redis: redis.redis, prefix: `tb${++prefixes}` });
const items = { items: Array.from({ length: LOOP }, (_, i) => i) };
const cases = [
  { name: `${LINEAR} call steps, memory`, workflow: linearWorkflow(LINEAR), input: {}, steps: LINEAR + 2, store: memory, runs: RUNS },
  { name: `loop of ${LOOP} calls, memory`, workflow: loopWorkflow(LOOP), input: items, steps: LOOP + 3, store: memory, runs: RUNS },
  { name: `${LINEAR} call steps, Redis`, workflow: linearWorkflow(LINEAR), input: {}, steps: LINEAR + 2, store: upstash, runs: 15 },
];

const exporter = new InMemorySpanExporter();
const meterProvider = new MeterProvider();
const modes = {
  "no SDK": undefined,
  "SDK, simple + in-memory": new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
  "SDK, batch + in-memory": new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter)] }),
};
type Mode = keyof typeof modes;

function use(mode: Mode): void {
  trace.disable();
  metrics.disable();
  const provider = modes[mode];
  if (!provider) return;
  trace.setGlobalTracerProvider(provider);
  metrics.setGlobalMeterProvider(meterProvider);
}

async function once(c: (typeof cases)[number]): Promise<number> {
  const started = performance.now();
  const store: Store = c.store();
  const result = await new Engine(c.workflow, { store, services: { work } }).run(c.input);
  const ms = performance.now() - started;
  if (result.status !== "completed") throw new Error(`${c.name}: ${result.status} ${result.error ?? ""}`);
  exporter.reset();
  return ms;
}

const rows: Record<string, string | number>[] = [];
for (const c of cases) {
  const times = Object.fromEntries(Object.keys(modes).map((mode) => [mode, [] as number[]])) as Record<Mode, number[]>;
  for (let run = -3; run < c.runs; run++) {
    for (const mode of Object.keys(modes) as Mode[]) {
      use(mode);
      const ms = await once(c);
      if (run >= 0) times[mode].push(ms);
    }
  }
  const perStep = (mode: Mode) => (median(times[mode]) * 1000) / c.steps;
  const base = perStep("no SDK");
  for (const mode of Object.keys(modes) as Mode[]) {
    const cost = perStep(mode) / base - 1;
    rows.push({
      workflow: c.name,
      mode,
      "µs per step": perStep(mode),
      "vs no SDK": mode === "no SDK" ? "-" : `${cost >= 0 ? "+" : ""}${(cost * 100).toFixed(1)} %`,
      "target ≤ 15 %": mode === "no SDK" ? "-" : cost <= 0.15 ? "PASS" : "MISS",
    });
  }
}
use("no SDK");
await redis.stop();
console.log(table(rows));
