// Runners start new runs on the workflow's current version without reading it first: the save checks it.
import { describe, expect, test } from "bun:test";
import { AsyncRunner, Catalog, type Job, loadWorkflow, MemoryStore, SyncRunner } from "../../../mod.ts";
import { countingStore } from "../../support/engine.ts";

const define = (version: string) =>
  loadWorkflow({
    id: "versioned",
    name: "Versioned",
    version,
    steps: [{ id: "start", type: "start", next: "finish" }, { id: "finish", type: "end", result: { version } }],
  });
const v1 = define("1");
const v2 = define("2");

function setup() {
  const counted = countingStore(new MemoryStore());
  const jobs: Job[] = [];
  const runner = new AsyncRunner(v1, { store: counted.store, adapter: { enqueue: async (job) => void jobs.push(job) } });
  return { counted, jobs, runner };
}

describe("AsyncRunner: the current version, checked in the save", () => {
  test("once the runner knows the current version, a run is one store request: the save, which checks the version", async () => {
    const { counted, jobs, runner } = setup();
    await runner.run({}, { executionId: "first" });
    counted.reset();
    await runner.run({}, { executionId: "second" });
    expect(counted.counts).toEqual({ commit: 1 });
    expect(counted.commits[0]!.currentHash).toBe(v1.hash);
    expect(jobs.map((job) => job.workflowVersion)).toEqual(["1", "1"]);
  });

  test("a version made current meanwhile by another app is the one the next run starts on", async () => {
    const { counted, jobs, runner } = setup();
    await runner.run({}, { executionId: "before" });
    await new Catalog(counted.store, []).put(v2, JSON.stringify(v2));
    await runner.run({}, { executionId: "after" });
    expect((await counted.store.load("after"))!.workflowHash).toBe(v2.hash);
    expect(jobs.map((job) => job.workflowVersion)).toEqual(["1", "2"]);
    // The refused save wrote nothing: the run was saved once, on v2.
    expect(counted.commits.filter((c) => c.execution.id === "after").map((c) => c.execution.workflowHash)).toEqual([v1.hash, v2.hash]);
  });
});

describe("SyncRunner: the current version, checked in the first commit", () => {
  test("once the runner knows the current version, a run of pure steps is one store request, which checks the version", async () => {
    const counted = countingStore(new MemoryStore());
    const runner = new SyncRunner(v1, { store: counted.store });
    await runner.run({}, { executionId: "first" });
    counted.reset();
    expect((await runner.run({}, { executionId: "second" })).output).toEqual({ version: "1" });
    expect(counted.counts).toEqual({ commit: 1 });
    expect(counted.commits[0]!.currentHash).toBe(v1.hash);
  });

  test("a version made current meanwhile by another app is the one the next run runs on", async () => {
    const counted = countingStore(new MemoryStore());
    const events: string[] = [];
    const runner = new SyncRunner(v1, { store: counted.store, onEvent: (event) => events.push(`${event.type}`) });
    await runner.run({}, { executionId: "before" });
    await new Catalog(counted.store, []).put(v2, JSON.stringify(v2));
    events.length = 0;
    expect((await runner.run({}, { executionId: "after" })).output).toEqual({ version: "2" });
    expect((await counted.store.load("after"))!.workflowHash).toBe(v2.hash);
    // The run on v1 was refused before anything of it was stored or emitted: one run's events.
    expect(events.filter((type) => type === "workflow.started")).toEqual(["workflow.started"]);
  });
});
