/**
 * `loadWorkflow` / `validateWorkflow`: source → plain JSON (source.ts) → top-level keys (schema.ts) →
 * each step with its registered type's schema (steps.ts) → cross-step rules (rules.ts) → a frozen,
 * hashed definition. Nothing throws out of here but the one `ValidationError` listing every issue.
 *
 * Decisions:
 * - `version`: a YAML/JSON number keeps its source text (`1.0` → "1.0", `2` → "2"); a number in an object
 *   source becomes `String(n)` (`1` → "1", JavaScript cannot tell 1 from 1.0); default "1.0".
 * - `inputs:` absent or null → `inputs: null` (no declared inputs: any `$input.x` may be referenced);
 *   `inputs: {}` declares none, so every `$input.x` is an issue. A null/empty spec is `{ required: true }`.
 * - `x-` keys are dropped wherever the schema has a fixed set of keys (top level, input specs, steps, route
 *   entries, conditions), never inside free data (`set`, `input`, `result`, `data`, `context`, `value`).
 * - The hash covers the normalised definition (defaults applied, aliases resolved, `x-` keys removed), so
 *   comments, metadata, key order and spelled-out defaults do not change it.
 */
import { ValidationError, type ValidationIssue } from "../errors.ts";
import { deepFreeze, isPlainObject } from "../json.ts";
import { defaultStepRegistry, type StepRegistry } from "../steps/registry.ts";
import type { StepDefinition } from "../steps/step.ts";
import type { Json, JsonObject } from "../types.ts";
import { findReferences, splitPath } from "../expressions/references.ts";
import { contentHash } from "./hash.ts";
import { inputTypeError } from "./inputs.ts";
import { formatPath, fromZodIssues, type RawIssue } from "./issues.ts";
import { checkFlowRules, FLOW_KEYS } from "./flow.ts";
import { checkRules } from "./rules.ts";
import { workflowSchema } from "./schema.ts";
import { allowedKeysAt, isMetaKey, stripMetaKeys } from "./shape.ts";
import { type Locate, readSource } from "./source.ts";
import { MAX_STEPS, processStep, type StepNode, type StepWalk } from "./steps.ts";
import type { InputSpec, WorkflowDefinition } from "./workflow.ts";

/** YAML text, JSON text, or a plain object. */
export type WorkflowSource = string | object;

export interface LoadOptions {
  /** Step types to validate against (default: the global registry, with user-registered types). */
  registry?: StepRegistry;
}

/** Most issues reported for one definition; the rest are summarised in one last issue. */
const MAX_ISSUES = 200;

const DEFAULT_VERSION = "1.0";

interface Analysis {
  issues: ValidationIssue[];
  definition?: WorkflowDefinition;
  id?: string;
}

function finishIssues(raw: RawIssue[], locate: Locate | undefined): ValidationIssue[] {
  const shown = raw.slice(0, MAX_ISSUES).map((issue) => {
    const out: ValidationIssue = { path: formatPath(issue.path), message: issue.message };
    const position = issue.line !== undefined ? { line: issue.line, column: issue.column ?? 1 } : locate?.(issue.path, issue.atKey);
    if (position) {
      out.line = position.line;
      out.column = position.column;
    }
    return out;
  });
  if (raw.length > MAX_ISSUES) shown.push({ path: "", message: `${raw.length - MAX_ISSUES} more problems not shown` });
  return shown;
}

/** Normalises the declared inputs; a null spec means `{ required: true }`. */
function normaliseInputs(
  parsed:
    | Record<string, { type?: InputSpec["type"]; required: boolean; default?: unknown; description?: string } | null>
    | null
    | undefined,
  issues: RawIssue[],
): Record<string, InputSpec> | null {
  if (!parsed) return null;
  const out: Record<string, InputSpec> = {};
  for (const [name, spec] of Object.entries(parsed)) {
    const normalised: InputSpec = { required: spec?.required ?? true };
    if (spec?.type !== undefined) normalised.type = spec.type;
    if (spec?.default !== undefined) {
      normalised.default = spec.default as Json;
      const problem = spec.type ? inputTypeError(spec.type, spec.default) : undefined;
      if (problem) issues.push({ path: ["inputs", name, "default"], message: `the default of input "${name}" ${problem}` });
    }
    if (spec?.description !== undefined) normalised.description = spec.description;
    Object.defineProperty(out, name, { value: normalised, enumerable: true, writable: true, configurable: true });
  }
  return out;
}

function analyse(source: unknown, registry: StepRegistry): Analysis {
  const read = readSource(source);
  const issues: RawIssue[] = [...read.issues];
  const value = read.value;
  if (value === undefined) return { issues: finishIssues(issues, read.locate) };
  if (!isPlainObject(value)) {
    issues.push({ path: [], message: "a workflow definition must be a mapping with id, name and steps" });
    return { issues: finishIssues(issues, read.locate) };
  }

  // Top level: `x-` keys are free metadata; steps are checked one by one below.
  const top: JsonObject = { ...value };
  stripMetaKeys(workflowSchema, top);
  const parsed = workflowSchema.safeParse(top);
  if (!parsed.success) {
    const own = parsed.error.issues.filter((i) => !(i.path[0] === "steps" && i.path.length > 1));
    issues.push(...fromZodIssues(own, top, [], {
      where: (
        local,
      ) => (local.length === 0 ? " at the top level" : local[0] === "inputs" && local.length === 2 ? ` in input "${local[1]}"` : ""),
      allowedKeys: (local) => allowedKeysAt(workflowSchema, local)?.filter((k) => !isMetaKey(k)),
    }));
  }
  const inputs = parsed.success ? normaliseInputs(parsed.data.inputs, issues) : null;
  const declaredInputs = parsed.success
    ? (inputs ? Object.keys(inputs) : null)
    : (isPlainObject(top.inputs) ? Object.keys(top.inputs) : null);

  const walk: StepWalk = { registry, issues, all: [], tooMany: false };
  const topNodes: StepNode[] = [];
  const steps: StepDefinition[] = [];
  if (Array.isArray(top.steps)) {
    if (top.steps.length > MAX_STEPS) walk.tooMany = true;
    top.steps.forEach((raw, index) => {
      const node = processStep(walk, raw, ["steps", index]);
      if (node) topNodes.push(node);
      if (node?.step) steps.push(node.step);
    });
  }
  if (walk.tooMany) {
    return {
      issues: finishIssues(
        [{
          path: ["steps"],
          message: `the workflow has more than ${MAX_STEPS} steps (nested ones included); split it into child workflows`,
        }],
        read.locate,
      ),
    };
  }
  checkRules({ top: topNodes, all: walk.all, inputs: declaredInputs, issues });
  checkFlowRules(top, walk.all, declaredInputs, issues);
  const labels = parsed.success && parsed.data.labels ? normaliseLabels(parsed.data.labels, declaredInputs, issues) : undefined;

  const id = typeof top.id === "string" ? top.id : undefined;
  if (issues.length || !parsed.success) return { issues: finishIssues(issues, read.locate), id };

  const data = parsed.data;
  const version = typeof data.version === "number" ? (read.versionText ?? String(data.version)) : (data.version ?? DEFAULT_VERSION);
  const content: Record<string, unknown> = { id: data.id, name: data.name, version };
  if (data.description !== undefined) content.description = data.description;
  if (data.timeout !== undefined) content.timeout = data.timeout;
  content.inputs = inputs;
  if (labels) content.labels = labels;
  content.steps = steps;
  if (data.triggers?.length) content.triggers = data.triggers;
  for (const key of FLOW_KEYS) if (data[key] !== undefined) content[key] = data[key];
  const definition = { ...content, hash: contentHash(content) } as unknown as WorkflowDefinition;
  return { issues: [], definition: deepFreeze(definition), id };
}

/** Label values as text; a reference may only read a declared input (nothing else exists when a run starts). */
function normaliseLabels(
  labels: Record<string, string | number | boolean>,
  inputs: string[] | null,
  issues: RawIssue[],
): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(labels)) {
    const text = String(value);
    for (const ref of findReferences(text)) {
      const [root, input] = splitPath(ref.path);
      if (root !== "input" || input === undefined) {
        issues.push({
          path: ["labels", name],
          message: `label "${name}" references "$${ref.path}": a label may only reference $input.<name>`,
        });
      } else if (inputs && !inputs.includes(input)) {
        issues.push({
          path: ["labels", name],
          message: `label "${name}" references "$${ref.path}" but the workflow declares no input "${input}" (declared: ${
            inputs.join(", ") || "none"
          })`,
        });
      }
    }
    out[name] = text;
  }
  return out;
}

function safeAnalyse(source: unknown, registry: StepRegistry): Analysis {
  try {
    return analyse(source, registry);
  } catch (error) {
    // A bug of ours or a hostile object (a throwing getter): still an issue, never a raw stack trace.
    const reason = error instanceof Error ? error.message : String(error);
    return { issues: [{ path: "", message: `the definition could not be read: ${reason}` }] };
  }
}

/**
 * Parses (YAML text, JSON text or a plain object), validates, normalises and deep-freezes a workflow.
 * Throws a `ValidationError` listing every problem, each with its path and, for text, its line and column.
 */
export function loadWorkflow(source: WorkflowSource, options: LoadOptions = {}): WorkflowDefinition {
  const result = safeAnalyse(source, options.registry ?? defaultStepRegistry);
  if (result.definition) return result.definition;
  const count = result.issues.length;
  const what = result.id ? `Invalid workflow "${result.id}"` : "Invalid workflow definition";
  throw new ValidationError(`${what} (${count} problem${count === 1 ? "" : "s"})`, result.issues);
}

/** The same checks as `loadWorkflow`, without throwing. */
export function validateWorkflow(source: WorkflowSource, options: LoadOptions = {}): { valid: boolean; issues: ValidationIssue[] } {
  const result = safeAnalyse(source, options.registry ?? defaultStepRegistry);
  return { valid: result.issues.length === 0 && result.definition !== undefined, issues: result.issues };
}

// mod.ts takes the whole definition API from this file.
export { buildWorkflowJsonSchema, workflowJsonSchema } from "./schema.ts";
