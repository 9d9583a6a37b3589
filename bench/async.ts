/**
 * Where an async run's time goes, hop by hop: a 1-step and a 20-step linear workflow started with `AsyncRunner.run`,
 * published to qstash-dev, delivered to the app's POST /qstash (createApp on Bun.serve), run on UpstashRedisStore (a
 * private redis-server behind the Upstash-REST bridge), until the app answers `completed`. Every hop is timed from
 * outside the code under test (bench/support/hops.ts: the bridge, qstash-dev, the app server and a store wrapper mark
 * each request), and the timeline of the median marks is printed: from the start to the first step, and from the last
 * step to `completed`. In the same run: the unavoidable round trips (one bare Redis REST request through the bridge,
 * one bare publish → delivery of an empty message to a trivial endpoint, after each run), and, with BASE set
 * (bench/base.sh), the same runs on that checkout's code ("before"), so every ratio comes from one run.
 *   npx bun bench/async.ts [--latency redis=2,qstash=20]        (RUNS=30 for more runs; BASE=<checkout> for "before")
 */
import { baseCheckout } from "./support/checkouts.ts";
import { type Latency, latencyLabel, parseLatency } from "./support/latency.ts";
import { type Mark, markedStore, startHopStack } from "./support/hops.ts";
import { median } from "./support/timing.ts";
import { table } from "./workflows.ts";

const RUNS = Number(process.env.RUNS ?? 15);
/** The target of issue 22, item 1: a 1-step async run within 3× the sum of its unavoidable round trips. */
const TARGET = 3;
/** Redis round trips no async run can avoid: save the pending execution (before the publish), claim it, commit its end. */
const UNAVOIDABLE_REDIS = 3;
/** Runs measured: start + `calls` call steps + end, on an app with the default time budget or with `budgetMs` (0: one step per delivery). */
const SHAPES = [
  { name: "1 step", calls: 1 },
  { name: "20 steps", calls: 18 },
  { name: "20 steps, budgetMs 0", calls: 18, budgetMs: 0 },
] as const;
type Shape = (typeof SHAPES)[number]["name"];

const latency: Latency = parseLatency(Bun.argv);
const here = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const baseRoot = baseCheckout();
const roots = [...(baseRoot ? [{ name: "before", root: baseRoot }] : []), {
  name: "after",
  root: here,
}];

const stack = await startHopStack(latency);
const { timeline } = stack;

interface Impl {
  name: string;
  apps: Record<Shape, { fetch: (request: Request) => Response | Promise<Response> }>;
  runners: Record<Shape, { run(input: unknown, options: { executionId: string }): Promise<string> }>;
}

/** The app, store and runners of one checkout (its own modules, loaded from `root`), on the shared stack. */
async function load(name: string, root: string): Promise<Impl> {
  const mod = await import(`${root}/mod.ts`);
  const { createApp } = await import(`${root}/routes/app.ts`);
  const { linearWorkflow } = await import(`${root}/bench/workflows.ts`);
  const prefix = `hops-${name}-${Math.random().toString(36).slice(2, 8)}`;
  const store = markedStore(new mod.UpstashRedisStore({ redis: stack.redis, prefix }), timeline);
  const adapter = new mod.QStashAdapter({ client: stack.client, callbackUrl: stack.callbackUrl });
  const services = { work: (input: unknown) => (timeline.mark("step runs"), Promise.resolve(input)) };
  const workflows = new Map(SHAPES.map((s) => [s.calls, linearWorkflow(s.calls)]));
  const appOf = (budgetMs?: number) =>
    createApp({
      store,
      workflows: [...workflows.values()],
      services,
      adapter,
      qstash: { currentSigningKey: stack.qstash.currentSigningKey, nextSigningKey: stack.qstash.nextSigningKey, budgetMs },
      logger: { debug() {}, info() {}, warn() {}, error() {} },
    });
  const apps = { default: appOf(), budget0: appOf(0) };
  const of = <T>(value: (shape: (typeof SHAPES)[number]) => T) => Object.fromEntries(SHAPES.map((s) => [s.name, value(s)]));
  return {
    name,
    apps: of((s) => ("budgetMs" in s ? apps.budget0 : apps.default)) as Impl["apps"],
    runners: of((s) => new mod.AsyncRunner(workflows.get(s.calls), { store, adapter })) as Impl["runners"],
  };
}

let ids = 0;
/** One run, start to `completed`: its marks (up to the completing answer), its Redis requests and its time. */
async function runOnce(impl: Impl, shape: Shape): Promise<{ marks: Mark[]; redis: number; ms: number }> {
  const id = `${impl.name}-${++ids}`;
  stack.serve(impl.apps[shape].fetch);
  const done = stack.completed(id);
  stack.resetCounts();
  timeline.take();
  timeline.on = true;
  const started = performance.now();
  timeline.mark("AsyncRunner.run(");
  await impl.runners[shape].run({}, { executionId: id });
  timeline.mark("AsyncRunner.run)");
  await done;
  const ms = performance.now() - started;
  timeline.on = false;
  const redis = stack.redisRequests();
  await stack.qstash.waitIdle();
  const marks = timeline.take();
  const end = marks.findLastIndex((m) => m.what.startsWith("app answers"));
  return { marks: marks.slice(0, end + 1), redis, ms };
}

/** The steps between the first and the last as one mark (a 20-step run's middle is steps and their commits). */
function collapseSteps(marks: Mark[]): Mark[] {
  const first = marks.findIndex((m) => m.what === "step runs");
  const last = marks.findLastIndex((m) => m.what === "step runs");
  if (last <= first) return marks;
  const middle = marks.slice(first + 1, last + 1);
  const steps = middle.filter((m) => m.what === "step runs").length;
  const requests = middle.filter((m) => m.what === "→ redis").length;
  const deliveries = middle.filter((m) => m.what === "app receives the delivery").length;
  return [
    ...marks.slice(0, first + 1),
    { t: marks[last]!.t, what: `… ${steps} more steps, ${requests} Redis requests, ${deliveries} deliveries: last step runs` },
    ...marks.slice(last + 1),
  ];
}

/** Per mark of the most common sequence of marks: the median time since the start. */
function medianTimeline(runs: Mark[][]): { what: string; at: number }[] {
  const keyed = runs.map(collapseSteps).map((marks) => ({ marks, key: marks.map((m) => m.what).join("|") }));
  const counts = new Map<string, number>();
  for (const { key } of keyed) counts.set(key, (counts.get(key) ?? 0) + 1);
  const modal = [...counts].sort((a, b) => b[1] - a[1])[0]![0];
  const same = keyed.filter((k) => k.key === modal).map((k) => k.marks);
  return same[0]!.map((mark, i) => ({ what: mark.what, at: median(same.map((marks) => marks[i]!.t - marks[0]!.t)) }));
}

try {
  const impls: Impl[] = [];
  for (const { name, root } of roots) impls.push(await load(name, root));

  // Warm-up: code compiled, Lua scripts loaded, definitions stored.
  for (const impl of impls) for (const { name } of SHAPES) for (let i = 0; i < 3; i++) await runOnce(impl, name);
  // The runs of each checkout alternate, so that a busy moment of the machine hits both; a bare Redis request and a
  // bare publish → delivery follow each run, so that they are measured under the same conditions as the runs.
  const bareRedis: number[] = [];
  const barePublish: number[] = [];
  const samples = new Map<string, { marks: Mark[]; redis: number; ms: number }[]>();
  for (let i = 0; i < RUNS; i++) {
    for (const impl of impls) {
      for (const { name } of SHAPES) {
        const key = `${impl.name}|${name}`;
        samples.set(key, [...(samples.get(key) ?? []), await runOnce(impl, name)]);
        bareRedis.push(await stack.bareRedis());
        barePublish.push(await stack.barePublish());
      }
    }
  }
  const redisMs = median(bareRedis);
  const publishMs = median(barePublish);
  const unavoidable = publishMs + UNAVOIDABLE_REDIS * redisMs;

  console.log(
    `Async runs through qstash-dev + Hono app + Redis bridge, median of ${RUNS} runs (${navigator.userAgent}, ${latencyLabel(latency)})\n`,
  );
  console.log(
    `Unavoidable round trips, median of ${bareRedis.length} (one after each run): a bare Redis REST request ${
      redisMs.toFixed(2)
    } ms, a bare publish → delivery ${
      publishMs.toFixed(2)
    } ms; a run needs ${UNAVOIDABLE_REDIS} Redis requests (save pending, claim, commit the end) and 1 publish → delivery: ${
      unavoidable.toFixed(2)
    } ms\n`,
  );

  const summary: Record<string, string | number>[] = [];
  for (const { name: shape } of SHAPES) {
    for (const impl of impls) {
      const runs = samples.get(`${impl.name}|${shape}`)!;
      const steps = medianTimeline(runs.map((r) => r.marks));
      console.log(`${shape}, ${impl.name} (${roots.find((r) => r.name === impl.name)!.root}): timeline of the median marks`);
      console.log(table(steps.map((s, i) => ({ "at ms": s.at, "hop ms": i ? s.at - steps[i - 1]!.at : 0, event: s.what }))));
      console.log();
      const at = (marks: Mark[], index: number) => marks[index]!.t - marks[0]!.t;
      const first = median(runs.map(({ marks }) => at(marks, marks.findIndex((m) => m.what === "step runs"))));
      const last = median(
        runs.map(({ marks }) => at(marks, marks.length - 1) - at(marks, marks.findLastIndex((m) => m.what === "step runs"))),
      );
      const ms = median(runs.map((r) => r.ms));
      summary.push({
        run: shape,
        code: impl.name,
        "ms/run": ms,
        "start → 1st step": first,
        "last step → completed": last,
        "Redis req/run": median(runs.map((r) => r.redis)),
        "run / unavoidable": ms / unavoidable,
      });
    }
  }
  console.log(table(summary));
  const verdicts: string[] = [];
  for (const { name: shape } of SHAPES) {
    const before = summary.find((r) => r.run === shape && r.code === "before");
    const after = summary.find((r) => r.run === shape && r.code === "after")!;
    if (before) {
      verdicts.push(
        `${shape}: after / before ${((after["ms/run"] as number) / (before["ms/run"] as number)).toFixed(2)}× the time per run`,
      );
    }
  }
  const ratio = summary.find((r) => r.run === "1 step" && r.code === "after")!["run / unavoidable"] as number;
  verdicts.push(
    `1-step async run / sum of unavoidable round trips: ${ratio.toFixed(2)}× (target ≤ ${TARGET}×) ${ratio <= TARGET ? "PASS" : "MISS"}`,
  );
  console.log(`\n${verdicts.join("\n")}`);
} finally {
  await stack.stop();
}
