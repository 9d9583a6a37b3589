/**
 * docs/getting-started.md is run as written: its marked fenced blocks are written into a fresh project
 * (```lang file=PATH) and its commands are run there, in order (```sh run: each line; ```sh server port=N:
 * the first line serves, the others are requests against it). Two install lines are done the offline way:
 * the package comes from the packed tarball, and the dev tools are linked from this repository.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readFileSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { createServer } from "node:net";
import { PACKAGE_TIMEOUT, ROOT, sh, tarball, tempDir, writeFiles } from "./support/package.ts";

interface Block {
  lang: string;
  attrs: Record<string, string | true>;
  text: string;
}

function blocksOf(markdown: string): Block[] {
  return [...markdown.matchAll(/^```(\w+)([^\n]*)\n([\s\S]*?)^```$/gm)].map(([, lang, info, text]) => ({
    lang: lang!,
    attrs: Object.fromEntries(info!.trim().split(/\s+/).filter(Boolean).map((word) => {
      const [key, value] = word.split("=");
      return [key!, value ?? true];
    })),
    text: text!,
  }));
}

const DOC = readFileSync(join(ROOT, "docs/getting-started.md"), "utf8");
const blocks = blocksOf(DOC);
const files = Object.fromEntries(blocks.filter((b) => typeof b.attrs.file === "string").map((b) => [b.attrs.file as string, b.text]));
const commandsOf = (block: Block) => block.text.split("\n").filter((line) => line.trim() && !line.startsWith("#"));
const ENV = { DENO_TLS_CA_STORE: "system" };
const DEV_TOOLS = ["bun", "deno", "wrangler"];
const project = tempDir("dw-guide-");
const servers: { kill(): void }[] = [];

afterAll(() => {
  for (const server of servers) server.kill();
});

/** Links the repository's copy of a dev tool into the project, as `npm install -D` would install it. */
function linkTool(name: string): void {
  mkdirSync(join(project, "node_modules/.bin"), { recursive: true });
  if (!existsSync(join(project, "node_modules", name))) symlinkSync(join(ROOT, "node_modules", name), join(project, "node_modules", name));
  if (!existsSync(join(project, "node_modules/.bin", name))) symlinkSync(join(ROOT, "node_modules/.bin", name), join(project, "node_modules/.bin", name));
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

async function serve(block: Block): Promise<string[]> {
  const port = await freePort();
  const [start, ...requests] = commandsOf(block).map((line) => line.replaceAll(String(block.attrs.port), String(port)));
  const command = start!.replace(/^npx (\S+)/, "exec node_modules/.bin/$1");
  const server = Bun.spawn(["sh", "-c", command], { cwd: project, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...ENV, PORT: String(port) } });
  servers.push(server);
  try {
    for (let tries = 0; ; tries++) {
      const up = await fetch(`http://localhost:${port}/health`).then((r) => r.ok, () => false);
      if (up) break;
      if (tries > 300 || server.exitCode !== null) throw new Error(`${start} did not serve: ${await new Response(server.stderr).text()}`);
      await Bun.sleep(100);
    }
    const outputs: string[] = [];
    for (const request of requests) outputs.push(await runLine(request));
    return outputs;
  } finally {
    server.kill();
  }
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

  for (const block of blocks.filter((b) => b.attrs.run || b.attrs.server)) {
    const first = commandsOf(block)[0]!;
    if (block.attrs.server) {
      test(`${first} serves, and the requests succeed`, async () => {
        for (const output of await serve(block)) expect(JSON.parse(output).status).toBe("completed");
      }, PACKAGE_TIMEOUT);
    } else {
      test(first, async () => {
        for (const line of commandsOf(block)) await runLine(line);
        if (first.includes("wrangler deploy")) expect(existsSync(join(project, "dist/worker.js"))).toBe(true);
      }, PACKAGE_TIMEOUT);
    }
  }

  const devBlock = blocks.find((b) => b.attrs.dev)!;
  const devMerged = existsSync(join(ROOT, "cli/dev.ts"));
  test.skipIf(!devMerged)(`${commandsOf(devBlock)[0]} is a command of the CLI`, async () => {
    await runLine(`${commandsOf(devBlock)[0]!.split(" --")[0]} --help`);
  }, PACKAGE_TIMEOUT);

  test("the CI workflow runs the guide's commands", () => {
    const ci = files[".github/workflows/ci.yml"]!;
    const steps = [...ci.matchAll(/- run: (.+)$/gm)].map((m) => m[1]!);
    const run = blocks.filter((b) => b.attrs.run).flatMap(commandsOf);
    expect(steps.filter((step) => step !== "npm ci" && !run.includes(step))).toEqual([]);
  });
});
