/**
 * Definition selection, for the runners and the HTTP layer alike.
 *
 * Pinned definitions: an execution always runs on the definition it started with. The first time an execution
 * starts on a definition, the definition is stored under its hash (in the same commit, once per hash and
 * isolate); every later resume, continue, wake or retry loads it back by that hash (cached per isolate),
 * whatever is deployed now.
 *
 * The current version (Catalog): which definition of a workflow NEW runs use.
 */
import { lookupWorkflow, type WorkflowLookup } from "../config.ts";
import { loadWorkflow } from "../definition/load.ts";
import { ConflictError, type ValidationIssue } from "../errors.ts";
import type { WorkflowDefinition } from "../definition/workflow.ts";
import type { StepRegistry } from "../steps/registry.ts";
import type { Store, StoredDefinition } from "../store/store.ts";
import { type Clock, toClock } from "./clock.ts";

/** Hashes this isolate knows to be stored, per store. */
const storedHashes = new WeakMap<Store, Set<string>>();
/** Definitions loaded back by hash (immutable, so shared by every store and engine of the isolate). */
const loadedByHash = new Map<string, WorkflowDefinition>();
const MAX_CACHED = 500;

/** Sources made so far (a definition is frozen: its source never changes). */
const sources = new WeakMap<WorkflowDefinition, string>();

/** The source kept for a definition given in code: its normalised content as JSON (loads back to the same hash). */
function sourceOf(workflow: WorkflowDefinition): string {
  let source = sources.get(workflow);
  if (source === undefined) {
    const { hash: _hash, ...content } = workflow;
    sources.set(workflow, source = JSON.stringify(content));
  }
  return source;
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
  return stored ? loadStored(store, stored, registry) : current;
}

/** A stored definition loaded (with `registry`), cached by hash for the isolate. */
function loadStored(store: Store, stored: StoredDefinition, registry?: StepRegistry): WorkflowDefinition {
  const workflow = loadedByHash.get(stored.hash) ?? remember(loadWorkflow(stored.source, { registry }));
  markStored(store, stored.hash);
  return workflow;
}

function remember(workflow: WorkflowDefinition): WorkflowDefinition {
  if (loadedByHash.size >= MAX_CACHED) loadedByHash.delete(loadedByHash.keys().next().value!);
  loadedByHash.set(workflow.hash, workflow);
  return workflow;
}

/** A definition put under a version string that is stored with another definition (HTTP 409). */
export class VersionTakenError extends ConflictError {
  override name = "VersionTakenError";
  /** The problem, as an issue of the definition's `version`. */
  readonly issue: ValidationIssue;
  constructor(workflow: WorkflowDefinition, takenBy: string) {
    const message = `version "${workflow.version}" of workflow "${workflow.id}" is already stored with another definition ` +
      `(hash ${takenBy}; this one's is ${workflow.hash}): give the changed definition a new version`;
    super(`${message[0]!.toUpperCase()}${message.slice(1)}.`);
    this.issue = { path: "version", message };
  }
}

/** Code definitions settled in this isolate, per store and hash (see Catalog). */
const settled = new WeakMap<Store, Map<string, Promise<StoredDefinition | null>>>();

/**
 * Which definition of a workflow NEW runs use: the store's current version (made current by
 * `PUT /workflows/:id`, by any app or runner sharing the store), else the one given in code.
 *
 * A definition given in code is stored at its first use in this isolate and made current when the store has no
 * current version of that workflow or never saw the code's hash: a redeploy with a changed definition becomes
 * current, an older code definition never overrides a newer PUT. After that first use, resolving a workflow is
 * one store request (`currentDefinition`), or none where the caller saves the run with the version it last resolved
 * and the save checks it (`lastCurrent`, `Commit.currentHash`); loaded definitions are cached by hash.
 */
export class Catalog {
  readonly #store: Store;
  readonly #code: WorkflowLookup;
  readonly #clock: Clock;
  readonly #registry: StepRegistry | undefined;
  readonly #latest = new Map<string, WorkflowDefinition>();

  constructor(store: Store, code: WorkflowLookup, options: { clock?: Clock | (() => Date); registry?: StepRegistry } = {}) {
    this.#store = store;
    this.#code = code;
    this.#clock = toClock(options.clock);
    this.#registry = options.registry;
  }

  /** The workflow's current definition, or undefined when neither the store nor the code has it. */
  async current(id: string): Promise<WorkflowDefinition | undefined> {
    const code = lookupWorkflow(this.#code, id);
    const stored = code ? await this.#settle(code) : await this.#store.currentDefinition(id);
    const workflow = stored ? (code?.hash === stored.hash ? code : loadStored(this.#store, stored, this.#registry)) : code;
    if (workflow) this.#latest.set(id, workflow);
    return workflow;
  }

  /**
   * Without a store request: the definition this catalog last resolved for `id`, else the code's. For queues
   * and child steps, which look workflows up synchronously; an execution then runs on its pinned definition.
   */
  known(id: string): WorkflowDefinition | undefined {
    return this.#latest.get(id) ?? lookupWorkflow(this.#code, id);
  }

  /** The definition `current(id)` last returned in this catalog (no store request), or undefined before its first call. */
  lastCurrent(id: string): WorkflowDefinition | undefined {
    return this.#latest.get(id);
  }

  /** The current definition of every workflow given in code (`codeIds`, first, in their order) or stored with a current version. */
  async list(codeIds: readonly string[]): Promise<WorkflowDefinition[]> {
    const ids = [...new Set([...codeIds, ...(await this.#store.workflowIds())])];
    const workflows = await Promise.all(ids.map((id) => this.current(id)));
    return workflows.filter((w): w is WorkflowDefinition => w !== undefined);
  }

  /**
   * Stores `workflow` (loaded from `source`) and makes it current. `created` is false when that hash already
   * was the current version (nothing changed). A version string stored with another definition is a
   * VersionTakenError: one version, one definition, so the versions and the executions pinned to them stay unambiguous.
   */
  async put(workflow: WorkflowDefinition, source: string, actor?: string): Promise<{ created: boolean }> {
    // The code's definition first, so that its first use after this PUT does not take it for a redeploy.
    const code = lookupWorkflow(this.#code, workflow.id);
    const current = code ? await this.#settle(code) : await this.#store.currentDefinition(workflow.id);
    if (current?.hash === workflow.hash) return { created: false };
    const taken = (await this.#store.definitionVersions(workflow.id)).find((v) =>
      v.version === workflow.version && v.hash !== workflow.hash
    );
    if (taken) throw new VersionTakenError(workflow, taken.hash);
    const stored = storedDefinition(workflow, this.#clock.now(), source);
    await this.#store.putDefinition(actor ? { ...stored, storedBy: actor } : stored, { current: true });
    markStored(this.#store, remember(workflow).hash);
    return { created: true };
  }

  /** Once per isolate, store and code definition: stores it if the rule above says so; the current version. */
  #settle(code: WorkflowDefinition): Promise<StoredDefinition | null> {
    let byHash = settled.get(this.#store);
    if (!byHash) settled.set(this.#store, byHash = new Map());
    const done = byHash.get(code.hash);
    if (done) return done.then(() => this.#store.currentDefinition(code.id));
    const pending = this.#settleOnce(code);
    byHash.set(code.hash, pending);
    pending.catch(() => byHash.delete(code.hash));
    return pending;
  }

  async #settleOnce(code: WorkflowDefinition): Promise<StoredDefinition | null> {
    const current = await this.#store.currentDefinition(code.id);
    if (current?.hash === code.hash) return current;
    if (current && (await this.#store.definition(code.hash))) return current;
    const stored = storedDefinition(code, this.#clock.now());
    await this.#store.putDefinition(stored, { current: true });
    markStored(this.#store, code.hash);
    return stored;
  }
}
