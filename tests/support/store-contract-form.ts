/**
 * The store contract, continued: the stored form (deltas, compaction, concurrency), the recovery index and
 * stored definitions. Called by `storeContract`.
 */
import { describe, expect, test } from "bun:test";
import { ConflictError } from "../../src/errors.ts";
import { utf8Length } from "../../src/store/format.ts";
import type { Store, StoredDefinition, StoreFootprint } from "../../src/store/store.ts";
import type { Execution, ExecutionDelta, ExecutionStatus } from "../../src/types.ts";
import { makeExecution } from "./store-contract.ts";

/** A store as the contract sees it: the interface plus `footprint`, to watch compaction. */
export type ContractStore = Store & { footprint(id: string): Promise<StoreFootprint | null> };

const deltaBytes = (delta: ExecutionDelta) => utf8Length(JSON.stringify(delta));

/** Creates the execution and returns it as stored (revision 1). */
async function create(store: Store, overrides: Partial<Execution> = {}): Promise<Execution> {
  const exec = makeExecution(overrides);
  const { revision } = await store.commit({ execution: exec, expectedRevision: 0 });
  return { ...exec, revision };
}

/** Commits `next` (the execution after `delta`) on top of revision `next.revision`; returns it as stored. */
async function step(store: Store, next: Execution, delta: ExecutionDelta): Promise<Execution> {
  const { revision } = await store.commit({ execution: next, expectedRevision: next.revision, delta });
  return { ...next, revision };
}

export function storedFormContract(makeStore: () => Promise<ContractStore> | ContractStore): void {
  describe("deltas and compaction", () => {
    test("deltas of every kind fold back exactly (set, unset, input, result, haltData, loop start / move+append / clear)", async () => {
      const store = await makeStore();
      // A large snapshot, so that every one of these commits is a delta.
      let exec = await create(store, { ctx: { seed: "s".repeat(20_000), a: 1, b: 2 }, input: { x: 1 } });
      const loop = { stepId: "each", index: 0, outputs: [], before: { a: 1 } };
      const cases: [ExecutionDelta, Partial<Execution>][] = [
        [{ set: { c: 3, a: { nested: [1.5, "é"] } } }, { ctx: { ...exec.ctx, a: { nested: [1.5, "é"] }, c: 3 } }],
        [{ unset: ["b"] }, { ctx: { seed: exec.ctx.seed!, a: { nested: [1.5, "é"] }, c: 3 } }],
        [{ input: { y: 2 } }, { input: { y: 2 } }],
        [{ result: [1, "two", null] }, { result: [1, "two", null] }],
        [{ haltData: { ask: "ok?" } }, { haltData: { ask: "ok?" } }],
        [{ haltData: null }, { haltData: null }],
        [{ loop }, { loop }],
        [{ loop: { index: 1, append: [{ out: 1 }] } }, { loop: { ...loop, index: 1, outputs: [{ out: 1 }] } }],
        [{ loop: { index: 3, append: [2, 0.1] } }, { loop: { ...loop, index: 3, outputs: [{ out: 1 }, 2, 0.1] } }],
        [{ loop: null }, { loop: null }],
        [{ set: { "😀": false }, unset: ["c"], result: { done: true } }, { result: { done: true } }],
      ];
      for (const [delta, change] of cases) {
        const ctx = delta.set?.["😀"] === false ? { seed: exec.ctx.seed!, a: exec.ctx.a!, "😀": false } : exec.ctx;
        exec = await step(store, { ...exec, ctx, ...change, stepsExecuted: exec.stepsExecuted + 1, currentStep: "s" }, delta);
        expect(await store.load(exec.id)).toEqual(exec);
      }
      expect((await store.footprint(exec.id))?.deltas).toBe(cases.length);
    });

    test("a commit without a delta writes a snapshot and empties the log", async () => {
      const store = await makeStore();
      let exec = await create(store, { ctx: { seed: "s".repeat(5_000) } });
      exec = await step(store, { ...exec, ctx: { ...exec.ctx, a: 1 } }, { set: { a: 1 } });
      expect((await store.footprint(exec.id))?.deltas).toBe(1);
      const { revision } = await store.commit({ execution: { ...exec, ctx: { b: 2 } }, expectedRevision: exec.revision });
      const footprint = await store.footprint(exec.id);
      expect(footprint).toEqual({ snapshotBytes: footprint!.snapshotBytes, logBytes: 0, deltas: 0 });
      expect(await store.load(exec.id)).toEqual({ ...exec, ctx: { b: 2 }, revision });
    });

    test("the snapshot is rewritten when the log would reach its size, and the loaded state is unchanged by it", async () => {
      const store = await makeStore();
      let exec = await create(store, { ctx: { seed: "s".repeat(1_000) } });
      let before = (await store.footprint(exec.id))!;
      expect(before).toEqual({ snapshotBytes: before.snapshotBytes, logBytes: 0, deltas: 0 });
      let compactions = 0;
      for (let i = 0; i < 40; i++) {
        const delta = { set: { [`k${i % 7}`]: `${i}`.repeat(60) } };
        exec = await step(store, { ...exec, ctx: { ...exec.ctx, ...delta.set } }, delta);
        const after = (await store.footprint(exec.id))!;
        if (before.logBytes + deltaBytes(delta) >= before.snapshotBytes) {
          compactions += 1;
          expect(after).toEqual({
            snapshotBytes: utf8Length(JSON.stringify({ input: exec.input, ctx: exec.ctx, result: null, haltData: null, loop: null })),
            logBytes: 0,
            deltas: 0,
          });
        } else {
          expect(after).toEqual({
            snapshotBytes: before.snapshotBytes,
            logBytes: before.logBytes + deltaBytes(delta),
            deltas: before.deltas + 1,
          });
        }
        expect(await store.load(exec.id)).toEqual(exec);
        before = after;
      }
      expect(compactions).toBeGreaterThanOrEqual(2);
    });

    test("bytes written over a 1 000-commit run stay linear in the final state plus the deltas", async () => {
      const store = await makeStore();
      let exec = await create(store, { ctx: {} });
      let before = (await store.footprint(exec.id))!;
      let written = before.snapshotBytes;
      let deltas = 0;
      for (let i = 0; i < 1000; i++) {
        // Half the commits add a key (the state grows), half overwrite one (it does not).
        const delta = { set: { [i % 2 ? `grow${i}` : "same"]: { i, text: "v".repeat(20) } } };
        deltas += deltaBytes(delta);
        exec = await step(store, { ...exec, ctx: { ...exec.ctx, ...delta.set } }, delta);
        const after = (await store.footprint(exec.id))!;
        written += after.deltas === 0 ? after.snapshotBytes : after.logBytes - before.logBytes;
        before = after;
      }
      const final = before.snapshotBytes + before.logBytes;
      expect(written).toBeLessThanOrEqual(3 * (final + deltas));
      expect(await store.load(exec.id)).toEqual(exec);
    });

    test("a load concurrent with a compacting commit sees the state before or after it, never a mix", async () => {
      const store = await makeStore();
      let exec = await create(store, { ctx: { seed: "s".repeat(300) } });
      const states: Execution[] = [exec];
      for (let i = 0;; i++) {
        const delta = { set: { [`k${i}`]: "x".repeat(50) } };
        const footprint = (await store.footprint(exec.id))!;
        const next = { ...exec, ctx: { ...exec.ctx, ...delta.set } };
        if (footprint.logBytes + deltaBytes(delta) >= footprint.snapshotBytes) {
          // This commit compacts: race loads against it.
          const loads = [store.load(exec.id), store.load(exec.id)];
          const committed = step(store, next, delta);
          loads.push(store.load(exec.id));
          const after = await committed;
          for (const loaded of await Promise.all(loads)) expect([exec, after]).toContainEqual(loaded!);
          expect((await store.footprint(exec.id))?.deltas).toBe(0);
          break;
        }
        exec = await step(store, next, delta);
        states.push(exec);
      }
      expect(states.length).toBeGreaterThan(2);
    });

    test("concurrent commits with one expectedRevision: exactly one wins and its state is stored", async () => {
      const store = await makeStore();
      const exec = await create(store, { ctx: { seed: "s".repeat(2_000) } });
      const attempts = Array.from(
        { length: 8 },
        (_, i) => step(store, { ...exec, ctx: { ...exec.ctx, winner: i }, currentStep: `s${i}` }, { set: { winner: i } }),
      );
      const settled = await Promise.allSettled(attempts);
      const won = settled.filter((s) => s.status === "fulfilled") as PromiseFulfilledResult<Execution>[];
      expect(won).toHaveLength(1);
      for (const s of settled) if (s.status === "rejected") expect(s.reason).toBeInstanceOf(ConflictError);
      expect(await store.load(exec.id)).toEqual(won[0]!.value);
      expect(won[0]!.value.revision).toBe(2);
    });

    test("cancelled is a status like the others: stored, found by status and loaded", async () => {
      const store = await makeStore();
      const exec = await create(store);
      const cancelled = await step(store, { ...exec, status: "cancelled" }, {});
      expect((await store.find({ status: "cancelled" })).executions.map((e) => e.id)).toEqual([exec.id]);
      expect(await store.load(exec.id)).toEqual(cancelled);
    });
  });

  describe("recoverable", () => {
    const NOW = Date.parse("2026-05-01T12:00:00.000Z");
    const at = (ms: number) => new Date(NOW + ms).toISOString();
    const MIN = 60_000;
    const sweep = (store: Store, options: { now?: number; limit?: number } = {}) =>
      store.recoverable({ now: new Date(options.now ?? NOW), graceMs: MIN, claimMs: 5 * MIN, limit: options.limit });
    const ids = (found: { id: string }[]) => found.map((r) => r.id);

    test("an expired lease is due (dueAt = the lease), a live lease is left alone", async () => {
      const store = await makeStore();
      const expired = await create(store, { status: "running", leaseUntil: at(-1000), updatedAt: at(-MIN) });
      await create(store, { status: "running", leaseUntil: at(30_000), updatedAt: at(-10 * MIN) });
      expect(await sweep(store)).toEqual([
        { id: expired.id, workflowId: "wf", status: "running", revision: 1, dueAt: at(-1000) },
      ]);
    });

    test("a pending execution is due once its last checkpoint is graceMs old, not before", async () => {
      const store = await makeStore();
      const orphan = await create(store, { status: "pending", updatedAt: at(-2 * MIN) });
      await create(store, { status: "pending", updatedAt: at(-30_000) });
      expect(await sweep(store)).toEqual([
        { id: orphan.id, workflowId: "wf", status: "pending", revision: 1, dueAt: at(-2 * MIN) },
      ]);
    });

    test("a pending execution with wakeAt in the future is left alone, however old its checkpoint", async () => {
      const store = await makeStore();
      await create(store, { status: "pending", updatedAt: at(-60 * MIN), wakeAt: at(60 * MIN) });
      expect(await sweep(store)).toEqual([]);
      expect(ids(await sweep(store, { now: NOW + 62 * MIN }))).toHaveLength(1);
    });

    test("a halted approval is due once its wakeAt is graceMs past; halted without wakeAt never", async () => {
      const store = await makeStore();
      const expiring = await create(store, { status: "halted", wakeAt: at(-2 * MIN), updatedAt: at(-60 * MIN) });
      await create(store, { status: "halted", wakeAt: at(-30_000), updatedAt: at(-60 * MIN) });
      await create(store, { status: "halted", updatedAt: at(-60 * MIN) });
      expect(await sweep(store)).toEqual([
        { id: expiring.id, workflowId: "wf", status: "halted", revision: 1, dueAt: at(-2 * MIN) },
      ]);
    });

    test("completed, failed and cancelled executions are never due", async () => {
      const store = await makeStore();
      for (const status of ["completed", "failed", "cancelled"] as ExecutionStatus[]) {
        await create(store, { status, updatedAt: at(-60 * MIN), leaseUntil: at(-60 * MIN), wakeAt: at(-60 * MIN) });
      }
      expect(await sweep(store)).toEqual([]);
    });

    test("a claim hides what it returned for claimMs, then it is due again", async () => {
      const store = await makeStore();
      const exec = await create(store, { status: "running", leaseUntil: at(-1000) });
      expect(ids(await sweep(store))).toEqual([exec.id]);
      expect(await sweep(store)).toEqual([]);
      expect(await sweep(store, { now: NOW + 5 * MIN - 1 })).toEqual([]);
      const again = await sweep(store, { now: NOW + 5 * MIN });
      expect(again).toEqual([{ id: exec.id, workflowId: "wf", status: "running", revision: 1, dueAt: at(-1000) }]);
    });

    test("most overdue first, and at most `limit`", async () => {
      const store = await makeStore();
      const lease = await create(store, { status: "running", leaseUntil: at(-3 * MIN) });
      const pending = await create(store, { status: "pending", updatedAt: at(-10 * MIN) });
      const halted = await create(store, { status: "halted", wakeAt: at(-2 * MIN - 1) });
      expect(ids(await sweep(store, { limit: 2 }))).toEqual([pending.id, lease.id]);
      expect(ids(await sweep(store, { limit: 2 }))).toEqual([halted.id]);
    });

    test("a commit renewing the lease takes the execution out of the sweep; completing it removes it", async () => {
      const store = await makeStore();
      const exec = await create(store, { status: "running", leaseUntil: at(-1000) });
      const renewed = await step(store, { ...exec, leaseUntil: at(MIN) }, {});
      expect(await sweep(store)).toEqual([]);
      await step(store, { ...renewed, status: "completed", leaseUntil: null }, {});
      expect(await sweep(store, { now: NOW + 60 * MIN })).toEqual([]);
    });

    test("deleted executions are not returned", async () => {
      const store = await makeStore();
      const exec = await create(store, { status: "pending", updatedAt: at(-10 * MIN) });
      await store.delete(exec.id);
      expect(await sweep(store)).toEqual([]);
    });
  });

  describe("definitions", () => {
    const definition = (hash: string, version: string, workflowId = "wf-def"): StoredDefinition => ({
      workflowId,
      version,
      hash,
      source: `id: ${workflowId}\nversion: "${version}"\n# 😀 ${hash}\n`,
      storedAt: "2026-04-01T00:00:00.000Z",
    });

    test("a definition is stored once under its hash and read back exactly", async () => {
      const store = await makeStore();
      const v1 = definition("h1", "1.0");
      expect(await store.putDefinition(v1)).toEqual({ stored: true, current: false });
      expect(await store.putDefinition({ ...v1, version: "changed" })).toEqual({ stored: false, current: false });
      expect(await store.definition("h1")).toEqual(v1);
      expect(await store.definition("unknown")).toBeNull();
      expect(await store.currentDefinition("wf-def")).toBeNull();
      expect(await store.workflowIds()).toEqual([]);
    });

    test("current: true makes a version current; the latest such call wins", async () => {
      const store = await makeStore();
      const [v1, v2] = [definition("h1", "1.0"), definition("h2", "2.0")];
      expect(await store.putDefinition(v1, { current: true })).toEqual({ stored: true, current: true });
      expect(await store.putDefinition(v2, { current: true })).toEqual({ stored: true, current: true });
      expect(await store.currentDefinition("wf-def")).toEqual(v2);
      expect(await store.putDefinition(v1)).toEqual({ stored: false, current: false });
      expect(await store.putDefinition(v1, { current: true })).toEqual({ stored: false, current: true });
      expect(await store.currentDefinition("wf-def")).toEqual(v1);
    });

    test("workflowIds lists the workflows with a current version, sorted", async () => {
      const store = await makeStore();
      await store.putDefinition(definition("hb", "1", "b-flow"), { current: true });
      await store.putDefinition(definition("ha", "1", "a-flow"), { current: true });
      await store.putDefinition(definition("hc", "1", "c-flow"));
      expect(await store.workflowIds()).toEqual(["a-flow", "b-flow"]);
    });

    test("a commit carrying a definition stores it if new, without making it current", async () => {
      const store = await makeStore();
      const v1 = definition("h1", "1.0");
      await store.putDefinition(v1, { current: true });
      const v2 = definition("h2", "2.0");
      await store.commit({ execution: makeExecution({ workflowHash: "h2" }), definition: v2 });
      await store.commit({ execution: makeExecution({ workflowHash: "h2" }), definition: { ...v2, version: "ignored" } });
      expect(await store.definition("h2")).toEqual(v2);
      expect(await store.currentDefinition("wf-def")).toEqual(v1);
    });

    test("definitionVersions lists every version oldest first with its halted and pending counts", async () => {
      const store = await makeStore();
      const [v1, v2] = [definition("h1", "1.0"), definition("h2", "2.0")];
      await store.putDefinition(v1);
      await store.putDefinition(v2, { current: true });
      const on = (workflowHash: string, status: ExecutionStatus) => create(store, { workflowId: "wf-def", workflowHash, status });
      const halted = await on("h1", "halted");
      await on("h1", "halted");
      const pending = await on("h1", "pending");
      await on("h1", "running");
      await on("h2", "halted");
      const version = (d: StoredDefinition, current: boolean, counts: { halted: number; pending: number }) => ({
        workflowId: "wf-def",
        version: d.version,
        hash: d.hash,
        storedAt: d.storedAt,
        current,
        ...counts,
      });
      expect(await store.definitionVersions("wf-def")).toEqual([
        version(v1, false, { halted: 2, pending: 1 }),
        version(v2, true, { halted: 1, pending: 0 }),
      ]);
      await step(store, { ...halted, status: "completed" }, {});
      await step(store, { ...pending, workflowHash: "h2" }, {});
      expect(await store.definitionVersions("wf-def")).toEqual([
        version(v1, false, { halted: 1, pending: 0 }),
        version(v2, true, { halted: 1, pending: 1 }),
      ]);
      await store.delete(pending.id);
      expect((await store.definitionVersions("wf-def"))[1]).toEqual(version(v2, true, { halted: 1, pending: 0 }));
      expect(await store.definitionVersions("unknown")).toEqual([]);
    });
  });
}
