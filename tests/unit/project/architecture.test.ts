// The layers of docs/architecture.md, read from its table: every import in src/ and routes/ goes to its own layer
// or to one the table's "may import" column names (tests/unit/project/web-standard.test.ts keeps them Web-standard).
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import ts from "typescript";

const ROOT = resolve(import.meta.dir, "../../..");

interface Layer {
  name: string;
  /** Files, or folders when they end with "/". */
  paths: string[];
  /** Names of the layers it may import besides its own; "*" for any. */
  mayImport: string[];
}

/** The rows of the table under "| layer | where | what it holds | may import |". */
function layersOf(markdown: string): Layer[] {
  const rows = markdown.split("\n").filter((line) => line.startsWith("|")).map((line) => line.split("|").slice(1, -1).map((c) => c.trim()));
  const header = rows.findIndex((cells) => cells[0] === "layer" && cells[3] === "may import");
  if (header < 0) throw new Error("docs/architecture.md has no table with the columns layer | where | what it holds | may import");
  const layers: Layer[] = [];
  for (const [name, where, , may] of rows.slice(header + 2)) {
    const paths = [...where!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
    const above = layers.map((layer) => layer.name);
    const mayImport = may === "nothing of ours" ? [] : may === "everything above" ? above : may === "anything" ? ["*"] : may!.split(/,\s*/);
    for (const target of mayImport) {
      if (target !== "*" && !above.includes(target)) throw new Error(`layer ${name} may import "${target}", which is no layer above it`);
    }
    layers.push({ name: name!, paths, mayImport });
  }
  return layers;
}

function layerOf(layers: Layer[], root: string, file: string): Layer | undefined {
  const path = relative(root, file);
  return layers.find((layer) => layer.paths.some((p) => (p.endsWith("/") ? path.startsWith(p) : path === p)));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|js)$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

/** Every module a file names: import and export declarations (bare, type-only, re-exports), import() and import types. */
function importsOf(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const found: string[] = [];
  const visit = (node: ts.Node): void => {
    if (
      (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)
    ) {
      found.push(node.moduleSpecifier.text);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [specifier] = node.arguments;
      found.push(specifier && ts.isStringLiteralLike(specifier) ? specifier.text : "<computed import()>");
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      found.push(node.argument.literal.text);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** The files of src/ and routes/ under `root` that belong to no layer, and every import the table does not allow. */
function check(root: string, layers: Layer[]): { unplaced: string[]; wrong: string[] } {
  const files = ["src", "routes"].flatMap((dir) => sourceFiles(join(root, dir)));
  const unplaced = files.filter((file) => !layerOf(layers, root, file)).map((file) => relative(root, file));
  const wrong: string[] = [];
  for (const file of files) {
    const from = layerOf(layers, root, file);
    if (!from || from.mayImport.includes("*")) continue;
    for (const specifier of importsOf(file)) {
      if (!specifier.startsWith(".") && specifier !== "<computed import()>") continue;
      const target = resolve(dirname(file), specifier);
      const to = specifier.startsWith(".") ? layerOf(layers, root, target) : undefined;
      if (to && (to === from || from.mayImport.includes(to.name))) continue;
      wrong.push(`${relative(root, file)} (${from.name}) imports ${specifier} (${to ? to.name : "outside the layers"})`);
    }
  }
  return { unplaced, wrong };
}

const LAYERS = layersOf(readFileSync(join(ROOT, "docs/architecture.md"), "utf8"));

describe("layers", () => {
  test("the table of docs/architecture.md names every layer of the code", () => {
    expect(LAYERS.map((layer) => layer.name)).toEqual([
      "base",
      "expressions",
      "steps",
      "definition",
      "diagram",
      "store",
      "engine",
      "runners",
      "library entry",
      "http",
      "entries",
    ]);
  });

  test("every file of src/ and routes/ belongs to a layer", () => {
    expect(check(ROOT, LAYERS).unplaced).toEqual([]);
  });

  test("every import in src/ and routes/ is one the table allows", () => {
    expect(check(ROOT, LAYERS).wrong).toEqual([]);
  });
});

describe("the check itself, on a fixture with wrong imports", () => {
  const fixture = mkdtempSync(join(tmpdir(), "dw-layers-"));
  afterAll(() => rmSync(fixture, { recursive: true, force: true }));
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(fixture, path)), { recursive: true });
    writeFileSync(join(fixture, path), text);
  };
  write("src/types.ts", "export type Id = string;\n");
  write("src/steps/call.ts", 'import type { Id } from "../types.ts";\nexport const call = (id: Id) => id;\n');
  write("src/definition/load.ts", 'export { call } from "../steps/call.ts";\n');
  write("src/diagram/svg.ts", 'import { call } from "../steps/call.ts";\nexport const svg = call;\n');
  write("src/engine/engine.ts", 'import { call } from "../steps/call.ts";\nexport const run = call;\n');
  write("src/store/memory.ts", 'import { call } from "../definition/load.ts";\nexport const save = call;\n');
  write("src/steps/wait.ts", 'import "../engine/engine.ts";\nexport const wait = 1;\n');
  write("src/expressions/refs.ts", 'export type Run = typeof import("../engine/engine.ts").run;\n');
  write("src/steps/loop.ts", 'export const loop = () => import("../../cli/main.ts");\n');
  write("src/steps/end.ts", 'export type { Bench } from "../../bench/engine.ts";\n');
  write("src/json.ts", 'export * from "./store/memory.ts";\n');
  write("src/stray.ts", "export const stray = 1;\n");
  write("routes/app.ts", 'import { run } from "../src/engine/engine.ts";\nexport const app = run;\n');

  test("it finds each kind of wrong import, and only those", () => {
    expect(check(fixture, LAYERS).wrong.sort()).toEqual([
      "src/expressions/refs.ts (expressions) imports ../engine/engine.ts (engine)",
      "src/json.ts (base) imports ./store/memory.ts (store)",
      "src/steps/end.ts (steps) imports ../../bench/engine.ts (outside the layers)",
      "src/steps/loop.ts (steps) imports ../../cli/main.ts (entries)",
      "src/steps/wait.ts (steps) imports ../engine/engine.ts (engine)",
      "src/store/memory.ts (store) imports ../definition/load.ts (definition)",
    ]);
  });

  test("it finds a file outside every layer", () => {
    expect(check(fixture, LAYERS).unplaced).toEqual(["src/stray.ts"]);
  });

  test("a table naming a layer that is not above is refused", () => {
    const table = "| layer | where | what it holds | may import |\n|---|---|---|---|\n| base | `src/a.ts` | a | engine |\n";
    expect(() => layersOf(table)).toThrow('layer base may import "engine", which is no layer above it');
  });
});
