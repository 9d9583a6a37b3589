/**
 * Pinned definitions: an execution always runs on the definition it started with. The first time an execution
 * starts on a definition, the definition is stored under its hash (in the same commit, once per hash and
 * isolate); every later resume, continue, wake or retry loads it back by that hash (cached per isolate),
 * whatever is deployed now.
 */
import { loadWorkflow } from "../definition/load.ts";
import type { WorkflowDefinition } from "../definition/workflow.ts";
import type { StepRegistry } from "../steps/registry.ts";
import type { Store, StoredDefinition } from "../store/store.ts";

/** Hashes this isolate knows to be stored, per store. */
const storedHashes = new WeakMap<Store, Set<string>>();
/** Definitions loaded back by hash (immutable, so shared by every store and engine of the isolate). */
const loadedByHash = new Map<string, WorkflowDefinition>();
const MAX_CACHED = 500;

/** The source kept for a definition given in code: its normalised content as JSON (loads back to the same hash). */
function sourceOf(workflow: WorkflowDefinition): string {
  const { hash: _hash, ...content } = workflow;
  return JSON.stringify(content);
}

export function storedDefinition(workflow: WorkflowDefinition, storedAt: Date, source = sourceOf(workflow)): StoredDefinition {
  return { workflowId: workflow.id, version: workflow.version, hash: workflow.hash, source, storedAt: storedAt.toISOString() };
}

/** The definition to send with a new execution's first commit, or undefined when this isolate already stored it. */
export function definitionToPin(store: Store, workflow: WorkflowDefinition, now: Date): StoredDefinition | undefined {
  return storedHashes.get(store)?.has(workflow.hash) ? undefined : storedDefinition(workflow, now);
}

export function markStored(store: Store, hash: string): void {
  let hashes = storedHashes.get(store);
  if (!hashes) storedHashes.set(store, hashes = new Set());
  hashes.add(hash);
}

/**
 * The definition an execution started with: `current` when the hashes match, else the stored one (loaded
 * with `registry`, cached), else `current` — an execution started before definitions were stored.
 */
export async function pinnedDefinition(
  store: Store,
  hash: string,
  current: WorkflowDefinition | undefined,
  registry?: StepRegistry,
): Promise<WorkflowDefinition | undefined> {
  if (current?.hash === hash) return current;
  const cached = loadedByHash.get(hash);
  if (cached) return cached;
  const stored = await store.definition(hash);
  if (!stored) return current;
  const workflow = loadWorkflow(stored.source, { registry });
  if (loadedByHash.size >= MAX_CACHED) loadedByHash.delete(loadedByHash.keys().next().value!);
  loadedByHash.set(hash, workflow);
  markStored(store, hash);
  return workflow;
}
