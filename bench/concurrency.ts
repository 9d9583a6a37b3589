/**
 * Throughput under concurrency: RUNS (default 200) concurrent 10-step async runs (start, 8 calls, end) through the
 * local stack with each component in its own process — redis-server, the Upstash-REST bridge, qstash-dev and the
 * app (createApp from the environment, on Bun.serve; bench/support/concurrency-app.ts) — so the CPU each one uses
 * is read from /proc/<pid>/stat (utime + stime, every thread) before and after a round.
 *
 * Two stacks run side by side: one from BASE (when set, made by bench/base.sh: its packages/dev, its stackEnv and its app code)
 * and one from this checkout. After a warm-up round each, rounds alternate between them (ROUNDS each, default 5), so
 * a busy machine slows both alike. A round POSTs RUNS starts to the app at once (`POST /workflows/linear_8/executions`,
 * async) and ends when Redis counts RUNS more completed executions (ZCARD of the completed index, polled every 5 ms
 * from here on a connection of its own, not through the bridge).
 *
 * Printed per stack: wall time per round, steps/s, CPU ms per step of each process and in total, CPU utilisation
 * (CPU-s / wall-s: of the machine's cores for the total, of one core per app process for the app), the driver's
 * own CPU (this process: not in the total), bridge HTTP requests and Redis commands per step, Redis commands per
 * run, and the TCP connections closed during the bench per server (TIME_WAIT: connections that keep-alive did not
 * keep). Then steps/s after / before: the median of the paired rounds' ratios, PASS/MISS against the issue's ≥ 1.5×,
 * and total CPU per step before / after.
 *   npx bun bench/concurrency.ts            (RUNS=200 ROUNDS=5 APPS=1 BASE=$(bash bench/base.sh <commit>))
 *
 * Diagnostics: APPS=2 runs two app processes per stack on one port (reusePort); AFTER_REDIS_OPTIONS='{"enableAutoPipelining":true}'
 * gives the app of this checkout's stack those @upstash/redis options (what they cost or save, in the same run);
 * PROFILE=<dir> runs that app under `bun --cpu-prof --cpu-prof-md` and leaves the profile in <dir>.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import {
  BRIDGE_TOKEN,
  freePort,
  REDIS_MISSING,
  redisBinary,
  startRedisServer,
  stopChild,
  waitHealthy,
} from "durable-workflow-edge-dev/stack";
import type { BridgeStats } from "durable-workflow-edge-dev/bridge";
import { table } from "./workflows.ts";
import { baseCheckout } from "./support/checkouts.ts";

const RUNS = Number(process.env.RUNS ?? 200);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
/** App processes per stack, sharing one port (reusePort): 1 is the local stack as `durable-workflow dev` runs it. */
const APPS = Number(process.env.APPS ?? 1);
const STEPS_PER_RUN = 10;
const TARGET = 1.5;
const HERE = join(import.meta.dir, "..");
const BASE = baseCheckout();
const CLOCK_TICK_MS = 10; // USER_HZ is 100 on Linux

const binary = redisBinary();
if (!binary) throw new Error(REDIS_MISSING);

/** utime + stime of processes and all their threads, in ms. */
function cpuMs(procs: Bun.Subprocess[]): number {
  return procs.reduce((sum, { pid }) => {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // the name may hold spaces
    return sum + (Number(fields[11]) + Number(fields[12])) * CLOCK_TICK_MS;
  }, 0);
}

/** One RESP command on a fresh connection: the bench's own probe, kept off the bridge so it costs the stack nothing. */
function redisInteger(port: number, command: string[]): Promise<number> {
  const wire = `*${command.length}\r\n${command.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;
  return new Promise((resolve, reject) => {
    let text = "";
    Bun.connect({
      hostname: "127.0.0.1",
      port,
      socket: {
        open: (socket) => void socket.write(wire),
        data(socket, data) {
          text += new TextDecoder().decode(data);
          if (!text.endsWith("\r\n")) return;
          socket.end();
          if (text.startsWith(":")) resolve(Number(text.slice(1)));
          else reject(new Error(`Redis answered ${text.trim()}`));
        },
        error: (_socket, error) => reject(error),
        connectError: (_socket, error) => reject(error),
      },
    }).catch(reject);
  });
}

interface Stack {
  name: string;
  root: string;
  ports: Record<string, number>;
  appUrl: string;
  bridgeUrl: string;
  redisPort: number;
  /** Per component, its processes (APPS app processes share the app's port). */
  procs: Record<string, Bun.Subprocess[]>;
  stop(): Promise<void>;
}

async function startStack(name: string, root: string): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), "dw-conc-"));
  const redisPort = freePort();
  const redis = await startRedisServer({ binary: binary!, port: redisPort, dir });
  const spawn = (args: string[], env: Record<string, string> = {}) =>
    Bun.spawn([process.execPath, ...args], { cwd: root, env: { ...process.env, ...env }, stdout: "ignore", stderr: "inherit" });
  const bridgePort = freePort();
  const bridge = spawn([
    `${root}/packages/dev/upstash-redis-bridge.ts`,
    "--port",
    String(bridgePort),
    "--redis",
    `redis://127.0.0.1:${redisPort}`,
    "--token",
    BRIDGE_TOKEN,
  ]);
  const qstashPort = freePort();
  const qstash = spawn([`${root}/packages/dev/qstash-dev/cli.ts`, "--port", String(qstashPort), "--quiet"]);
  const appPort = freePort();
  const appUrl = `http://127.0.0.1:${appPort}`;
  const bridgeUrl = `http://127.0.0.1:${bridgePort}`;
  const profile = process.env.PROFILE && name === "after" ? ["--cpu-prof", "--cpu-prof-md", `--cpu-prof-dir=${process.env.PROFILE}`] : [];
  // The app's environment as that checkout's local stack gives it (`durable-workflow dev`, `npm run dev:stack`).
  const { stackEnv } = await import(`${root}/packages/dev/local-stack.ts`);
  const apps = Array.from({ length: APPS }, () =>
    spawn([...profile, join(HERE, "bench/support/concurrency-app.ts")], {
      ...stackEnv(bridgeUrl, `http://127.0.0.1:${qstashPort}`, appUrl),
      ROOT: root,
      ...(name === "after" && process.env.AFTER_REDIS_OPTIONS ? { REDIS_OPTIONS: process.env.AFTER_REDIS_OPTIONS } : {}),
      PORT: String(appPort),
    }));
  const procs: Record<string, Bun.Subprocess[]> = { app: apps, qstash: [qstash], bridge: [bridge], redis: [redis] };
  const stack: Stack = {
    name,
    root,
    ports: { app: appPort, qstash: qstashPort, bridge: bridgePort, redis: redisPort },
    appUrl,
    bridgeUrl,
    redisPort,
    procs,
    async stop() {
      for (const proc of Object.values(procs).flat()) await stopChild(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  const alive = () => Object.values(procs).flat().every((p) => p.exitCode === null);
  if (!(await waitHealthy(appUrl, alive))) {
    await stack.stop();
    throw new Error(`${name}: the app did not answer /health`);
  }
  return stack;
}

interface Tally {
  wallMs: number;
  /** Wall ms of each round, in order (a round of one stack is paired with the other stack's round of the same index). */
  roundMs: number[];
  runs: number;
  cpu: Record<string, number>;
  bridgeRequests: number;
  redisCommands: number;
  byCommand: Record<string, number>;
  driverCpuMs: number;
}

const newTally = (): Tally => ({
  wallMs: 0,
  roundMs: [],
  runs: 0,
  cpu: {},
  bridgeRequests: 0,
  redisCommands: 0,
  byCommand: {},
  driverCpuMs: 0,
});

async function bridgeStats(stack: Stack): Promise<BridgeStats> {
  return (await fetch(`${stack.bridgeUrl}/__stats`)).json() as Promise<BridgeStats>;
}

/** RUNS concurrent starts, then waits for RUNS more completed executions. */
async function round(stack: Stack, tally: Tally): Promise<void> {
  const completedKey = "dw:idx:st:completed";
  const before = await redisInteger(stack.redisPort, ["ZCARD", completedKey]);
  const statsBefore = await bridgeStats(stack);
  const cpuBefore = Object.fromEntries(Object.entries(stack.procs).map(([n, p]) => [n, cpuMs(p)]));
  const started = performance.now();
  const driverBefore = process.cpuUsage();
  const answers = await Promise.all(
    Array.from({ length: RUNS }, () =>
      fetch(`${stack.appUrl}/workflows/linear_8/executions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ input: {} }),
      }).then(async (r) => (await r.arrayBuffer(), r.status))),
  );
  const refused = answers.filter((s) => s !== 202);
  if (refused.length) throw new Error(`${stack.name}: ${refused.length} starts not accepted (e.g. ${refused[0]})`);
  const deadline = Date.now() + 120_000;
  while ((await redisInteger(stack.redisPort, ["ZCARD", completedKey])) < before + RUNS) {
    if (Date.now() > deadline) throw new Error(`${stack.name}: runs not completed after 120 s`);
    await Bun.sleep(5);
  }
  tally.wallMs += performance.now() - started;
  tally.roundMs.push(performance.now() - started);
  const driver = process.cpuUsage(driverBefore);
  tally.driverCpuMs += (driver.user + driver.system) / 1000;
  for (const [n, p] of Object.entries(stack.procs)) tally.cpu[n] = (tally.cpu[n] ?? 0) + cpuMs(p) - cpuBefore[n]!;
  const statsAfter = await bridgeStats(stack);
  tally.bridgeRequests += statsAfter.requests - statsBefore.requests - 1; // less our own /__stats read
  tally.redisCommands += statsAfter.commands - statsBefore.commands;
  for (const [name, n] of Object.entries(statsAfter.byCommand)) {
    tally.byCommand[name] = (tally.byCommand[name] ?? 0) + n - (statsBefore.byCommand[name] ?? 0);
  }
  tally.runs += RUNS;
}

const stacks = [...(BASE ? [await startStack("before", BASE)] : []), await startStack("after", HERE)];
try {
  const tallies = new Map<Stack, Tally>(stacks.map((s) => [s, newTally()]));
  for (const stack of stacks) await round(stack, newTally()); // warm-up
  for (let r = 0; r < ROUNDS; r++) for (const stack of stacks) await round(stack, tallies.get(stack)!);

  const cores = availableParallelism();
  const rows = stacks.map((stack) => {
    const t = tallies.get(stack)!;
    const steps = t.runs * STEPS_PER_RUN;
    const totalCpu = Object.values(t.cpu).reduce((a, b) => a + b, 0);
    const row: Record<string, string | number> = {
      stack: stack.name,
      "wall s/round": t.wallMs / 1000 / ROUNDS,
      "steps/s": steps / (t.wallMs / 1000),
    };
    for (const [n, ms] of Object.entries(t.cpu)) row[`${n} CPU ms/step`] = ms / steps;
    row["total CPU ms/step"] = totalCpu / steps;
    row[`CPU-s/wall-s (of ${cores})`] = totalCpu / t.wallMs;
    row[`app CPU-s/wall-s (of ${APPS})`] = t.cpu.app! / t.wallMs;
    row["driver CPU ms/step"] = t.driverCpuMs / steps;
    row["bridge req/step"] = t.bridgeRequests / steps;
    row["Redis cmd/step"] = t.redisCommands / steps;
    return row;
  });
  console.log(
    `${RUNS} concurrent ${STEPS_PER_RUN}-step async runs, ${ROUNDS} rounds per stack (alternating), each process on its own; ${navigator.userAgent}\n` +
      `${BASE ? `  before = ${BASE}\n` : ""}  after  = ${HERE}\n`,
  );
  console.log(table(rows));
  for (const stack of stacks) {
    const t = tallies.get(stack)!;
    const perRun = Object.entries(t.byCommand).filter(([, n]) => n > 0).map(([name, n]) => `${name} ${+(n / t.runs).toFixed(3)}`);
    console.log(`${stack.name}: Redis commands per run: ${perRun.join(", ")}`);
  }
  // A TCP connection closed in the last 60 s stays in TIME_WAIT: their count per server is the connections opened
  // and closed again during the bench (keep-alive that did not keep the connection).
  for (const stack of stacks) {
    const closed = Object.entries(stack.ports).map(([n, port]) => {
      const out = Bun.spawnSync(["ss", "-Htan", "state", "time-wait", `( sport = :${port} or dport = :${port} )`]).stdout.toString();
      return `${n} ${out.split("\n").filter(Boolean).length}`;
    });
    console.log(`${stack.name}: connections closed during the bench (TIME_WAIT) per server: ${closed.join(", ")}`);
  }
  if (stacks.length === 2) {
    // Rounds of the two stacks alternate: each pair ran under about the same load from the rest of the machine, so the
    // median of the pairs' ratios is the figure (the ratio of the totals is printed too).
    const [before, after] = stacks.map((stack) => tallies.get(stack)!.roundMs);
    const pairs = before!.map((ms, i) => ms / after![i]!).sort((a, b) => a - b);
    const ratio = pairs[Math.floor(pairs.length / 2)]!;
    const totals = (rows[1]!["steps/s"] as number) / (rows[0]!["steps/s"] as number);
    const cpuRatio = (rows[0]!["total CPU ms/step"] as number) / (rows[1]!["total CPU ms/step"] as number);
    console.log(
      `\nsteps/s after / before: ${ratio.toFixed(2)}× (median of ${pairs.length} paired rounds: ${
        pairs.map((r) => r.toFixed(2)).join(" ")
      }; totals ${totals.toFixed(2)}×) (target ≥ ${TARGET}×) ${ratio >= TARGET ? "PASS" : "MISS"}`,
    );
    console.log(`CPU per step before / after: ${cpuRatio.toFixed(2)}×`);
  }
} finally {
  for (const stack of stacks) await stack.stop();
}
