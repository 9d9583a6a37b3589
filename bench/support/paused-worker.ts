/**
 * The paused-worker fault of bench/chaos.ts (`--fault pause`): two app instances (A and B, bench/support/counted-
 * app.ts) behind a small balancer that sends each request to a live one, both on one Redis (through the Upstash-REST
 * bridge) and one qstash-dev. RUNS async runs of a workflow of STEPS calls start; while they are in flight, A is
 * SIGSTOPped for PAUSE seconds (longer than the lease), so B takes A's runs over through the sweeper; then A is
 * woken (SIGCONT). Every call reports its start and end to a counter here, naming the instance.
 *
 * Report: side effects (calls started) per step, counted at the service. A step in flight on A at the fault (its
 * call started on A before the pause, its result not stored when the pause began) may be repeated once; every other
 * step must be called exactly once: target 1.00, and no step called more than once.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startQStashDev } from "durable-workflow-edge-dev/qstash";
import {
  BRIDGE_TOKEN,
  createSweepSchedule,
  freePort,
  REDIS_MISSING,
  redisBinary,
  stackEnv,
  startRedisServer,
  stopChild,
  waitHealthy,
} from "durable-workflow-edge-dev/stack";
import { startBridge } from "durable-workflow-edge-dev/bridge";
import { STEPS } from "./counted-app.ts";

interface Call {
  worker: string;
  start: number;
  end?: number;
}

export async function pausedWorkerChaos(options: { runs: number; leaseS: number; pauseS: number; waitS: number; verbose: boolean }) {
  const { runs, leaseS, pauseS } = options;
  const t0 = Date.now();
  const log = (line: string) => console.log(`[${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s] ${line}`);
  const binary = redisBinary();
  if (!binary) throw new Error(REDIS_MISSING);
  const dir = mkdtempSync(join(tmpdir(), "dw-pause-"));
  const redisPort = freePort();
  const redis = await startRedisServer({ binary, port: redisPort, dir });
  const bridge = startBridge({ port: 0, redisUrl: `redis://127.0.0.1:${redisPort}`, token: BRIDGE_TOKEN });
  const qstash = startQStashDev({ port: 0, retryDelayMs: 1000 });

  // The counter: every call's start and end, per execution and step.
  const calls = new Map<string, Call[]>();
  const counter = Bun.serve({
    port: 0,
    fetch: async (request) => {
      const { id, step, worker } = await request.json() as { id: string; step: string; worker: string };
      const key = `${id} ${step}`;
      const list = calls.get(key) ?? [];
      if (new URL(request.url).pathname === "/start") list.push({ worker, start: Date.now() });
      else {
        const open = list.find((call) => call.worker === worker && call.end === undefined);
        if (open) open.end = Date.now();
      }
      calls.set(key, list);
      return new Response("ok");
    },
  });

  // The balancer: round robin over the instances that are not paused. When one is paused, the requests it holds
  // are dropped (their callers see an error and retry), as a balancer drops an unhealthy backend's connections;
  // this also keeps them from filling this process's fetch slots (Bun allows 256 at once).
  const ports = { A: freePort(), B: freePort() };
  const paused = new Set<string>();
  const forwarding = { A: new Set<AbortController>(), B: new Set<AbortController>() };
  let turn = 0;
  const balancer = Bun.serve({
    port: 0,
    idleTimeout: 0,
    fetch: async (request) => {
      const live = (["A", "B"] as const).filter((name) => !paused.has(name));
      const name = live[turn++ % live.length]!;
      const url = new URL(request.url);
      const body = request.method === "GET" ? undefined : await request.arrayBuffer();
      const controller = new AbortController();
      forwarding[name].add(controller);
      try {
        return await fetch(`http://127.0.0.1:${ports[name]}${url.pathname}${url.search}`, {
          method: request.method,
          headers: request.headers,
          body,
          signal: controller.signal,
        });
      } catch {
        return new Response("backend unavailable", { status: 502 });
      } finally {
        forwarding[name].delete(controller);
      }
    },
  });
  const base = `http://127.0.0.1:${balancer.port}`;
  await createSweepSchedule(qstash.url, base);

  const apps: Record<string, Bun.Subprocess> = {};
  for (const name of ["A", "B"] as const) {
    const proc = Bun.spawn([process.execPath, join(import.meta.dir, "counted-app.ts")], {
      env: {
        ...process.env,
        ...stackEnv(bridge.url, qstash.url, base),
        PORT: String(ports[name]),
        WORKER: name,
        COUNTER_URL: `http://127.0.0.1:${counter.port}`,
        DW_LEASE_SECONDS: String(leaseS),
        DW_SWEEP_SECONDS: "2",
      },
      stdout: options.verbose ? "inherit" : "ignore",
      stderr: options.verbose ? "inherit" : "ignore",
    });
    apps[name] = proc;
    if (!(await waitHealthy(`http://127.0.0.1:${ports[name]}`, () => proc.exitCode === null))) {
      throw new Error(`instance ${name} did not answer /health`);
    }
  }
  log(`stack up: redis :${redisPort}, qstash ${qstash.url}, balancer ${base} → A :${ports.A}, B :${ports.B} (lease ${leaseS} s)`);

  const ids = Array.from({ length: runs }, (_, i) => `pause-${String(i).padStart(4, "0")}`);
  const starts = (async () => {
    for (const [i, id] of ids.entries()) {
      void (async () => {
        // Repeated until accepted, as a client does when its request was dropped.
        for (let attempt = 0; attempt < 100; attempt++) {
          const response = await fetch(`${base}/workflows/counted/executions`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ executionId: id, input: {} }),
          }).catch(() => undefined);
          await response?.arrayBuffer();
          if (response?.status === 202) return;
          await Bun.sleep(200);
        }
      })();
      if (i % 20 === 19) await Bun.sleep(100);
    }
  })();
  await Bun.sleep(1500);
  paused.add("A");
  process.kill(apps.A!.pid, "SIGSTOP");
  for (const controller of forwarding.A) controller.abort();
  const pausedAt = Date.now();
  log(`fault: instance A SIGSTOPped for ${pauseS} s (lease ${leaseS} s); B takes its runs over through the sweeper`);
  // What was stored at the fault (A's runs stay as A left them until its lease expires): a step at or after its
  // run's stored position whose call A had started is one in flight at the fault.
  await Bun.sleep(200);
  const storedAt = new Map<string, number>();
  const position = async (id: string) => {
    for (let attempt = 0; attempt < 5; attempt++) {
      const response = await fetch(`http://127.0.0.1:${ports.B}/executions/${id}`, { signal: AbortSignal.timeout(2000) })
        .catch(() => undefined);
      if (response?.status === 404) return 1;
      if (!response?.ok) continue;
      const exec = (await response.json()) as { status: string; recoverTo: string | null };
      return exec.status === "completed" ? STEPS + 1 : Number(exec.recoverTo?.match(/^s(\d+)$/)?.[1] ?? 1);
    }
    throw new Error(`the stored position of ${id} could not be read`);
  };
  for (let i = 0; i < ids.length; i += 50) {
    const batch = ids.slice(i, i + 50);
    (await Promise.all(batch.map(position))).forEach((at, j) => storedAt.set(batch[j]!, at));
  }
  log(`stored positions read ${Date.now() - pausedAt} ms after the fault`);
  await Bun.sleep(Math.max(0, pauseS * 1000 - (Date.now() - pausedAt)));
  process.kill(apps.A!.pid, "SIGCONT");
  paused.delete("A");
  log("instance A woken (SIGCONT)");
  await starts;

  const statusOf = async (id: string) => {
    const response = await fetch(`http://127.0.0.1:${ports.B}/executions/${id}`, { signal: AbortSignal.timeout(5000) }).catch((e) =>
      String(e)
    );
    if (typeof response === "string" || !response.ok) {
      return `unknown (${typeof response === "string" ? response : `${response.status} ${await response.text()}`})`;
    }
    return ((await response.json()) as { status: string }).status;
  };
  const deadline = Date.now() + options.waitS * 1000;
  let open = ids;
  while (open.length && Date.now() < deadline) {
    const statuses = await Promise.all(open.map(statusOf));
    open = open.filter((_, i) => !["completed", "failed", "cancelled"].includes(statuses[i]!));
    if (open.length) {
      if (options.verbose) {
        const health = async (port: number) =>
          await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(2000) }).then((r) => r.status, (e) => String(e));
        log(`${open.length} runs not finished yet, e.g. ${open[0]} ${statuses.find((s) => s !== "completed")}; health A ${await health(
          ports.A,
        )} B ${await health(ports.B)} via balancer ${await health(balancer.port!)}`);
      }
      await Bun.sleep(1000);
    }
  }
  // Let a woken worker finish whatever it would still do.
  await Bun.sleep(3000);

  let counted = 0;
  let effects = 0;
  let inFlight = 0;
  let inFlightRepeats = 0;
  const twice: string[] = [];
  const perStep = Array.from({ length: STEPS }, () => ({ steps: 0, effects: 0 }));
  for (const id of ids) {
    for (let s = 1; s <= STEPS; s++) {
      const list = calls.get(`${id} s${s}`) ?? [];
      const flying = s >= storedAt.get(id)! && list.some((call) => call.worker === "A" && call.start < pausedAt);
      if (flying) {
        inFlight += 1;
        if (list.length > 1) inFlightRepeats += 1;
        continue;
      }
      if (!list.length) continue;
      counted += 1;
      effects += list.length;
      perStep[s - 1]!.steps += 1;
      perStep[s - 1]!.effects += list.length;
      if (list.length > 1) twice.push(`${id} s${s}: ${list.map((call) => call.worker).join(", ")}`);
    }
  }
  console.log("");
  console.log(`chaos (paused worker): ${runs} async runs of ${STEPS} calls, instance A SIGSTOPped ${pauseS} s with a ${leaseS} s lease`);
  console.log(`  stranded (not terminal)            ${open.length}`);
  console.log(
    `  side effects per step (not in flight at the fault)  ${
      (effects / Math.max(1, counted)).toFixed(3)
    } (target 1.00) over ${counted} steps`,
  );
  console.log(`    by step   ${perStep.map((p, i) => `s${i + 1} ${(p.effects / Math.max(1, p.steps)).toFixed(3)}`).join("  ")}`);
  console.log(`  steps called more than once        ${twice.length}${twice.length ? `  e.g. ${twice.slice(0, 5).join("; ")}` : ""}`);
  console.log(`  steps in flight on A at the fault  ${inFlight} (repeated after it: ${inFlightRepeats}; allowed)`);

  for (const proc of Object.values(apps)) await stopChild(proc);
  await stopChild(redis);
  balancer.stop(true);
  counter.stop(true);
  await bridge.stop();
  await qstash.stop();
  rmSync(dir, { recursive: true, force: true });
}
