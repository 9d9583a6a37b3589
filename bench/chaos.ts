/**
 * Faults on the local production path, then an audit of every execution through the HTTP API.
 *
 *   npx bun bench/chaos.ts [--runs 200] [--kills 3] [--outage 15] [--outage-mode down|stall] [--approvals 20]
 *                          [--lease 10] [--sweep 5] [--seed 1] [--wait 180]
 *   npx bun bench/chaos.ts --fault pause [--runs 400] [--lease 10] [--pause 15] [--wait 180]
 *
 * `--fault pause` is the paused-worker fault instead (bench/support/paused-worker.ts): two instances, one of them
 * SIGSTOPped longer than its lease while its runs are in flight; side effects per step are counted at the service.
 * Without it:
 *
 * Starts a private redis-server (`--save '' --appendonly no`), the Upstash REST bridge and qstash-dev (in this
 * process; they are not faulted), the QStash sweep schedule, and the app (`bun main.ts`, a child process, with
 * DW_LEASE_SECONDS=--lease and DW_SWEEP_SECONDS=--sweep). Then it starts --runs async order_fulfillment runs over
 * a few seconds (--approvals of them halt for a manager's approval and are answered through
 * POST /executions/:id/resume), SIGKILLs the app --kills times at random moments (restarting it 0.3 s later), and
 * makes Redis unreachable for --outage seconds:
 *
 *   down   (default) `SHUTDOWN SAVE`, then a new redis-server on the same port loading that snapshot: connections
 *          are refused for the whole outage and no acknowledged write is lost;
 *   stall  SIGSTOP / SIGCONT of redis-server: connections hang for the whole outage, then carry on.
 *
 * It then waits (at most --wait seconds after the last fault) and audits every execution: completed, stranded
 * (not terminal), failed; executions with a step entry recorded twice (the same step completed twice, or the
 * same attempt of a call recorded twice; loop bodies, whose entries carry no index, are left out); and the time
 * from the end of the last fault until the last run finished. Target: all completed, none stranded or recorded
 * twice, the last finished within lease + 60 s of the last fault.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startQStashDev } from "durable-workflow-edge-dev/qstash";
import {
  BRIDGE_TOKEN,
  createSweepSchedule,
  eachLine,
  freePort,
  REDIS_MISSING,
  redisBinary,
  stackEnv,
  startRedisServer,
  stopChild,
  waitHealthy,
} from "durable-workflow-edge-dev/stack";
import { startBridge } from "durable-workflow-edge-dev/bridge";

const ROOT = join(import.meta.dir, "..");

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "200" },
    kills: { type: "string", default: "3" },
    outage: { type: "string", default: "15" },
    "outage-mode": { type: "string", default: "down" },
    approvals: { type: "string", default: "20" },
    lease: { type: "string", default: "10" },
    sweep: { type: "string", default: "5" },
    seed: { type: "string", default: "1" },
    wait: { type: "string", default: "180" },
    verbose: { type: "boolean", default: false },
    fault: { type: "string", default: "kill" },
    pause: { type: "string", default: "15" },
  },
});
const num = (name: keyof typeof values) => {
  const value = Number(values[name]);
  if (!Number.isFinite(value) || value < 0) throw new Error(`--${name} must be a number ≥ 0, got ${values[name]}`);
  return value;
};
const RUNS = num("runs");
const KILLS = num("kills");
const OUTAGE_MS = num("outage") * 1000;
const APPROVALS = Math.min(num("approvals"), RUNS);
const LEASE_S = num("lease");
const WAIT_MS = num("wait") * 1000;
const MODE = values["outage-mode"];
if (values.fault === "pause") {
  const { pausedWorkerChaos } = await import("./support/paused-worker.ts");
  await pausedWorkerChaos({ runs: RUNS, leaseS: LEASE_S, pauseS: num("pause"), waitS: num("wait"), verbose: values.verbose });
  process.exit(0);
}
if (values.fault !== "kill") throw new Error(`--fault must be kill or pause, got ${values.fault}`);
if (MODE !== "down" && MODE !== "stall") throw new Error(`--outage-mode must be down or stall, got ${MODE}`);

/** mulberry32: the fault moments are reproducible with --seed. */
let seed = num("seed") >>> 0;
function random(): number {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const between = (low: number, high: number) => low + random() * (high - low);

const t0 = Date.now();
const log = (line: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}`);

// --- the stack -------------------------------------------------------------------------------------------------
const binary = redisBinary();
if (!binary) throw new Error(REDIS_MISSING);
const dir = mkdtempSync(join(tmpdir(), "dw-chaos-"));
const redisPort = freePort();
let redis = await startRedisServer({ binary, port: redisPort, dir });
const bridge = startBridge({ port: 0, redisUrl: `redis://127.0.0.1:${redisPort}`, token: BRIDGE_TOKEN });
const qstash = startQStashDev({
  port: 0,
  retryDelayMs: 1000,
  ...(values.verbose ? { log: (line: string) => log(`[qstash] ${line}`) } : {}),
});
const appPort = freePort();
const base = `http://127.0.0.1:${appPort}`;
await createSweepSchedule(qstash.url, base);
const appEnv = {
  ...process.env,
  ...stackEnv(bridge.url, qstash.url, base),
  PORT: String(appPort),
  DW_LEASE_SECONDS: String(LEASE_S),
  DW_SWEEP_SECONDS: String(num("sweep")),
};

let app: Bun.Subprocess | undefined;
async function startApp(): Promise<void> {
  const proc = Bun.spawn([process.execPath, "main.ts"], {
    cwd: ROOT,
    env: appEnv,
    stdout: "pipe",
    stderr: "pipe",
  });
  app = proc;
  void collectLines(proc.stdout, (line) => values.verbose && console.log(line));
  void collectLines(proc.stderr, (line) => !line.includes("DW_API_TOKEN is not set") && appErrors.push(line));
  if (!(await waitHealthy(base, () => proc.exitCode === null && proc.signalCode === null))) {
    throw new Error("the app did not answer /health");
  }
}
const appErrors: string[] = [];
/** Every line the app wrote (stdout and stderr), with when it arrived: the outage's share is reported. */
const appLines: { at: number; bytes: number }[] = [];
function collectLines(stream: ReadableStream<Uint8Array>, each: (line: string) => unknown): Promise<void> {
  return eachLine(stream, (line) => {
    appLines.push({ at: Date.now(), bytes: new TextEncoder().encode(line).length + 1 });
    if (line) each(line);
  });
}
let outage: { from: number; to: number } | undefined;

async function stopEverything(): Promise<void> {
  if (app) await stopChild(app);
  process.kill(redis.pid, "SIGCONT");
  await stopChild(redis);
  await bridge.stop();
  await qstash.stop();
  rmSync(dir, { recursive: true, force: true });
}
process.on("SIGINT", () => void stopEverything().then(() => process.exit(130)));

await startApp();
log(
  `stack up: redis :${redisPort}, bridge ${bridge.url}, qstash ${qstash.url}, app ${base} (lease ${LEASE_S} s, sweep timer ${values.sweep} s + QStash schedule every minute)`,
);

// --- the load ---------------------------------------------------------------------------------------------------
const ids = Array.from({ length: RUNS }, (_, i) => `chaos-${String(i).padStart(4, "0")}`);
const needsApproval = new Set(ids.filter((_, i) => i % Math.max(1, Math.floor(RUNS / Math.max(APPROVALS, 1))) === 0).slice(0, APPROVALS));

function order(id: string) {
  const big = needsApproval.has(id);
  return {
    order_id: id,
    customer_id: "C-chaos",
    items: big ? [{ sku: "LAPTOP", quantity: 1, price: 1200 }] : [{ sku: "WIDGET", quantity: 1, price: 5 }],
    payment: { card: "4242424242424242" },
  };
}

/** A request the client repeats until the app accepts it (as a client of a service that restarts would). */
async function insist(what: string, path: string, body: unknown, done: (status: number) => boolean): Promise<void> {
  for (let attempt = 0;; attempt++) {
    try {
      const response = await fetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      await response.arrayBuffer();
      if (done(response.status)) return;
    } catch {
      // the app is down: try again
    }
    if (attempt === 600) throw new Error(`${what} was never accepted`);
    await Bun.sleep(200);
  }
}

let startsDone = 0;
const starting = (async () => {
  // About 40 starts a second, so the runs overlap the faults.
  for (const [i, id] of ids.entries()) {
    void insist(
      `the start of ${id}`,
      "/workflows/order_fulfillment/executions",
      { executionId: id, input: order(id) },
      (s) => s === 202 || s === 409,
    )
      .then(() => startsDone++);
    if (i % 8 === 7) await Bun.sleep(200);
  }
  while (startsDone < RUNS) await Bun.sleep(50);
  log(`all ${RUNS} starts accepted`);
})();

async function getJson<T>(path: string): Promise<T | undefined> {
  try {
    const response = await fetch(`${base}${path}`);
    if (response.status !== 200) {
      await response.arrayBuffer();
      return undefined;
    }
    return (await response.json()) as T;
  } catch {
    return undefined;
  }
}

interface ExecutionView {
  id: string;
  status: string;
  updatedAt: string;
  error: string | null;
  currentStep: string | null;
  haltData: { requested_at?: string } | null;
}
const TERMINAL = new Set(["completed", "failed", "cancelled"]);

/**
 * Answers every halt once, for as long as the bench runs: an approver answers each request it is shown. A run
 * whose answer was lost before it was checkpointed halts again at the approval (a new `requested_at`) and is
 * answered again; an answer accepted (202) for a halt that then stays unanswered is never repeated.
 */
const answered = new Set<string>();
let answering = true;
const answerer = (async () => {
  while (answering) {
    for (const id of needsApproval) {
      const exec = await getJson<ExecutionView>(`/executions/${id}`);
      const halt = `${id} ${exec?.haltData?.requested_at}`;
      if (exec?.status !== "halted" || answered.has(halt)) continue;
      await insist(`the answer to ${id}`, `/executions/${id}/resume`, { approved: true }, (s) => s === 202 || s === 409)
        .then(() => answered.add(halt), () => undefined);
    }
    await Bun.sleep(500);
  }
})();

// --- the faults ---------------------------------------------------------------------------------------------------
const faults: string[] = [];
for (let k = 0; k < KILLS; k++) {
  await Bun.sleep(between(300, 1500));
  const victim = app!;
  process.kill(victim.pid, "SIGKILL");
  await victim.exited;
  log(`fault ${faults.length + 1}: app SIGKILLed (pid ${victim.pid})`);
  await Bun.sleep(300);
  await startApp();
  log(`app restarted (pid ${app!.pid})`);
  faults.push("kill");
}
if (OUTAGE_MS > 0) {
  await Bun.sleep(between(200, 1000));
  log(`fault ${faults.length + 1}: Redis unreachable for ${OUTAGE_MS / 1000} s (${MODE})`);
  const from = Date.now();
  if (MODE === "stall") {
    process.kill(redis.pid, "SIGSTOP");
    await Bun.sleep(OUTAGE_MS);
    process.kill(redis.pid, "SIGCONT");
  } else {
    const down = Date.now();
    await Bun.spawn(["redis-cli", "-p", String(redisPort), "SHUTDOWN", "SAVE"], { stdout: "ignore", stderr: "ignore" }).exited;
    await redis.exited;
    await Bun.sleep(Math.max(0, OUTAGE_MS - (Date.now() - down)));
    redis = await startRedisServer({ binary, port: redisPort, dir });
  }
  log("Redis reachable again");
  outage = { from, to: Date.now() };
  faults.push("outage");
}
const lastFault = Date.now();

// --- the audit -------------------------------------------------------------------------------------------------------
await starting;
const statuses = new Map<string, ExecutionView>();
while (Date.now() - lastFault < WAIT_MS) {
  await Promise.all(
    ids.filter((id) => !TERMINAL.has(statuses.get(id)?.status ?? "")).map(async (id) => {
      const exec = await getJson<ExecutionView>(`/executions/${id}`);
      if (exec) statuses.set(id, exec);
    }),
  );
  const open = ids.filter((id) => !TERMINAL.has(statuses.get(id)?.status ?? ""));
  if (open.length === 0) break;
  await Bun.sleep(1000);
}
answering = false;
await answerer;

interface EntryView {
  stepId: string;
  action: string;
  attempt: number;
}
const twice: string[] = [];
for (const id of ids) {
  const entries = (await getJson<{ entries: EntryView[] }>(`/executions/${id}/entries`))?.entries ?? [];
  const seen = new Set<string>();
  for (const entry of entries) {
    if (entry.stepId.includes(":")) continue; // a loop body: its entries carry no iteration index
    const key = entry.action === "completed"
      ? `${entry.stepId} completed`
      : entry.action === "failed"
      ? `${entry.stepId} failed attempt ${entry.attempt}`
      : undefined;
    if (!key) continue;
    if (seen.has(key)) twice.push(`${id}: ${key} twice`);
    seen.add(key);
  }
}

const count = (status: string) => ids.filter((id) => statuses.get(id)?.status === status).length;
const stranded = ids.filter((id) => !TERMINAL.has(statuses.get(id)?.status ?? ""));
const finished = ids.map((id) => statuses.get(id)).filter((e): e is ExecutionView => !!e && TERMINAL.has(e.status));
const lastFinish = Math.max(...finished.map((e) => Date.parse(e.updatedAt)));
const stats = qstash.dev.stats();

console.log("");
console.log(
  `chaos: ${RUNS} async order_fulfillment runs (${needsApproval.size} halt for approval; ${answered.size} answers accepted), ${KILLS} app SIGKILLs, Redis ${MODE} ${
    OUTAGE_MS / 1000
  } s; lease ${LEASE_S} s`,
);
console.log(`  completed                 ${count("completed")}`);
console.log(`  failed                    ${count("failed")}`);
console.log(
  `  stranded (not terminal)   ${stranded.length}${
    stranded.length
      ? `  e.g. ${
        stranded.slice(0, 5).map((id) => `${id} ${statuses.get(id)?.status ?? "unknown"} at ${statuses.get(id)?.currentStep}`).join(", ")
      }`
      : ""
  }`,
);
console.log(`  step entries twice        ${twice.length}${twice.length ? `  e.g. ${twice.slice(0, 5).join("; ")}` : ""}`);
console.log(
  `  last finish after last fault  ${finished.length ? `${((lastFinish - lastFault) / 1000).toFixed(1)} s` : "—"} (target ≤ ${
    LEASE_S + 60
  } s)`,
);
console.log(`  qstash-dev                ${JSON.stringify(stats)}`);
if (outage) {
  // The outage and the 10 s after it (the recovery line comes with the first answer of the store).
  const during = appLines.filter((line) => line.at >= outage!.from && line.at <= outage!.to + 10_000);
  console.log(
    `  app log during the outage (+10 s)  ${during.length} lines, ${during.reduce((sum, line) => sum + line.bytes, 0)} bytes`,
  );
}
for (const id of ids.filter((id) => statuses.get(id)?.status === "failed").slice(0, 5)) {
  console.log(`  failed ${id}: ${statuses.get(id)?.error}`);
}
for (const id of stranded.slice(0, 3)) {
  console.log(`  ${id}: its QStash messages (attempts: seconds after the start, status or error)`);
  for (const message of qstash.messages().filter((m) => m.kind === "message" && m.body?.includes(`"${id}"`))) {
    const attempts = message.attempts.map((a) => `${((a.at - t0) / 1000).toFixed(1)} s ${a.status ?? a.error}`).join(", ");
    console.log(`    ${message.body}  ${message.state}: ${attempts}`);
  }
}
if (appErrors.length) console.log(`  app stderr (first 10 of ${appErrors.length}):\n    ${appErrors.slice(0, 10).join("\n    ")}`);

await stopEverything();
process.exit(0);
