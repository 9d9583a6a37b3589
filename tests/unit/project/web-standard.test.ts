import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";

/** src/ and routes/ run on Workers, Deno and Bun: Web-standard APIs only. */
const FORBIDDEN = [
  { pattern: /from\s+["']node:|require\(\s*["']node:|import\(\s*["']node:/, what: "a node: import" },
  { pattern: /\bprocess\.\w/, what: "process." },
  { pattern: /\bBuffer\b/, what: "Buffer" },
  { pattern: /\bDeno\.\w/, what: "a Deno global" },
  { pattern: /\bBun\.\w/, what: "a Bun global" },
];

/** Comment lines may name the APIs they avoid. */
function isComment(line: string): boolean {
  const t = line.trimStart();
  return t.startsWith("//") || t.startsWith("*") || t.startsWith("/*");
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : /\.(ts|tsx)$/.test(name) ? [path] : [];
  });
}

test("src/ and routes/ use Web-standard APIs only", () => {
  const root = join(import.meta.dir, "../../..");
  const hits = ["src", "routes"].flatMap((dir) =>
    files(join(root, dir)).flatMap((file) =>
      readFileSync(file, "utf8").split("\n").flatMap((line, i) =>
        FORBIDDEN.filter((f) => f.pattern.test(line) && !isComment(line))
          .map((f) => `${file.slice(root.length + 1)}:${i + 1} uses ${f.what}`)
      )
    )
  );
  expect(hits).toEqual([]);
});
