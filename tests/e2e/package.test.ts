/**
 * The npm package as a user gets it (tests/support/package.ts: packed, installed into a fresh project outside
 * the repository), used from Node, Bun, TypeScript and wrangler. Slow (a build and an install): one setup, shared.
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { installedProject, PACKAGE_TIMEOUT as TIMEOUT, ROOT, sh, tarball } from "../support/package.ts";

const HELLO = `id: hello
name: Hello
version: "1"
inputs:
  name: { type: string }
steps:
  - id: greet
    type: assign
    set: { message: "Hello, $input.name!" }
    next: done
  - id: done
    type: end
    result: { message: $message }
`;

const FILES: Record<string, string> = {
  "package.json": JSON.stringify({ name: "consumer", private: true, type: "module" }),
  "hello.yaml": HELLO,
  "run.mjs": `import { readFileSync } from "node:fs";
import { loadWorkflow, MemoryStore, SyncRunner } from "durable-workflow-edge";
const workflow = loadWorkflow(readFileSync(new URL("./hello.yaml", import.meta.url), "utf8"));
const result = await new SyncRunner(workflow, { store: new MemoryStore() }).run({ name: "Ada" });
console.log(JSON.stringify(result.output));
`,
  "app.mjs": `import { loadWorkflow, MemoryStore } from "durable-workflow-edge";
import { createApp } from "durable-workflow-edge/hono";
const workflow = loadWorkflow({ id: "hi", name: "Hi", version: "1", steps: [{ id: "done", type: "end", result: { message: "hi" } }] });
export const app = createApp({ store: new MemoryStore(), workflows: [workflow] });
`,
  "testing.mjs": `import { loadWorkflow } from "durable-workflow-edge";
import { testWorkflow } from "durable-workflow-edge/testing";
const workflow = loadWorkflow("id: t\\nname: T\\nsteps:\\n  - { id: c, type: call, service: Svc, method: m, output: r }\\n");
const { result, calls } = await testWorkflow(workflow, { services: { Svc: { m: { ok: true } } } });
console.log(JSON.stringify([result.status, calls.length]));
`,
  "client.mjs": `import { app } from "./app.mjs";
import { createClient } from "durable-workflow-edge/client";
const client = createClient({ baseUrl: "http://app.test", fetch: (url, init) => app.fetch(new Request(url, init)) });
const result = await client.start("hi", { mode: "sync" });
console.log(result.status, JSON.stringify(result.output));
`,
  "request.mjs": `import { app } from "./app.mjs";
const response = await app.request("/workflows/hi/executions", {
  method: "POST",
  headers: { "content-type": "application/json" },
  body: JSON.stringify({ mode: "sync", input: {} }),
});
console.log(response.status, JSON.stringify((await response.json()).output));
`,
  "worker.js": `import { app } from "./app.mjs";
export default { fetch: (request) => app.fetch(request) };
`,
  "tsconfig.json": JSON.stringify({
    compilerOptions: {
      noEmit: true,
      strict: true,
      module: "nodenext",
      moduleResolution: "nodenext",
      target: "es2022",
      lib: ["es2023", "dom"],
      types: [],
    },
    files: ["check.ts"],
  }),
  "ts/services.ts": `import type { Services } from "durable-workflow-edge";
import { shout } from "./shout.js";
export const services: Services = { Greeter: { hello: async (input: { name: string }) => ({ text: shout(input.name) }) } };
`,
  "ts/shout.ts": `export const shout = (text: string): string => \`\${text.toUpperCase()}!\`;\n`,
  "ts/durable-workflow.config.ts": `import { proceed, z } from "durable-workflow-edge";
import { services } from "./services.ts";
const schema = z.object({ from: z.string(), output: z.string() });
export default { services, stepTypes: { slugify: { schema, execute: () => proceed({ output: "a-slug" }) } } };
`,
  "ts/greet.yaml": `id: greet
name: Greet
steps:
  - { id: slug, type: slugify, from: ada, output: handle, next: hello }
  - { id: hello, type: call, service: Greeter, method: hello, input: { name: $handle }, output: said, next: done }
  - { id: done, type: end, result: $said }
`,
  "wrangler.toml": `name = "consumer"\nmain = "worker.js"\ncompatibility_date = "2026-04-20"\n`,
  "check.ts": `import { loadWorkflow, MemoryStore, SyncRunner, type ExecutionResult } from "durable-workflow-edge";
import { createApp, type AppOptions } from "durable-workflow-edge/hono";
import { testWorkflow, type ServiceCall } from "durable-workflow-edge/testing";
import { createClient, type ExecutionResult as ClientResult } from "durable-workflow-edge/client";
export const started: Promise<ClientResult> = createClient({ baseUrl: "http://x" }).start("x", { mode: "sync" });
import { jobBody, type JobOutcome, performJob } from "durable-workflow-edge/queue";
const workflow = loadWorkflow("id: x");
const options: AppOptions = { store: new MemoryStore(), workflows: [workflow] };
export const app = createApp(options);
export const result: Promise<ExecutionResult> = new SyncRunner(workflow, { store: options.store }).run({});
export const tested: Promise<ServiceCall[]> = testWorkflow(workflow, { services: { Svc: { m: 1 } } }).then((t) => t.calls);
const job = jobBody({ workflowId: "x", executionId: "e-1", action: "start" });
export const performed: Promise<JobOutcome> = performJob(job, { store: options.store, workflows: [workflow] });
// @ts-expect-error: the declarations are there, so steps is not any
export const wrong: number = workflow.steps;
`,
};

let installed: Promise<{ project: string; tarball: string }> | undefined;

/** The tarball installed into a new project (once for the whole file). */
function install(): Promise<{ project: string; tarball: string }> {
  installed ??= (async () => ({ project: await installedProject(FILES), tarball: await tarball() }))();
  return installed;
}

describe("the npm package", () => {
  test("the tarball holds the built entries, the declarations and package.json only", async () => {
    const { tarball } = await install();
    const files = (await sh(["tar", "-tzf", tarball], ROOT)).trim().split("\n").map((f) => f.replace(/^package\//, ""));
    expect(files).toContain("dist/mod.js");
    expect(files).toContain("dist/hono.js");
    expect(files).toContain("dist/testing.js");
    expect(files).toContain("dist/client.js");
    expect(files).toContain("dist/types/client.d.ts");
    expect(files).toContain("dist/cli.js");
    expect(files).toContain("dist/types/src/mod.d.ts");
    expect(files).toContain("dist/types/hono.d.ts");
    expect(files).toContain("dist/types/src/testing.d.ts");
    expect(files).toContain("dist/queue.js");
    expect(files).toContain("dist/types/src/queue.d.ts");
    expect(files.filter((f) => !/^dist\/(\w+\.js|chunks\/[\w-]+\.js|types\/.+\.d\.ts)$/.test(f)).sort()).toEqual([
      "LICENSE",
      "README.md",
      "package.json",
    ]);
  }, TIMEOUT);

  test("the package's runtime dependencies are the engine's: hono and zod are peers, no dev server and no jose", async () => {
    const { project } = await install();
    const manifest = JSON.parse(readFileSync(join(project, "node_modules/durable-workflow-edge/package.json"), "utf8"));
    expect(Object.keys(manifest.dependencies).sort()).toEqual([
      "@hono/zod-openapi",
      "@noble/hashes",
      "@opentelemetry/api",
      "@upstash/qstash",
      "@upstash/redis",
      "canonicalize",
      "yaml",
    ]);
    expect(Object.keys(manifest.peerDependencies).sort()).toEqual(["hono", "zod"]);
    const dist = join(project, "node_modules/durable-workflow-edge/dist");
    const bundled = readdirSync(dist, { recursive: true, encoding: "utf8" }).filter((file) => file.endsWith(".js"))
      .map((file) => readFileSync(join(dist, file), "utf8")).join("\n");
    const devServerCode = ["function startQStashDev", "function startBridge", 'from "jose"'].filter((text) => bundled.includes(text));
    expect(devServerCode).toEqual([]);
  }, TIMEOUT);

  test("the CLI's dev command names the package it needs when durable-workflow-edge-dev is not installed", async () => {
    const { project } = await install();
    const proc = Bun.spawn([process.execPath, "node_modules/.bin/durable-workflow", "dev"], {
      cwd: project,
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    expect(code).not.toBe(0);
    expect(stderr).toContain("npm install -D durable-workflow-edge-dev");
  }, TIMEOUT);

  test("runs a workflow from Node", async () => {
    const { project } = await install();
    expect(await sh(["node", "run.mjs"], project)).toBe('{"message":"Hello, Ada!"}\n');
  }, TIMEOUT);

  test("runs a workflow from Bun", async () => {
    const { project } = await install();
    expect(await sh([process.execPath, "run.mjs"], project)).toBe('{"message":"Hello, Ada!"}\n');
  }, TIMEOUT);

  test('"durable-workflow-edge/testing" runs a workflow with canned services from Node', async () => {
    const { project } = await install();
    expect(await sh(["node", "testing.mjs"], project)).toBe('["completed",1]\n');
  }, TIMEOUT);

  test('"durable-workflow-edge/hono" serves a request from Node', async () => {
    const { project } = await install();
    expect(await sh(["node", "request.mjs"], project)).toBe('200 {"message":"hi"}\n');
  }, TIMEOUT);

  test('"durable-workflow-edge/client" starts a run from Node', async () => {
    const { project } = await install();
    expect(await sh(["node", "client.mjs"], project)).toBe('completed {"message":"hi"}\n');
  }, TIMEOUT);

  test("the declarations type-check a consumer (Node's resolution, no skipLibCheck)", async () => {
    const { project } = await install();
    await sh(["node", join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.json"], project);
  }, TIMEOUT);

  test("the bin runs the CLI under Node", async () => {
    const { project } = await install();
    expect(await sh(["node", "node_modules/.bin/durable-workflow", "lint", "hello.yaml"], project)).toBe("1 file valid\n");
  }, TIMEOUT);

  // Before the next test links typescript into the project: here no stripper is at hand.
  test("the CLI under Node 20 without typescript says how to import a .ts module", async () => {
    const { project } = await install();
    if ((await sh(["node", "-p", "Boolean(process.features.typescript)"], project)).trim() === "true") return; // it imports .ts itself
    const run = Bun.spawn(["node", "../node_modules/.bin/durable-workflow", "lint", "greet.yaml"], {
      cwd: join(project, "ts"),
      stderr: "pipe",
    });
    expect(await run.exited).toBe(1);
    expect(await new Response(run.stderr).text()).toMatch(
      /^durable-workflow: --config durable-workflow\.config\.ts: Node [\d.]+ cannot import TypeScript by itself; add typescript to the project \(npm install -D typescript\)/,
    );
  }, TIMEOUT);

  test("the CLI under Node imports the project's .ts config and services (custom step types, services)", async () => {
    const { project } = await install();
    symlinkSync(join(ROOT, "node_modules/typescript"), join(project, "node_modules/typescript"));
    const cli = (...args: string[]) => sh(["node", "../node_modules/.bin/durable-workflow", ...args], join(project, "ts"));
    expect(await cli("lint", "greet.yaml")).toBe("1 file valid\n");
    const output = await cli("run", "greet.yaml", "--services", "services.ts");
    expect(output).toEndWith('{\n  "text": "A-SLUG!"\n}\n');
  }, TIMEOUT);

  test("wrangler bundles a worker importing the package, and it answers inside workerd", async () => {
    const { project } = await install();
    await sh(["node", join(ROOT, "node_modules/.bin/wrangler"), "deploy", "--dry-run", "--outdir", "out"], project);
    expect(readdirSync(join(project, "out"))).toContain("worker.js");
    const mf = new Miniflare({
      modulesRoot: join(project, "out"),
      modules: [{ type: "ESModule", path: join(project, "out/worker.js"), contents: readFileSync(join(project, "out/worker.js"), "utf8") }],
      compatibilityDate: "2026-04-20",
      cf: false,
    });
    try {
      const response = await mf.dispatchFetch("http://localhost/workflows/hi/executions", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ mode: "sync", input: {} }),
      });
      expect(response.status).toBe(200);
      expect(((await response.json()) as { output: unknown }).output).toEqual({ message: "hi" });
    } finally {
      await mf.dispose();
    }
  }, TIMEOUT);
});
