import { lookupWorkflow, type WorkflowLookup } from "../src/config.ts";
import { loadWorkflow } from "../src/definition/load.ts";
import type { WorkflowDefinition } from "../src/definition/workflow.ts";
import { markStored, storedDefinition } from "../src/engine/definitions.ts";
import { defaultStepRegistry } from "../src/steps/registry.ts";
import type { StepDefinition } from "../src/steps/step.ts";
import type { Store, StoredDefinition } from "../src/store/store.ts";
import type { Services } from "../src/types.ts";
import { HttpProblem } from "./problems.ts";

const MAX_LOADED = 200;

/**
 * Which definition of a workflow NEW runs use: the store's current version (made current by
 * `PUT /workflows/:id`, by this app or another one sharing the store), else the one given in code.
 *
 * A definition given in code is stored at its first use in this isolate and made current when the store has no
 * current version of that workflow or never saw the code's hash: a redeploy with a changed definition becomes
 * current, an older code definition never overrides a newer PUT. After that first use, resolving a workflow is
 * one store request (`currentDefinition`); loaded definitions are cached by hash.
 */
export class Catalog {
  readonly #store: Store;
  readonly #code: WorkflowLookup;
  readonly #clock: () => Date;
  readonly #loaded = new Map<string, WorkflowDefinition>();
  readonly #settled = new Map<string, Promise<StoredDefinition | null>>();
  readonly #latest = new Map<string, WorkflowDefinition>();

  constructor(store: Store, code: WorkflowLookup, clock: () => Date = () => new Date()) {
    this.#store = store;
    this.#code = code;
    this.#clock = clock;
  }

  /** The workflow's current definition, or undefined when neither the store nor the code has it. */
  async current(id: string): Promise<WorkflowDefinition | undefined> {
    const code = lookupWorkflow(this.#code, id);
    const stored = code ? await this.#settle(code) : await this.#store.currentDefinition(id);
    const workflow = stored ? this.#load(stored, code) : code;
    if (workflow) this.#latest.set(id, workflow);
    return workflow;
  }

  /**
   * Without a store request: the definition this isolate last resolved for `id`, else the code's. For queues
   * and child steps, which look workflows up synchronously; an execution then runs on its pinned definition.
   */
  known(id: string): WorkflowDefinition | undefined {
    return this.#latest.get(id) ?? lookupWorkflow(this.#code, id);
  }

  /** The current definition of every workflow given in code (`codeIds`, first, in their order) or stored with a current version. */
  async list(codeIds: readonly string[]): Promise<WorkflowDefinition[]> {
    const ids = [...new Set([...codeIds, ...(await this.#store.workflowIds())])];
    const workflows = await Promise.all(ids.map((id) => this.current(id)));
    return workflows.filter((w): w is WorkflowDefinition => w !== undefined);
  }

  /**
   * Stores `workflow` (loaded from `source`) and makes it current. `created` is false when that hash already
   * was the current version (nothing changed). A version string stored with another definition is a 409: one
   * version, one definition, so `GET /workflows/:id/versions` and the executions pinned to it stay unambiguous.
   */
  async put(workflow: WorkflowDefinition, source: string, actor?: string): Promise<{ created: boolean }> {
    // The code's definition first, so that its first use after this PUT does not take it for a redeploy.
    const code = lookupWorkflow(this.#code, workflow.id);
    const current = code ? await this.#settle(code) : await this.#store.currentDefinition(workflow.id);
    if (current?.hash === workflow.hash) return { created: false };
    const taken = (await this.#store.definitionVersions(workflow.id)).find((v) =>
      v.version === workflow.version && v.hash !== workflow.hash
    );
    if (taken) {
      const message = `version "${workflow.version}" of workflow "${workflow.id}" is already stored with another definition ` +
        `(hash ${taken.hash}; this one's is ${workflow.hash}): give the changed definition a new version`;
      throw new HttpProblem(409, `${message[0]!.toUpperCase()}${message.slice(1)}.`, { errors: [{ path: "version", message }] });
    }
    const stored = storedDefinition(workflow, this.#clock(), source);
    await this.#store.putDefinition(actor ? { ...stored, storedBy: actor } : stored, { current: true });
    this.#remember(workflow);
    return { created: true };
  }

  /** Once per isolate and workflow given in code: stores it if the rule above says so; the current version. */
  #settle(code: WorkflowDefinition): Promise<StoredDefinition | null> {
    const settled = this.#settled.get(code.id);
    if (settled) return settled.then(() => this.#store.currentDefinition(code.id));
    const pending = this.#settleOnce(code);
    this.#settled.set(code.id, pending);
    pending.catch(() => this.#settled.delete(code.id));
    return pending;
  }

  async #settleOnce(code: WorkflowDefinition): Promise<StoredDefinition | null> {
    const current = await this.#store.currentDefinition(code.id);
    if (current?.hash === code.hash) return current;
    if (current && (await this.#store.definition(code.hash))) return current;
    const stored = storedDefinition(code, this.#clock());
    await this.#store.putDefinition(stored, { current: true });
    this.#remember(code);
    return stored;
  }

  #load(stored: StoredDefinition, code: WorkflowDefinition | undefined): WorkflowDefinition {
    if (code?.hash === stored.hash) return code;
    const cached = this.#loaded.get(stored.hash);
    if (cached) return cached;
    const workflow = loadWorkflow(stored.source);
    this.#remember(workflow);
    return workflow;
  }

  #remember(workflow: WorkflowDefinition): void {
    if (this.#loaded.size >= MAX_LOADED) this.#loaded.delete(this.#loaded.keys().next().value!);
    this.#loaded.set(workflow.hash, workflow);
    markStored(this.#store, workflow.hash);
  }
}

/** Every `service` or `service.method` that a `call` step of `workflow` (nested ones included) names and `services` lacks. */
export function missingServices(workflow: WorkflowDefinition, services: Services): string[] {
  const missing = new Set<string>();
  const visit = (steps: readonly StepDefinition[]) => {
    for (const step of steps) {
      if (step.type === "call") {
        const name = String(step.service);
        const method = typeof step.method === "string" ? step.method : undefined;
        const service = Object.hasOwn(services, name) ? services[name] : undefined;
        if (service === undefined) missing.add(method ? `${name}.${method}` : name);
        else if (
          method &&
          !(service && typeof service === "object" && Object.hasOwn(service, method) &&
            typeof (service as Record<string, unknown>)[method] === "function")
        ) {
          missing.add(`${name}.${method}`);
        }
      }
      for (const body of defaultStepRegistry.get(step.type)?.bodies?.(step as never) ?? []) visit(body.steps);
    }
  };
  visit(workflow.steps);
  return [...missing];
}
