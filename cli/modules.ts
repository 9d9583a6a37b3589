/**
 * Imports a project module (services, config) that may be TypeScript. Bun, Deno and Node 22.18+ import `.ts`
 * themselves; on older Node (20.6+) a module hook strips the types with the `typescript` package the project
 * has (the one that type-checks it), else the one installed beside this CLI.
 */
import { createRequire, register } from "node:module";
import { extname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { CliError } from "./command.ts";

const TYPESCRIPT = /\.(ts|mts|tsx)$/;

/** Runs in Node's loader thread: `.ts` files are read and transpiled to JavaScript modules; `./x.js` may name `./x.ts`. */
const HOOKS = `
let ts;
export async function initialize({ typescript }) {
  ts = (await import(typescript)).default;
}
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    if (error?.code !== "ERR_MODULE_NOT_FOUND" || !/^\\.\\.?\\/.*\\.js$/.test(specifier)) throw error;
    return next(specifier.replace(/\\.js$/, ".ts"), context);
  }
}
export async function load(url, context, next) {
  if (!url.startsWith("file:") || !${TYPESCRIPT}.test(new URL(url).pathname)) return next(url, context);
  const { readFile } = await import("node:fs/promises");
  const text = await readFile(new URL(url), "utf8");
  const { outputText } = ts.transpileModule(text, {
    fileName: new URL(url).pathname,
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, jsx: ts.JsxEmit.ReactJSX, inlineSourceMap: true },
  });
  return { format: "module", source: outputText, shortCircuit: true };
}
`;

let hooked = false;

function nodeImportsTypeScript(): boolean {
  const runtime = process.versions as Record<string, string | undefined>;
  if (runtime.bun || runtime.deno) return true;
  return Boolean((process.features as { typescript?: unknown }).typescript);
}

/** The `typescript` package: the project's (resolved from the working directory), else one beside this CLI. */
function findTypeScript(): string | undefined {
  for (const from of [join(process.cwd(), "package.json"), import.meta.url]) {
    try {
      return pathToFileURL(createRequire(from).resolve("typescript")).href;
    } catch {
      // not there: try the next place
    }
  }
  return undefined;
}

function hookTypeScript(file: string, what: string): void {
  if (hooked || nodeImportsTypeScript()) return;
  const typescript = findTypeScript();
  if (!typescript || typeof register !== "function") {
    throw new CliError(
      `${what} ${file}: Node ${process.versions.node} cannot import TypeScript by itself; ` +
        `add typescript to the project (npm install -D typescript), use Node 22.18 or later, or run the CLI with Bun (npx bun node_modules/.bin/durable-workflow)`,
    );
  }
  register(`data:text/javascript,${encodeURIComponent(HOOKS)}`, { data: { typescript } });
  hooked = true;
}

/** Imports a module of the project; `what` names it in errors (`--services`, `--config`). */
export async function importModule(file: string, what: string): Promise<Record<string, unknown>> {
  if (TYPESCRIPT.test(extname(file))) hookTypeScript(file, what);
  try {
    return await import(pathToFileURL(resolve(file)).href);
  } catch (error) {
    throw new CliError(`${what} ${file}: cannot import it (${error instanceof Error ? error.message.split("\n")[0] : String(error)})`);
  }
}
