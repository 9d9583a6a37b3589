// Engines kept per workflow definition: runners share one per definition, performJob reuses one between untraced jobs
// of the same options, a traced job gets its own, and configure() drops them all.
import { afterEach, describe, expect, test } from "bun:test";
import { configure, Engine, loadWorkflow, MemoryStore, SyncRunner } from "../../../mod.ts";
import type { WorkflowDefinition } from "../../../mod.ts";
import { currentConfig } from "../../../src/config.ts";
import { type Job, performJob, type PerformOptions } from "../../../src/queue.ts";
import { Engines } from "../../../src/runners/engines.ts";
import { wireTelemetry } from "../../support/telemetry.ts";

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

  /** Options whose engines are counted (every engine is made from a copy of them: reading `limits` counts one). */
  function countedOptions() {
    const store = new MemoryStore();
    const counter = { made: 0 };
    const options: PerformOptions = {
      store,
      services: { work: async (input) => input },
      workflows: () => oneStep,
      get limits() {
        counter.made++;
        return undefined;
      },
    };
    const perform = async (id: string, traceparent?: string) => {
      await new Engine(oneStep, { store }).prepare({}, { executionId: id });
      const job: Job = { workflowId: oneStep.id, executionId: id, action: "start", ...(traceparent ? { traceparent } : {}) };
      return await performJob(job, options);
    };
    return { counter, perform };
  }

  test("while a tracing SDK records, an engine whose job left its trace context is not kept: each job reports its own", async () => {
    const telemetry = wireTelemetry({ metrics: false });
    try {
      const { counter, perform } = countedOptions();
      const first = await perform("a");
      const second = await perform("b");
      expect(first.traceparent).toBeDefined();
      expect(second.traceparent).toBeDefined();
      expect(second.traceparent).not.toBe(first.traceparent);
      expect(counter.made).toBe(2);
    } finally {
      await telemetry.unwire();
    }
  });

  test("performJob makes one engine for untraced jobs of the same options, and one of its own for a traced job", async () => {
    const { counter, perform } = countedOptions();
    expect((await perform("a")).result.status).toBe("completed");
    expect((await perform("b")).result.status).toBe("completed");
    expect(counter.made).toBe(1);
    expect((await perform("c", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")).result.status).toBe("completed");
    expect(counter.made).toBe(2);
  });
});
