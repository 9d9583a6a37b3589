import type { z } from "zod";
import { isPlainObject } from "../json.ts";
import type { StepRegistry } from "../steps/registry.ts";
import type { StepDefinition, StepType } from "../steps/step.ts";
import { describeValue, fromZodIssues, type RawIssue, type Segment } from "./issues.ts";
import { KEY_ALIASES } from "./schema.ts";
import { allowedKeysAt, isMetaKey, objectShape, stripMetaKeys } from "./shape.ts";

/** Most steps in one definition, nested ones included. */
export const MAX_STEPS = 1000;

/** A nested list of steps: a loop body runs in order; parallel branches are one step each. */
interface BodyNode {
  key: string;
  kind: "sequence" | "branches";
  locals: string[];
  nodes: StepNode[];
}

/** One step as the validator sees it: where it is, what it parsed to, what it contains. */
export interface StepNode {
  path: Segment[];
  /** The step's id when it is a string (even if malformed). */
  id?: string;
  type?: StepType;
  /** The step after aliases and `x-` keys (what its schema was given). */
  raw: Record<string, unknown>;
  /** The parsed step (defaults applied, nested steps replaced by their parsed versions); undefined if invalid. */
  step?: StepDefinition;
  parent?: { node: StepNode; body: BodyNode; index: number };
  bodies: BodyNode[];
}

export interface StepWalk {
  registry: StepRegistry;
  issues: RawIssue[];
  /** Every step node in definition order, nested ones included. */
  all: StepNode[];
  /** Set when the definition has more than MAX_STEPS steps: processing stops. */
  tooMany: boolean;
}

/** Renames the aliases kept for older workflow files (`next_step`, `method_name`) to the canonical keys the schema knows. */
function resolveAliases(
  step: Record<string, unknown>,
  shape: Record<string, unknown> | undefined,
  path: Segment[],
  issues: RawIssue[],
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(step)) {
    const canonical = KEY_ALIASES[key];
    if (canonical && (!shape || Object.hasOwn(shape, canonical))) {
      if (Object.hasOwn(step, canonical)) {
        issues.push({ path: [...path, key], message: `"${key}" is an alias of "${canonical}": give only one of them`, atKey: true });
        continue;
      }
      out[canonical] = value;
    } else {
      out[key] = value;
    }
  }
  return out;
}

function bodyKind(key: string): BodyNode["kind"] {
  // Parallel steps keep their nested steps under `branches`; every other body runs in listed order.
  return key === "branches" ? "branches" : "sequence";
}

/** The nested step lists of a step, or none when its type cannot tell (a malformed step). */
function bodiesOf(type: StepType, step: Record<string, unknown>): { key: string; steps: unknown[]; locals: string[] }[] {
  if (!type.bodies) return [];
  try {
    return type.bodies(step as StepDefinition)
      .filter((b) => Array.isArray(b.steps))
      .map((b) => ({ key: b.key, steps: b.steps as unknown[], locals: (b.locals ?? []).filter((l) => typeof l === "string") }));
  } catch {
    return [];
  }
}

/**
 * Validates one step (and, recursively, the steps nested in it) with its registered type's schema.
 * Issues go to `walk.issues`; the node records what later rules need.
 */
export function processStep(walk: StepWalk, value: unknown, path: Segment[], parent?: StepNode["parent"]): StepNode | undefined {
  if (walk.tooMany) return undefined;
  if (walk.all.length >= MAX_STEPS) {
    walk.tooMany = true;
    return undefined;
  }
  if (!isPlainObject(value)) {
    walk.issues.push({ path, message: `a step must be a mapping with at least id and type, got ${describeValue(value)}` });
    return undefined;
  }
  const node: StepNode = { path, raw: value, bodies: [], parent };
  walk.all.push(node);
  if (typeof value.id === "string") node.id = value.id;
  const typeName = value.type;
  if (typeName === undefined) {
    walk.issues.push({ path: [...path, "type"], message: `required key "type" is missing (one of: ${walk.registry.names().join(", ")})` });
    if (node.id === undefined) walk.issues.push({ path: [...path, "id"], message: 'required key "id" is missing' });
    return node;
  }
  if (typeof typeName !== "string") {
    walk.issues.push({ path: [...path, "type"], message: `expected a step type name, got ${describeValue(typeName)}` });
    return node;
  }
  const type = walk.registry.get(typeName);
  if (!type) {
    walk.issues.push({ path: [...path, "type"], message: `unknown step type "${typeName}" (known: ${walk.registry.names().join(", ")})` });
    return node;
  }
  node.type = type;
  const schema = type.schema as z.ZodType;
  const shape = objectShape(schema);
  const raw = resolveAliases(value, shape, path, walk.issues);
  stripMetaKeys(schema, raw);
  node.raw = raw;

  if (parent && type.topLevelOnly) {
    const where = parent.body.kind === "branches"
      ? `a branch of parallel step "${parent.node.id}"`
      : `the body of loop "${parent.node.id}"`;
    walk.issues.push({
      path: [...path, "type"],
      message: `a "${typeName}" step is not allowed in ${where}: it could not be resumed there (put it at the top level)`,
    });
  }

  const label = node.id ? `step "${node.id}" (${typeName})` : `this ${typeName} step`;
  const parsed = schema.safeParse(raw);
  const bodies = bodiesOf(type, parsed.success ? parsed.data as Record<string, unknown> : raw);
  if (!parsed.success) {
    // Problems inside nested steps are reported by their own validation below, with their own type's keys.
    const bodyKeys = new Set(bodies.map((b) => b.key));
    const own = parsed.error.issues.filter((i) =>
      !(i.path.length >= 2 && bodyKeys.has(String(i.path[0])) && typeof i.path[1] === "number")
    );
    walk.issues.push(...fromZodIssues(own, raw, path, {
      where: () => ` in ${label}`,
      allowedKeys: (local) => allowedKeysAt(schema, local)?.filter((k) => !isMetaKey(k)),
    }));
  } else {
    node.step = parsed.data as StepDefinition;
  }

  for (const body of bodies) {
    const bodyNode: BodyNode = { key: body.key, kind: bodyKind(body.key), locals: body.locals, nodes: [] };
    node.bodies.push(bodyNode);
    body.steps.forEach((nested, index) => {
      const child = processStep(walk, nested, [...path, body.key, index], { node, body: bodyNode, index });
      if (!child) return;
      bodyNode.nodes.push(child);
      if (child.step) body.steps[index] = child.step;
    });
  }
  return node;
}
