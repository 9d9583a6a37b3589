import { currentConfig } from "../config.ts";
import type { WorkflowDefinition } from "../definition/workflow.ts";
import type { Engine } from "../engine/engine.ts";

/** Idle engines kept per workflow definition (more are made while more calls overlap). */
const MAX_IDLE = 8;

/**
 * Engines kept per workflow definition, so that a call does not build an Engine and its step map again (a Map of every
 * step: about 9 µs at 100 steps, 44 µs at 500, per call). All are dropped when `configure()` changes the defaults an
 * engine reads when it is made (store, services, clock).
 */
export class Engines {
  readonly #make: (workflow: WorkflowDefinition) => Engine;
  #config = currentConfig();
  #shared = new WeakMap<WorkflowDefinition, Engine>();
  #idle = new WeakMap<WorkflowDefinition, Engine[]>();
  #made = new WeakSet<Engine>();

  constructor(make: (workflow: WorkflowDefinition) => Engine) {
    this.#make = make;
  }

  /** The one engine of `workflow` for every call, overlapping ones too: for callers that read no state it keeps between calls. */
  shared(workflow: WorkflowDefinition): Engine {
    this.#current();
    let engine = this.#shared.get(workflow);
    if (!engine) this.#shared.set(workflow, engine = this.#new(workflow));
    return engine;
  }

  /** An engine no other call uses until `release` gives it back: its `lastTraceparent` is this call's. */
  take(workflow: WorkflowDefinition): Engine {
    this.#current();
    return this.#idle.get(workflow)?.pop() ?? this.#new(workflow);
  }

  /** Keeps `engine` for the next call, unless a traced call left its traceparent on it or the config changed since it was made. */
  release(workflow: WorkflowDefinition, engine: Engine): void {
    if (engine.lastTraceparent !== undefined || !this.#made.has(engine)) return;
    let idle = this.#idle.get(workflow);
    if (!idle) this.#idle.set(workflow, idle = []);
    if (idle.length < MAX_IDLE) idle.push(engine);
  }

  #new(workflow: WorkflowDefinition): Engine {
    const engine = this.#make(workflow);
    this.#made.add(engine);
    return engine;
  }

  #current(): void {
    if (currentConfig() === this.#config) return;
    this.#config = currentConfig();
    this.#shared = new WeakMap();
    this.#idle = new WeakMap();
    this.#made = new WeakSet();
  }
}
