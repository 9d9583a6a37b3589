// deno-lint-ignore-file no-explicit-any -- answers of the guide's commands are untyped JSON
/**
 * docs/getting-started.md is run as written: its marked fenced blocks are written into a fresh project
 * (```lang file=PATH) and its commands are run there, in order (```sh run: each line; ```sh server port=N:
 * the first line serves, the others are requests against it; ```sh dev port=N: the first line starts
 * `durable-workflow dev`, then an async start and the request that shows it completed). Two install lines are
 * done the offline way: the package comes from the packed tarball, and the dev tools are linked from this
 * repository.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync } from "node:fs";
import { Miniflare } from "miniflare";
import { join } from "node:path";
import { connect, createServer } from "node:net";
import { alive } from "../support/deploy.ts";
import { PACKAGE_TIMEOUT, ROOT, sh, tarball, tempDir, writeFiles } from "../support/package.ts";
import { redisServerAvailable } from "../support/redis.ts";

interface Block {
  lang: string;
  attrs: Record<string, string | true>;
  text: string;
}

function blocksOf(markdown: string): Block[] {
  return [...markdown.matchAll(/^```(\w+)([^\n]*)\n([\s\S]*?)^```$/gm)].map(([, lang, info, text]) => ({
    lang: lang!,
    attrs: Object.fromEntries(
      info!.trim().split(/\s+/).filter(Boolean).map((word) => {
        const [key, value] = word.split("=");
        return [key!, value ?? true];
      }),
    ),
    text: text!,
  }));
}

const DOC = readFileSync(join(ROOT, "docs/getting-started.md"), "utf8");
const blocks = blocksOf(DOC);
const files = Object.fromEntries(blocks.filter((b) => typeof b.attrs.file === "string").map((b) => [b.attrs.file as string, b.text]));
const commandsOf = (block: Block) => block.text.split("\n").filter((line) => line.trim() && !line.startsWith("#"));
const ENV = { DENO_TLS_CA_STORE: "system" };
const DEV_TOOLS = ["bun", "deno", "wrangler", "typescript", "durable-workflow-edge-dev", "@opentelemetry/sdk-trace-base"];
/** An execution still on its way (`GET /executions/:id` is asked again until it is not). */
const UNDER_WAY = ["pending", "running", "halted"];
/** The bound of a run that waits and times out (3 s + 3 s): a failure bound, not a timing assertion. */
const RUN_BOUND_MS = 60_000;
const project = tempDir("dw-guide-");
const servers: { kill(): void }[] = [];

afterAll(() => {
  for (const server of servers) server.kill();
});

/** Links the repository's copy of a dev tool (and its commands) into the project, as `npm install -D` would install it. */
function linkTool(name: string): void {
  mkdirSync(join(project, "node_modules/.bin"), { recursive: true });
  if (!existsSync(join(project, "node_modules", name))) symlinkSync(join(ROOT, "node_modules", name), join(project, "node_modules", name));
  const { bin } = JSON.parse(readFileSync(join(ROOT, "node_modules", name, "package.json"), "utf8")) as {
    bin?: string | Record<string, string>;
  };
  for (const command of typeof bin === "object" ? Object.keys(bin) : [name]) {
    if (existsSync(join(ROOT, "node_modules/.bin", command)) && !existsSync(join(project, "node_modules/.bin", command))) {
      symlinkSync(join(ROOT, "node_modules/.bin", command), join(project, "node_modules/.bin", command));
    }
  }
}

async function runLine(line: string): Promise<string> {
  if (line.startsWith("npm install -D ")) {
    const tools = line.slice("npm install -D ".length).split(/\s+/).map((spec) => spec.replace(/@[\d.]+$/, ""));
    expect(tools.every((tool) => DEV_TOOLS.includes(tool))).toBe(true);
    tools.forEach(linkTool);
    return "";
  }
  const command = line.startsWith("npm install ") ? line.replace(" durable-workflow-edge", ` ${await tarball()}`) : line;
  return await sh(["sh", "-c", command], project, ENV);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on("error", reject);
  });
}

/** Whether something accepts connections on this loopback port. */
function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, "127.0.0.1");
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("error", () => resolve(false));
  });
}

/** Starts a block's first line on a free port (its `port=N` replaced in every line); the rest are requests. */
async function start(block: Block) {
  const port = await freePort();
  const [first, ...requests] = commandsOf(block).map((line) => line.replaceAll(String(block.attrs.port), String(port)));
  // Variables set on the line (`NAME=value npx …`) go to the command; exec, so killing it stops the server.
  const command = first!.replace(/^((?:\w+=\S+ )*)npx (\S+)/, "exec env $1node_modules/.bin/$2");
  const proc = Bun.spawn(["sh", "-c", command], {
    cwd: project,
    stdout: "pipe",
    stderr: "pipe",
    env: { ...process.env, ...ENV, PORT: String(port) },
  });
  servers.push(proc);
  return { port, first: first!, requests, proc };
}

async function serve(block: Block): Promise<string[]> {
  const { port, first, requests, proc: server } = await start(block);
  try {
    for (let tries = 0;; tries++) {
      const up = await fetch(`http://localhost:${port}/health`).then((r) => r.ok, () => false);
      if (up) break;
      if (tries > 300 || server.exitCode !== null) throw new Error(`${first} did not serve: ${await new Response(server.stderr).text()}`);
      await Bun.sleep(100);
    }
    const outputs: string[] = [];
    for (const request of requests) outputs.push(JSON.stringify(await answerOf(request)));
    return outputs;
  } finally {
    server.kill();
  }
}

/** Runs `line` until `done(its JSON answer)`, for at most `ms`; the last answer. */
async function pollLine(line: string, done: (answer: any) => boolean, ms: number): Promise<any> {
  const deadline = Date.now() + ms;
  for (;;) {
    const answer = JSON.parse(await runLine(line));
    if (done(answer) || Date.now() > deadline) return answer;
    await Bun.sleep(50);
  }
}

/** A `GET /executions/:id` line: the guide shows the run once it is over. */
const isExecutionGet = (line: string) => !line.includes("-X POST") && /\/executions\/[^/\s]+$/.test(line.trim());
/** A POST that starts a run async (the default mode): answered `pending` at once. */
const isAsyncStart = (line: string) => line.includes("-X POST") && !line.includes('"mode":"sync"');

/** A request line's JSON answer (a command other than curl prints JSON too); an execution's is asked again until the run is over (at most RUN_BOUND_MS). */
async function answerOf(line: string): Promise<any> {
  if (!isExecutionGet(line)) return JSON.parse(await runLine(line));
  return await pollLine(line, (answer) => !UNDER_WAY.includes(answer.status), RUN_BOUND_MS);
}

/** What the guide says each request answers: an async start is pending, everything else completed. */
function expectAnswered(line: string, answer: any): void {
  expect({ line, status: answer.status }).toEqual({ line, status: isAsyncStart(line) ? "pending" : "completed" });
}

/**
 * Starts `durable-workflow dev`, waits for its `ready:` line, sends the async start and repeats the request
 * after it until the run is over; then SIGINT, as Ctrl-C would, and every process and port it opened is gone.
 */
async function runDevStack(block: Block): Promise<void> {
  const { port, first, requests, proc: dev } = await start(block);
  let output = "";
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    const reader = stream.getReader();
    for (let read = await reader.read(); !read.done; read = await reader.read()) output += decoder.decode(read.value, { stream: true });
  };
  const drained = Promise.all([collect(dev.stdout), collect(dev.stderr)]);
  const deadline = Date.now() + 60_000;
  while (!output.includes("ready: ")) {
    if (dev.exitCode !== null || Date.now() > deadline) throw new Error(`${first} did not get ready:\n${output}`);
    await Bun.sleep(50);
  }

  const answers: any[] = [];
  for (const request of requests) {
    const answer = await answerOf(request);
    expectAnswered(request, answer);
    answers.push(answer);
  }
  expect(answers[1]).toMatchObject({ id: "order-A-2", result: { status: "paid", payment: "PAY-A-2" } });
  expect(answers[3]).toMatchObject({ id: "reminder-dev", result: { status: "lapsed" } });
  expect(output).toMatch(/QStash sweep schedule dw-sweep-[0-9a-f]{16} created/);
  expect(output).toMatch(new RegExp(`\\[qstash\\] deliver \\S+ → POST http://127\\.0\\.0\\.1:${port}/qstash .*: 200`));

  const pids = [...output.matchAll(/\(pid (\d+)/g)].map((m) => Number(m[1]));
  const ports = [port, ...[...output.matchAll(/(?:redis|http):\/\/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]))];
  expect(pids).toHaveLength(2); // redis-server and the app
  expect(new Set(ports).size).toBe(4); // the app, redis-server, the Upstash REST bridge, the local QStash
  process.kill(dev.pid, "SIGINT");
  expect(await Promise.race([dev.exited, Bun.sleep(20_000).then(() => "still running")])).toBe(0);
  await drained;
  expect(pids.filter(alive)).toEqual([]);
  expect((await Promise.all(ports.map(listening))).some(Boolean)).toBe(false);
}

test("every fenced block of the guide is marked: a file, commands to run, a server, or the dev stack", () => {
  const unmarked = blocks.filter((b) => !(b.attrs.file || b.attrs.run || b.attrs.server || b.attrs.dev));
  expect(unmarked.map((b) => b.text.split("\n")[0])).toEqual([]);
});

describe("docs/getting-started.md, run in a new project", () => {
  test("the files are written", () => {
    writeFiles(project, files);
    expect(Object.keys(files)).toContain("server.ts");
  });

  for (const block of blocks.filter((b) => b.attrs.run || b.attrs.server || b.attrs.dev)) {
    const first = commandsOf(block)[0]!;
    if (block.attrs.dev) {
      test.skipIf(!redisServerAvailable())(`${first} runs an async start through QStash, and Ctrl-C stops every part of it`, async () => {
        await runDevStack(block);
      }, PACKAGE_TIMEOUT);
    } else if (block.attrs.server && first.includes("shipping-server.ts")) {
      test(`${first}: an event wakes the run it matches, an http step books, a later failure cancels the booking`, async () => {
        const [started, flow, event, shipped, startedAQ, eventAQ, failed, booking, digest] = (await serve(block)).map((output) =>
          JSON.parse(output)
        );
        expect([started, startedAQ]).toEqual([{ executionId: "ship-A-7", status: "halted" }, {
          executionId: "ship-A-8",
          status: "halted",
        }]);
        expect(flow).toMatchObject({
          concurrency: { limit: 1, key: "$input.order_id" },
          keys: [{ kind: "concurrency", key: "A-7", limit: 1, holders: [], waiting: 0 }],
        });
        expect(event).toMatchObject({ id: "pay-A-7", delivered: 1, duplicate: false });
        expect(shipped).toMatchObject({ status: "completed", result: { status: "shipped", shipment: "SHP-A-7", carrier: "PostNord" } });
        expect(eventAQ).toMatchObject({ id: "pay-A-8", delivered: 1 });
        expect(failed).toMatchObject({ status: "failed", compensated: true });
        expect(booking).toEqual({ id: "SHP-A-8", cancelled: true });
        const [next] = digest.nextStarts;
        expect(next).toMatchObject({ cron: "0 9 * * mon", timezone: "Europe/Paris" });
        // 9:00 in Paris is 07:00 or 08:00 UTC, on a Monday.
        expect([new Date(next.next).getUTCDay(), [7, 8].includes(new Date(next.next).getUTCHours())]).toEqual([1, true]);
      }, PACKAGE_TIMEOUT);
    } else if (block.attrs.server) {
      test(`${first} serves, and the requests succeed (a waiting run ends by itself)`, async () => {
        const requests = commandsOf(block).slice(1);
        const outputs = await serve(block);
        requests.forEach((line, i) => expectAnswered(line, JSON.parse(outputs[i]!)));
        const reminder = outputs.map((output) => JSON.parse(output)).find((answer) => answer.workflowId === "reminder");
        if (reminder) expect(reminder.result).toEqual({ status: "lapsed" });
      }, PACKAGE_TIMEOUT);
    } else {
      test(first, async () => {
        const outputs: string[] = [];
        for (const line of commandsOf(block)) outputs.push(await runLine(line));
        if (first.includes("trace.ts")) {
          const spans = outputs[0]!.trim().split("\n").map((line) => line.split(" "));
          expect(spans.map(([kind, name]) => `${kind} ${name}`)).toEqual(
            ["workflow.start order", "step check", "step charge", "step notify", "step done", "workflow.run order"],
          );
          expect(new Set(spans.map((span) => span[2])).size).toBe(1);
        }
        if (first.includes("wrangler deploy")) expect(existsSync(join(project, "dist/worker.js"))).toBe(true);
      }, PACKAGE_TIMEOUT);
    }
  }

  test("the guide's worker, in workerd, ends a 3 s wait and an approval timeout from its Cron Trigger alone", async () => {
    expect(files["wrangler.toml"]).toContain('crons = ["* * * * *"]');
    const dist = join(project, "dist");
    const mf = new Miniflare({
      modulesRoot: dist,
      modules: ["worker.js", ...readdirSync(dist).filter((file) => file.endsWith(".yaml"))].map((file) => ({
        type: file === "worker.js" ? ("ESModule" as const) : ("Text" as const),
        path: join(dist, file),
        contents: readFileSync(join(dist, file), "utf8"),
      })),
      compatibilityDate: files["wrangler.toml"]!.match(/^compatibility_date = "([^"]+)"/m)![1]!,
      cf: false,
    });
    try {
      const started = await mf.dispatchFetch("http://orders.example/workflows/reminder/executions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ executionId: "reminder-worker", input: {} }),
      });
      expect(await started.json()).toEqual({ executionId: "reminder-worker", status: "pending" });
      // Miniflare's Fetcher type lacks scheduled(), which workerd's service bindings have.
      const worker = (await mf.getWorker()) as unknown as { scheduled(options: { cron: string }): Promise<{ outcome: string }> };
      // Cloudflare fires the Cron Trigger once a minute; here it is fired every 250 ms until the run is over (bounded).
      const deadline = Date.now() + RUN_BOUND_MS;
      let execution: any;
      do {
        await Bun.sleep(250);
        expect((await worker.scheduled({ cron: "* * * * *" })).outcome).toBe("ok");
        execution = await (await mf.dispatchFetch("http://orders.example/executions/reminder-worker")).json();
      } while (UNDER_WAY.includes(execution.status) && Date.now() < deadline);
      expect(execution).toMatchObject({ status: "completed", result: { status: "lapsed" } });
    } finally {
      await mf.dispose();
    }
  }, PACKAGE_TIMEOUT);

  test("the CI workflow runs the guide's commands", () => {
    const ci = files[".github/workflows/ci.yml"]!;
    const steps = [...ci.matchAll(/- run: (.+)$/gm)].map((m) => m[1]!);
    const run = blocks.filter((b) => b.attrs.run).flatMap(commandsOf);
    expect(steps.filter((step) => step !== "npm ci" && !run.includes(step))).toEqual([]);
  });
});
