// Engines kept per workflow definition: runners share one per definition, performJob reuses one between untraced jobs
// of the same options, a traced job gets its own, and configure() drops them all.
import { afterEach, describe, expect, test } from "bun:test";
import { configure, Engine, loadWorkflow, MemoryStore, SyncRunner } from "../../../mod.ts";
import type { WorkflowDefinition } from "../../../mod.ts";
import { currentConfig } from "../../../src/config.ts";
import { type Job, performJob, type PerformOptions } from "../../../src/queue.ts";
import { Engines } from "../../../src/runners/engines.ts";

const oneStep = loadWorkflow({
  id: "one_step",
  name: "One step",
  steps: [
    { id: "start", type: "start", next: "a" },
    { id: "a", type: "call", service: "work", input: { n: 1 }, output: "a", next: "finish" },
    { id: "finish", type: "end", result: "$a" },
  ],
});
const other = loadWorkflow({
  id: "other",
  name: "Other",
  steps: [{ id: "start", type: "start", next: "finish" }, { id: "finish", type: "end" }],
});

const saved = currentConfig();
afterEach(() => configure(saved));

/** Engines of a counting maker: `made` counts the engines made. */
function counted() {
  const store = new MemoryStore();
  const state = { made: 0 };
  const engines = new Engines((workflow: WorkflowDefinition) => (state.made++, new Engine(workflow, { store })));
  return { engines, state };
}

describe("Engines", () => {
  test("shared gives one engine per definition, for every call", () => {
    const { engines, state } = counted();
    expect(engines.shared(oneStep)).toBe(engines.shared(oneStep));
    expect(engines.shared(other)).not.toBe(engines.shared(oneStep));
    expect(state.made).toBe(2);
  });

  test("take gives an engine nobody else holds; release makes it the next one taken", () => {
    const { engines, state } = counted();
    const first = engines.take(oneStep);
    const second = engines.take(oneStep);
    expect(second).not.toBe(first);
    engines.release(oneStep, first);
    expect(engines.take(oneStep)).toBe(first);
    expect(state.made).toBe(2);
  });

  test("configure() drops the kept engines, and an engine made before it is not kept on release", () => {
    const { engines, state } = counted();
    const before = engines.take(oneStep);
    const shared = engines.shared(oneStep);
    configure({ services: { work: async () => 1 } });
    expect(engines.shared(oneStep)).not.toBe(shared);
    engines.release(oneStep, before);
    expect(engines.take(oneStep)).not.toBe(before);
    expect(state.made).toBe(4);
  });
});

describe("runners and performJob", () => {
  test("a runner's calls on one definition share one engine", async () => {
    class Probe extends SyncRunner {
      probe(): Engine {
        return this.engine();
      }
    }
    const runner = new Probe(oneStep, { store: new MemoryStore(), services: { work: async (input) => input } });
    const engine = runner.probe();
    expect((await runner.run({})).status).toBe("completed");
    expect(runner.probe()).toBe(engine);
  });

  test("performJob makes one engine for untraced jobs of the same options, and one of its own for a traced job", async () => {
    const store = new MemoryStore();
    let made = 0;
    // Every engine is made from a copy of the options: reading `limits` counts the engines made.
    const options: PerformOptions = {
      store,
      services: { work: async (input) => input },
      workflows: () => oneStep,
      get limits() {
        made++;
        return undefined;
      },
    };
    const start = async (id: string, traceparent?: string) => {
      await new Engine(oneStep, { store }).prepare({}, { executionId: id });
      const job: Job = { workflowId: oneStep.id, executionId: id, action: "start", ...(traceparent ? { traceparent } : {}) };
      return (await performJob(job, options)).result.status;
    };
    expect(await start("a")).toBe("completed");
    expect(await start("b")).toBe("completed");
    expect(made).toBe(1);
    expect(await start("c", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")).toBe("completed");
    expect(made).toBe(2);
  });
});
