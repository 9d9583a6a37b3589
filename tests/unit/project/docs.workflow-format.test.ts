import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { inputSpecSchema, KEY_ALIASES, workflowSchema } from "../../../src/definition/schema.ts";
import { loadWorkflow } from "../../../src/definition/load.ts";
import { objectShape } from "../../../src/definition/shape.ts";
import { OPERATORS } from "../../../src/expressions/conditions.ts";
import { BUILT_IN_STEP_TYPES } from "../../../src/steps/registry.ts";
import { commonStepKeys, type StepDefinition } from "../../../src/steps/step.ts";
import { TRANSFORM_OPS } from "../../../src/steps/transform.ts";

const DOC = readFileSync(join(import.meta.dir, "../../..", "docs", "workflow-format.md"), "utf8");
const COMMON_KEYS = [...Object.keys(commonStepKeys), "type"];

/** The document's lines, each marked when it is inside a code fence (so `#` there is no heading). */
const LINES = (() => {
  let fenced = false;
  return DOC.split("\n").map((text) => {
    const fence = text.startsWith("```");
    if (fence) fenced = !fenced;
    return { text, code: fenced || fence };
  });
})();

/** The text of the section under the heading `<level hashes> <title>`, up to the next heading of that level or higher. */
function section(level: number, title: string): string | undefined {
  const heading = `${"#".repeat(level)} ${title}`;
  const start = LINES.findIndex((l) => !l.code && l.text.trim() === heading);
  if (start < 0) return undefined;
  const end = LINES.findIndex((l, i) => i > start && !l.code && /^#{1,6} /.test(l.text) && l.text.indexOf(" ") <= level);
  return LINES.slice(start + 1, end < 0 ? undefined : end).map((l) => l.text).join("\n");
}

const backticked = (text: string): string[] => [...text.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

/** The markdown tables of a text: header cells and, per row, the backticked names of its first cell. */
function tables(text: string): { header: string; names: string[] }[] {
  const out: { header: string; names: string[] }[] = [];
  let current: { header: string; names: string[] } | undefined;
  for (const line of text.split("\n")) {
    if (!line.startsWith("|")) {
      current = undefined;
      continue;
    }
    const first = line.split("|")[1]!.trim();
    if (!current) {
      current = { header: first, names: [] };
      out.push(current);
    } else if (!/^-+$/.test(first)) {
      current.names.push(...backticked(first));
    }
  }
  return out;
}

function tableNames(text: string, header: string): string[] {
  return tables(text).filter((t) => t.header === header).flatMap((t) => t.names);
}

/** Every ```yaml workflow fence: the YAML text and the heading it appears under. */
function workflowExamples(): { yaml: string; under: string }[] {
  const out: { yaml: string; under: string }[] = [];
  let under = "";
  for (let i = 0; i < LINES.length; i++) {
    const line = LINES[i]!.text;
    if (!LINES[i]!.code && /^#{1,6} /.test(line)) under = line.replace(/^#+ /, "");
    if (line.trim() !== "```yaml workflow") continue;
    const end = LINES.findIndex((l, j) => j > i && l.text.trim() === "```");
    out.push({ yaml: LINES.slice(i + 1, end).map((l) => l.text).join("\n"), under });
    i = end;
  }
  return out;
}

function ownKeys(schema: unknown): string[] {
  return Object.keys(objectShape(schema) ?? {}).filter((key) => !COMMON_KEYS.includes(key));
}

test("every built-in step type has its own section under Step types", () => {
  const steps = section(2, "Step types") ?? "";
  const missing = BUILT_IN_STEP_TYPES.map((t) => t.type).filter((type) => !steps.split("\n").includes(`### ${type}`));
  expect(missing).toEqual([]);
});

test("every own key of a built-in step schema is a row of its type's table", () => {
  const missing = BUILT_IN_STEP_TYPES.flatMap((t) => {
    const names = tableNames(section(3, t.type) ?? "", "key");
    return ownKeys(t.schema).filter((key) => !names.includes(key)).map((key) => `${t.type}.${key}`);
  });
  expect(missing).toEqual([]);
});

test("every step type's section names the common keys", () => {
  const missing = BUILT_IN_STEP_TYPES.flatMap((t) => {
    const named = backticked(section(3, t.type) ?? "");
    return COMMON_KEYS.filter((key) => !named.includes(key)).map((key) => `${t.type}: ${key}`);
  });
  expect(missing).toEqual([]);
});

test("the common keys table lists every common key and every alias", () => {
  const names = tableNames(section(2, "Common step keys") ?? "", "key");
  const missing = [...COMMON_KEYS, ...Object.keys(KEY_ALIASES)].filter((key) => !names.includes(key));
  expect(missing).toEqual([]);
});

test("every top-level key and input spec key is a row of its table", () => {
  const top = tableNames(section(2, "Top-level keys") ?? "", "key");
  const inputs = tableNames(section(3, "Inputs") ?? "", "key");
  const missing = [
    ...Object.keys(objectShape(workflowSchema)!).filter((key) => !top.includes(key)),
    ...Object.keys(objectShape(inputSpecSchema)!).filter((key) => !inputs.includes(key)).map((key) => `inputs.${key}`),
  ];
  expect(missing).toEqual([]);
});

test("every condition operator is a row of the operators table", () => {
  const names = tableNames(section(2, "Conditions") ?? "", "operator");
  expect(OPERATORS.filter((op) => !names.includes(op))).toEqual([]);
});

test("every transform op is a row of the operations table", () => {
  const names = tableNames(section(2, "Transform operations") ?? "", "operation");
  expect(TRANSFORM_OPS.filter((op) => !names.includes(op))).toEqual([]);
});

test("every whole-workflow example loads with loadWorkflow", () => {
  const examples = workflowExamples();
  expect(examples.length).toBeGreaterThan(BUILT_IN_STEP_TYPES.length);
  const failures = examples.flatMap(({ yaml, under }) => {
    try {
      loadWorkflow(yaml);
      return [];
    } catch (error) {
      return [`under "${under}": ${(error as Error).message}`];
    }
  });
  expect(failures).toEqual([]);
});

test("every step type's section has a whole-workflow example using that type", () => {
  const typesUsed = (steps: readonly StepDefinition[]): string[] =>
    steps.flatMap((s) => [s.type, ...typesUsed([...(s.do as StepDefinition[] ?? []), ...(s.branches as StepDefinition[] ?? [])])]);
  const stepsOf = (yaml: string): readonly StepDefinition[] => {
    try {
      return loadWorkflow(yaml).steps;
    } catch {
      return [];
    }
  };
  const examples = workflowExamples();
  const missing = BUILT_IN_STEP_TYPES.map((t) => t.type).filter((type) =>
    !examples.some((e) => e.under === type && typesUsed(stepsOf(e.yaml)).includes(type))
  );
  expect(missing).toEqual([]);
});
