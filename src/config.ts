import type { WorkflowDefinition } from "./definition/workflow.ts";
import type { Clock } from "./engine/clock.ts";
import type { Store } from "./store/store.ts";
import type { Services } from "./types.ts";

export interface GlobalConfig {
  store?: Store;
  services?: Services;
  /** A Clock, or a function giving the time (with real timers). */
  clock?: Clock | (() => Date);
}

let config: GlobalConfig = {};
const workflows = new Map<string, WorkflowDefinition>();

/** Global defaults (optional convenience; options given to an engine or runner always win). */
export function configure(options: GlobalConfig): void {
  config = { ...config, ...options };
}

export function currentConfig(): Readonly<GlobalConfig> {
  return config;
}

/** Registers a workflow for the async adapters and for `workflow` steps. */
export function register(workflow: WorkflowDefinition): void {
  workflows.set(workflow.id, workflow);
}

export function getWorkflow(id: string): WorkflowDefinition | undefined {
  return workflows.get(id);
}

/** Clears the configuration and the workflow registry. */
export function resetConfig(): void {
  config = {};
  workflows.clear();
}

/** Where an engine finds child workflows and an adapter finds the workflow of a job. */
export type WorkflowLookup =
  | ((id: string) => WorkflowDefinition | undefined)
  | ReadonlyMap<string, WorkflowDefinition>
  | Readonly<Record<string, WorkflowDefinition>>
  | readonly WorkflowDefinition[];

export function lookupWorkflow(source: WorkflowLookup | undefined, id: string): WorkflowDefinition | undefined {
  if (source === undefined) return getWorkflow(id);
  if (typeof source === "function") return source(id);
  if (source instanceof Map) return source.get(id);
  if (Array.isArray(source)) return source.find((w) => w.id === id);
  const record = source as Readonly<Record<string, WorkflowDefinition>>;
  return Object.hasOwn(record, id) ? record[id] : undefined;
}
