// The layers of docs/architecture.md: every import in src/ and routes/ points down (tests/web-standard.test.ts keeps them Web-standard).
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");

/** Layers, lowest first: a module may import its own layer and the layers below it, never one above. */
const LAYERS: { name: string; paths: string[] }[] = [
  { name: "base", paths: ["src/types.ts", "src/schemas.ts", "src/errors.ts", "src/json.ts", "src/ids.ts"] },
  { name: "expressions", paths: ["src/expressions/"] },
  { name: "steps", paths: ["src/steps/"] },
  { name: "definition", paths: ["src/definition/"] },
  { name: "diagram", paths: ["src/diagram/"] },
  { name: "store", paths: ["src/store/"] },
  { name: "engine", paths: ["src/engine/", "src/config.ts"] },
  { name: "runners", paths: ["src/runners/"] },
  { name: "library entry", paths: ["src/mod.ts", "src/testing.ts", "src/testing/"] },
  { name: "http", paths: ["routes/"] },
];

function layerOf(file: string): number {
  const path = relative(ROOT, file);
  return LAYERS.findIndex((layer) => layer.paths.some((p) => (p.endsWith("/") ? path.startsWith(p) : path === p)));
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|js)$/.test(name) && !name.endsWith(".d.ts") ? [path] : [];
  });
}

function importsOf(file: string): string[] {
  const text = readFileSync(file, "utf8");
  const found: string[] = [];
  for (const match of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^;'"]*?from\s*["']([^"']+)["']/g)) found.push(match[1]!);
  for (const match of text.matchAll(/\bimport\(\s*["']([^"']+)["']\s*\)/g)) found.push(match[1]!);
  return found;
}

const files = [...sourceFiles(join(ROOT, "src")), ...sourceFiles(join(ROOT, "routes"))];

describe("layers", () => {
  test("every file of src/ and routes/ belongs to a layer", () => {
    expect(files.filter((file) => layerOf(file) < 0).map((file) => relative(ROOT, file))).toEqual([]);
  });

  test("no module imports from a higher layer, or from outside src/ and routes/", () => {
    const wrong: string[] = [];
    for (const file of files) {
      for (const specifier of importsOf(file)) {
        if (!specifier.startsWith(".")) continue;
        const target = resolve(dirname(file), specifier);
        const to = layerOf(target);
        const from = layerOf(file);
        if (to < 0 || to > from) {
          wrong.push(
            `${relative(ROOT, file)} (${LAYERS[from]!.name}) imports ${relative(ROOT, target)} (${
              to < 0 ? "outside the layers" : LAYERS[to]!.name
            })`,
          );
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  test("the check sees a wrong import", () => {
    const from = layerOf(join(ROOT, "src/steps/call.ts"));
    const to = layerOf(join(ROOT, "src/engine/engine.ts"));
    expect(to > from).toBe(true);
    expect(importsOf(join(ROOT, "src/engine/engine.ts"))).toContain("../steps/registry.ts");
  });
});
