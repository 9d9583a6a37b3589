/**
 * What hostile or large definitions cost to load: an alias bomb, a merge-key bomb, a document over 1 MiB,
 * flow nesting 500 000 levels deep, and 1 000 chained steps (median ms of RUNS loads; the tests check only
 * that each is refused or loaded, never how fast).
 *   npx bun bench/definition.ts
 */
import { loadWorkflow, validateWorkflow } from "../mod.ts";
import { medianMs, table } from "./workflows.ts";

const RUNS = Number(process.env.RUNS ?? 9);
const minimal = (extra = "") => `id: wf\nname: W\n${extra}steps:\n  - id: start\n    type: start\n`;

const bomb = ["x-a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"];
for (const [i, name] of [..."bcdefghi"].entries()) bomb.push(`x-${name}: &${name} [${Array(9).fill(`*${"abcdefghi"[i]}`).join(", ")}]`);
const merge = ["x-l0: &l0 { a: 1, b: 2, c: 3, d: 4, e: 5, f: 6, g: 7, h: 8 }"];
for (let i = 1; i < 10; i++) {
  merge.push(`x-l${i}: &l${i} { ${Array.from({ length: 8 }, (_, k) => `k${k}: { <<: *l${i - 1} }`).join(", ")} }`);
}
const chain = Array.from({ length: 1000 }, (_, i) => ({
  id: `s${i}`,
  type: "assign",
  set: { [`v${i}`]: i ? `$v${i - 1}` : 0 },
  ...(i < 999 ? { next: `s${i + 1}` } : {}),
}));

const cases: [string, () => unknown, boolean][] = [
  ["alias bomb (9^9 nodes)", () => validateWorkflow(minimal(`${bomb.join("\n")}\n`)), false],
  ["merge-key bomb (8^10 keys)", () => validateWorkflow(minimal(`${merge.join("\n")}\n`)), false],
  ["document of 1.1 MiB", () => validateWorkflow(minimal(`description: "${"a".repeat(1.1 * 1024 * 1024)}"\n`)), false],
  ["flow nesting 500 000 deep", () => validateWorkflow(minimal(`x-deep: ${"[".repeat(500_000)}\n`)), false],
  ["1 000 chained steps", () => loadWorkflow({ id: "wf", name: "W", steps: chain }), true],
];

const rows: Record<string, string | number>[] = [];
for (const [name, load, valid] of cases) {
  const outcome = load() as { valid?: boolean };
  if ((outcome.valid ?? true) !== valid) throw new Error(`${name}: expected ${valid ? "a valid" : "a refused"} definition`);
  rows.push({ definition: name, outcome: valid ? "loaded" : "refused", "median ms": await medianMs(RUNS, async () => load()) });
}
console.log(table(rows));
