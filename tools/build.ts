/**
 * Builds the npm package into dist/ (`npm run build`, also run by `npm pack` through `prepack`):
 *
 *   dist/mod.js, dist/hono.js   the entries "durable-workflow-edge" and "durable-workflow-edge/hono"
 *   dist/testing.js             "durable-workflow-edge/testing" (testWorkflow: fake services, a fake clock)
 *   dist/client.js              "durable-workflow-edge/client" (the typed HTTP client, Web fetch only)
 *   dist/queue.js               "durable-workflow-edge/queue" (performJob and friends, for a queue adapter of your own)
 *   dist/cli.js                 the `durable-workflow` command
 *   dist/chunks/                code the entries share
 *   dist/types/                 declarations (tsc), with `.js` import paths
 *
 * ESM for Node >= 20, Bun, Deno and bundlers; dependencies stay imports. Files imported as text
 * (`with { type: "text" }`: YAML, the dashboard's stylesheet) are inlined as strings, since Node
 * cannot import them.
 */
import { spawnSync } from "node:child_process";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import * as esbuild from "esbuild";

const ROOT = resolve(import.meta.dirname, "..");
const DIST = join(ROOT, "dist");

const inlineTextImports: esbuild.Plugin = {
  name: "inline-text-imports",
  setup(build) {
    build.onResolve(
      { filter: /.*/ },
      (args) => args.with?.type === "text" ? { path: resolve(args.resolveDir, args.path), namespace: "text" } : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: "text" }, async (args) => ({ contents: await readFile(args.path, "utf8"), loader: "text" }));
  },
};

async function bundle(): Promise<void> {
  await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: {
      mod: "src/mod.ts",
      hono: "hono.ts",
      testing: "src/testing.ts",
      queue: "src/queue.ts",
      client: "client.ts",
      cli: "cli/main.ts",
    },
    outdir: DIST,
    chunkNames: "chunks/[name]-[hash]",
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "es2022",
    packages: "external",
    plugins: [inlineTextImports],
    logLevel: "warning",
  });
}

/** `.d.ts` files name their imports as the sources do (`./x.ts`); consumers resolve `./x.js` everywhere. */
async function declarations(): Promise<void> {
  const tsc = spawnSync(process.execPath, [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", join(ROOT, "tsconfig.build.json")], {
    stdio: "inherit",
  });
  if (tsc.status !== 0) throw new Error("tsc failed to emit the declarations");
  for (const entry of await readdir(join(DIST, "types"), { recursive: true })) {
    if (!entry.endsWith(".d.ts")) continue;
    const file = join(DIST, "types", entry);
    const text = await readFile(file, "utf8");
    await writeFile(file, text.replace(/((?:from|import)\s*\(?\s*["']\.\.?\/[^"']*?)\.ts(["'])/g, "$1.js$2"));
  }
}

await rm(DIST, { recursive: true, force: true });
await bundle();
await declarations();
console.log("built dist/ (mod.js, hono.js, testing.js, client.js, queue.js, cli.js, types/)");
