/**
 * The validation rules that look across steps: unique ids, targets, reachability,
 * `$references` (a "must" dataflow over the step graph), `matches` patterns. Every rule reports all it
 * finds. Reachability and references run only when every step is well-formed and ids are unique: a
 * broken step has unknown targets and outputs, and guessing them would report problems that are not there.
 *
 * Nested steps. Loop body steps run in listed order: without `next` a body step falls
 * through to the following one, and the last one ends the iteration. Inside a loop body a target
 * (`next`, `on_error`, a router's `then`...) may only name a LATER step of the same body, or
 * `__FINISHED__`, which ends the iteration. Each parallel branch is one step: branch steps may not have
 * `next` or `on_error` at all (for a sequence in a branch, use a loop or a workflow step), and any other
 * target they have can only be `__FINISHED__`. Top-level targets name top-level steps only.
 */
import { MAX_PATTERN_LENGTH, unsafePatternReason } from "../expressions/conditions.ts";
import { findReferences, splitPath } from "../expressions/references.ts";
import { isPlainObject } from "../json.ts";
import { FINISHED, type StepDefinition } from "../steps/step.ts";
import { formatPath, type RawIssue, type Segment, valueAt } from "./issues.ts";
import type { StepNode } from "./steps.ts";

/** Roots every step may reference. */
const ALWAYS_AVAILABLE: readonly string[] = ["input", "now", "response", "approved", "_last_error"];
const ALWAYS = new Set(ALWAYS_AVAILABLE);

type EdgeKind = "next" | "error" | "target";
interface Edge {
  key: Segment[];
  target: string;
  kind: EdgeKind;
}

/** `routes[0].then` → ["routes", 0, "then"]. */
function parseKey(key: string): Segment[] {
  const out: Segment[] = [];
  for (const part of key.split(".")) {
    const match = /^([^[\]]*)((?:\[\d+\])*)$/.exec(part);
    if (!match) {
      out.push(part);
      continue;
    }
    if (match[1]) out.push(match[1]);
    for (const index of match[2]!.matchAll(/\[(\d+)\]/g)) out.push(Number(index[1]));
  }
  return out;
}

function safe<T>(fn: () => T | undefined, fallback: T): T {
  try {
    return fn() ?? fallback;
  } catch {
    return fallback;
  }
}

/**
 * The step as the rules read it: parsed, or, when its keys failed their schema, as written, so that one pass
 * reports its targets and references together with its schema issues (the type's functions are called in `safe`).
 */
function readable(node: StepNode): StepDefinition | undefined {
  return node.step ?? (node.type ? node.raw as StepDefinition : undefined);
}

function edgesOf(node: StepNode): Edge[] {
  const source = (node.step ?? node.raw) as Record<string, unknown>;
  const step = readable(node);
  const edges: Edge[] = [];
  if (typeof source.next === "string") edges.push({ key: ["next"], target: source.next, kind: "next" });
  if (typeof source.on_error === "string") edges.push({ key: ["on_error"], target: source.on_error, kind: "error" });
  if (step && node.type?.targets) {
    for (const t of safe(() => node.type!.targets!(step), [])) {
      if (typeof t.target === "string") edges.push({ key: parseKey(t.key), target: t.target, kind: "target" });
    }
  }
  return edges;
}

function outputsOf(node: StepNode): string[] {
  const step = readable(node);
  if (!step || !node.type?.outputs) return [];
  return safe(() => node.type!.outputs!(step), []).filter((o) => typeof o === "string");
}

/** What the step leaves in ctx when it continues: its outputs plus those of its nested steps (minus loop variables). */
function producedBy(node: StepNode): Set<string> {
  const out = new Set(outputsOf(node));
  for (const body of node.bodies) {
    for (const child of body.nodes) {
      for (const name of producedBy(child)) if (!body.locals.includes(name)) out.add(name);
    }
  }
  return out;
}

function ownerLabel(node: StepNode): string {
  const parent = node.parent;
  if (!parent) return "the top level";
  return parent.body.kind === "branches" ? `a branch of parallel step "${parent.node.id}"` : `the body of loop "${parent.node.id}"`;
}

interface RuleContext {
  top: StepNode[];
  all: StepNode[];
  /** Declared input names, or null when the workflow declares no inputs. */
  inputs: string[] | null;
  issues: RawIssue[];
}

/** Rule 1: step ids are unique across the whole definition. Returns false when some id is repeated. */
function checkUniqueIds(ctx: RuleContext): boolean {
  const seen = new Map<string, StepNode>();
  let unique = true;
  for (const node of ctx.all) {
    if (node.id === undefined) continue;
    if (node.id === FINISHED) {
      ctx.issues.push({ path: [...node.path, "id"], message: `"${FINISHED}" is reserved (it ends the run) and cannot be a step id` });
      continue;
    }
    const first = seen.get(node.id);
    if (first) {
      unique = false;
      ctx.issues.push({
        path: [...node.path, "id"],
        message: `duplicate step id "${node.id}" (already used by ${formatPath(first.path)})`,
      });
    } else {
      seen.set(node.id, node);
    }
  }
  return unique;
}

/** The step an edge leads to inside the node's own scope, following the team decision above. */
function resolveEdge(node: StepNode, target: string, topIds: Map<string, StepNode>): StepNode | undefined {
  if (target === FINISHED) return undefined;
  if (!node.parent) return topIds.get(target);
  const { body, index } = node.parent;
  if (body.kind === "branches") return undefined;
  return body.nodes.find((n) => n.id === target && n.parent!.index > index);
}

/** Rule 3: every target exists in the scope where it is used. */
function checkTargets(ctx: RuleContext, topIds: Map<string, StepNode>): void {
  const anywhere = new Map<string, StepNode>();
  for (const node of ctx.all) if (node.id !== undefined && !anywhere.has(node.id)) anywhere.set(node.id, node);
  for (const node of ctx.all) {
    for (const edge of edgesOf(node)) {
      const path = [...node.path, ...edge.key];
      const where = formatPath(edge.key);
      const target = edge.target;
      const parent = node.parent;
      if (parent?.body.kind === "branches") {
        if (edge.kind !== "target") {
          ctx.issues.push({
            path,
            message:
              `step "${node.id}" is a branch of parallel step "${parent.node.id}": a branch is a single step and cannot have "${where}" (for a sequence use a loop or a workflow step)`,
          });
        } else if (target !== FINISHED) {
          ctx.issues.push({ path, message: `inside a parallel branch a target can only be ${FINISHED}, got "${target}"` });
        }
        continue;
      }
      if (target === FINISHED || resolveEdge(node, target, topIds)) continue;
      const elsewhere = anywhere.get(target);
      if (!elsewhere) {
        ctx.issues.push({ path, message: `unknown target "${target}": no step has this id` });
      } else if (!parent) {
        ctx.issues.push({
          path,
          message: `target "${target}" is a step inside ${
            ownerLabel(elsewhere)
          }; a top-level step can only go to a top-level step or ${FINISHED}`,
        });
      } else {
        const sameBody = elsewhere.parent?.body === parent.body;
        ctx.issues.push({
          path,
          message: `target "${target}" ${
            sameBody ? "does not come after this step in" : "is not a step of"
          } the body of loop "${parent.node.id}": inside a loop body a target may only name a later step of the same body or ${FINISHED} (body steps run in listed order)`,
        });
      }
    }
  }
}

interface Successor {
  to: StepNode;
  kind: EdgeKind;
}

function successors(node: StepNode, topIds: Map<string, StepNode>): Successor[] {
  const out: Successor[] = [];
  const edges = edgesOf(node);
  for (const edge of edges) {
    const to = resolveEdge(node, edge.target, topIds);
    if (to) out.push({ to, kind: edge.kind });
  }
  const parent = node.parent;
  if (parent && parent.body.kind === "sequence" && !edges.some((e) => e.kind === "next")) {
    const position = parent.body.nodes.indexOf(node);
    const following = parent.body.nodes[position + 1];
    if (following) out.push({ to: following, kind: "next" });
  }
  return out;
}

/** Rule 4: every step of a scope is reachable from the scope's first step. */
function checkReachable(ctx: RuleContext, scope: StepNode[], topIds: Map<string, StepNode>): void {
  if (!scope.length) return;
  const reached = new Set<StepNode>([scope[0]!]);
  const queue = [scope[0]!];
  while (queue.length) {
    for (const { to } of successors(queue.shift()!, topIds)) {
      if (!reached.has(to)) {
        reached.add(to);
        queue.push(to);
      }
    }
  }
  for (const node of scope) {
    if (reached.has(node)) continue;
    const from = node.parent ? `the first step of ${ownerLabel(node)}` : "the first step";
    ctx.issues.push({ path: node.path, message: `step "${node.id}" is unreachable: no path leads to it from ${from} ("${scope[0]!.id}")` });
  }
}

/**
 * A forward "must" dataflow: the ctx variables set on every path into each step of a scope
 * (intersection over predecessors). An edge carries the predecessor's outputs, except `on_error`:
 * the failing step's changes are discarded.
 */
function availability(scope: StepNode[], entry: Set<string>, topIds: Map<string, StepNode>): Map<StepNode, Set<string>> {
  const into = new Map<StepNode, Set<string>>();
  if (!scope.length) return into;
  into.set(scope[0]!, new Set(entry));
  const queue = [scope[0]!];
  while (queue.length) {
    const node = queue.shift()!;
    const before = into.get(node)!;
    const after = new Set([...before, ...producedBy(node)]);
    for (const { to, kind } of successors(node, topIds)) {
      const incoming = kind === "error" ? before : after;
      const previous = into.get(to);
      const next = previous ? new Set([...previous].filter((name) => incoming.has(name))) : new Set(incoming);
      if (!previous || next.size !== previous.size) {
        into.set(to, next);
        queue.push(to);
      }
    }
  }
  return into;
}

/** Rule 5 for one step: the root of each reference must be available on every path into it. */
function checkReferences(ctx: RuleContext, node: StepNode, available: Set<string>, everSet: Set<string>): void {
  const step = readable(node);
  if (!step || !node.type?.references) return;
  const sites = safe(() => node.type!.references!(step), []);
  const reported = new Set<string>();
  for (const site of sites) {
    const refs = site.kind === "value"
      ? findReferences(site.value).map((r) => ({ segments: splitPath(r.path), shown: `$${r.path}` }))
      : typeof site.value === "string"
      ? [{ segments: splitPath(site.value), shown: site.value }]
      : [];
    const extra = new Set(site.extraRoots ?? []);
    for (const { segments, shown } of refs) {
      const root = segments[0];
      if (root === undefined) continue;
      const verb = site.kind === "value" ? "references" : "reads";
      let message: string | undefined;
      if (root === "input") {
        const name = segments[1];
        if (ctx.inputs && name !== undefined && !ctx.inputs.includes(name)) {
          const declared = ctx.inputs.length ? ctx.inputs.join(", ") : "none";
          message = `step "${node.id}" ${verb} "${shown}" but the workflow declares no input "${name}" (declared: ${declared})`;
        }
      } else if (!ALWAYS.has(root) && !available.has(root) && !extra.has(root)) {
        message = everSet.has(root)
          ? `step "${node.id}" ${verb} "${shown}" but "${root}" is not set on every path to it`
          : `step "${node.id}" ${verb} "${shown}" but no step sets "${root}"`;
      }
      const key = `${site.key}|${shown}`;
      if (message && !reported.has(key)) {
        reported.add(key);
        ctx.issues.push({ path: [...node.path, ...parseKey(site.key)], message });
      }
    }
  }
}

function checkScopeReferences(
  ctx: RuleContext,
  scope: StepNode[],
  entry: Set<string>,
  topIds: Map<string, StepNode>,
  everSet: Set<string>,
): void {
  const into = availability(scope, entry, topIds);
  for (const node of scope) {
    const available = into.get(node);
    if (!available) continue; // unreachable: reported by rule 4
    checkReferences(ctx, node, available, everSet);
    for (const body of node.bodies) {
      const inner = new Set([...available, ...body.locals]);
      if (body.kind === "sequence") checkScopeReferences(ctx, body.nodes, inner, topIds, everSet);
      else for (const branch of body.nodes) checkScopeReferences(ctx, [branch], inner, topIds, everSet);
    }
  }
}

/** Rule 7 (patterns): a literal `matches` pattern of a condition compiles and is at most 256 characters. */
function checkPatterns(ctx: RuleContext): void {
  for (const node of ctx.all) {
    const step = readable(node);
    if (!step || !node.type?.references) continue;
    for (const site of safe(() => node.type!.references!(step), [])) {
      if (site.kind !== "path" || !site.key.endsWith(".field")) continue;
      const conditionKey = parseKey(site.key.slice(0, -".field".length));
      const condition = valueAt(step, conditionKey);
      if (!isPlainObject(condition) || condition.op !== "matches") continue;
      const path = [...node.path, ...conditionKey, "value"];
      const pattern = condition.value;
      if (typeof pattern !== "string") {
        ctx.issues.push({ path, message: `"matches" needs a regular expression (a string) in "value"` });
        continue;
      }
      if (findReferences(pattern).length) continue; // resolved at run time; checked there
      if (pattern.length > MAX_PATTERN_LENGTH) {
        ctx.issues.push({ path, message: `the pattern is ${pattern.length} characters long; at most ${MAX_PATTERN_LENGTH} are allowed` });
        continue;
      }
      try {
        new RegExp(pattern);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        ctx.issues.push({ path, message: `invalid regular expression ${JSON.stringify(pattern)}: ${reason}` });
        continue;
      }
      const unsafe = unsafePatternReason(pattern);
      if (unsafe) ctx.issues.push({ path, message: `unsafe regular expression ${JSON.stringify(pattern)}: ${unsafe}` });
    }
  }
}

/** Runs every cross-step rule. */
export function checkRules(ctx: RuleContext): void {
  const unique = checkUniqueIds(ctx);
  const topIds = new Map<string, StepNode>();
  for (const node of ctx.top) if (node.id !== undefined && !topIds.has(node.id)) topIds.set(node.id, node);
  checkTargets(ctx, topIds);
  checkPatterns(ctx);
  // A step of an unknown type could set any variable: references are checked only when every type is known.
  const sound = unique && ctx.all.every((node) => node.type !== undefined) && ctx.top.length > 0;
  if (!sound) return;
  // A step that failed its schema may hide a target (a malformed `routes`): "unreachable" would be noise then.
  if (ctx.all.every((node) => node.step !== undefined)) {
    checkReachable(ctx, ctx.top, topIds);
    for (const node of ctx.all) {
      for (const body of node.bodies) if (body.kind === "sequence") checkReachable(ctx, body.nodes, topIds);
    }
  }
  const everSet = new Set<string>();
  for (const node of ctx.all) {
    for (const name of outputsOf(node)) everSet.add(name);
    for (const body of node.bodies) for (const name of body.locals) everSet.add(name);
  }
  checkScopeReferences(ctx, ctx.top, new Set(), topIds, everSet);
}
