/**
 * The behaviour every Store must have (the rest is in store-contract-form.ts). Each implementation's test file calls
 * `storeContract(name, makeStore)`; `makeStore` must return an empty, isolated store.
 */
import { describe, expect, test } from "bun:test";
import { ConflictError, NotFoundError, ValidationError } from "../../src/errors.ts";
import { headOf } from "../../src/store/format.ts";
import { type ContractStore, storedFormContract } from "./store-contract-form.ts";
import { CurrentVersionChangedError, MAX_EVENTS_PER_EXECUTION, type Store } from "../../src/store/store.ts";
import { type Entry, type Execution, type Json, type JsonObject, newExecution, type StoredEvent } from "../../src/types.ts";

// ---- factories -------------------------------------------------------------------------------

const BASE_TIME = Date.parse("2026-01-01T00:00:00.000Z");
let sequence = 0;

/** A valid execution; each call is one second newer than the previous one unless `createdAt` is given. */
export function makeExecution(overrides: Partial<Execution> = {}): Execution {
  sequence += 1;
  const createdAt = new Date(BASE_TIME + sequence * 1000).toISOString();
  const fields = { workflowId: "wf", workflowVersion: "1.0", workflowHash: "hash-1", status: "running" as const, recoverTo: null };
  return {
    ...newExecution({ id: `exec-${sequence}`, ...fields, input: { n: sequence }, createdAt, deadline: null }),
    ctx: { input: { n: sequence } },
    currentStep: "start",
    ...overrides,
  };
}

export function makeEntry(executionId: string, overrides: Partial<Entry> = {}): Entry {
  sequence += 1;
  return {
    id: `entry-${sequence}`,
    executionId,
    stepId: "step",
    stepType: "call",
    action: "completed",
    attempt: 1,
    durationMs: 3,
    output: { ok: true },
    error: null,
    timestamp: new Date(BASE_TIME + sequence * 1000).toISOString(),
    ...overrides,
  };
}

export function makeEvent(seq: number, overrides: Partial<StoredEvent> = {}): StoredEvent {
  return {
    seq,
    type: "step.completed",
    data: { executionId: "x", stepId: `s${seq}` },
    timestamp: new Date(BASE_TIME + seq).toISOString(),
    ...overrides,
  };
}

/** Creates `count` executions one second apart (oldest first) and returns them as stored. */
async function createMany(store: Store, count: number, overrides: (i: number) => Partial<Execution> = () => ({})) {
  const created: Execution[] = [];
  for (let i = 0; i < count; i++) {
    created.push(await store.save(makeExecution(overrides(i)), { expectedRevision: 0 }));
  }
  return created;
}

/** Values that tend to get mangled on the way through JSON, HTTP and Redis. */
export const TRICKY_STRINGS = [
  "héllo wörld",
  "日本語",
  "😀👍🏽👨‍👩‍👧",
  "\u0000 nul",
  "tab\tand\nnewline",
  'quote " backslash \\',
  "\ud83d",
  "123",
  "1.0",
  "-0",
  "1e5",
  "true",
  "false",
  "null",
  "[1]",
  "{}",
  '{"a":1}',
  "OK",
  "",
  " ",
];

export const TRICKY_NUMBERS = [
  0,
  1,
  -1,
  0.1,
  -123.456,
  1e-7,
  3.141592653589793,
  2 ** 53 - 1,
  -(2 ** 53 - 1),
  1.7976931348623157e308,
  5e-324,
];

const BAD_IDS = ["", "a b", "a/b", "a*", "a{b}", "a\nb", "ключ", "x".repeat(201), "a|b", "a,b"];

// ---- the contract ----------------------------------------------------------------------------

export function storeContract(name: string, makeStore: () => Promise<ContractStore> | ContractStore): void {
  describe(`${name} (store contract)`, () => {
    storedFormContract(makeStore);

    describe("leases", () => {
      const LEASE = "2026-06-01T00:00:00.000Z";

      test("renew moves a running execution's lease without a new revision", async () => {
        const store = await makeStore();
        const saved = await store.save(makeExecution({ leaseUntil: "2026-01-01T00:01:00.000Z" }), { expectedRevision: 0 });
        await store.renew(saved.id, { revision: saved.revision, leaseUntil: LEASE, leaseMs: 60_000 });
        const loaded = await store.load(saved.id);
        expect([loaded?.leaseUntil, loaded?.revision]).toEqual([LEASE, saved.revision]);
        expect((await store.find()).executions.find((head) => head.id === saved.id)?.leaseUntil).toBe(LEASE);
      });

      test("a renewed lease is not recoverable before its new end", async () => {
        const store = await makeStore();
        const saved = await store.save(makeExecution({ leaseUntil: "2026-01-01T00:01:00.000Z" }), { expectedRevision: 0 });
        await store.renew(saved.id, { revision: saved.revision, leaseUntil: LEASE, leaseMs: 60_000 });
        const sweep = (now: string) => store.recoverable({ now: new Date(now), graceMs: 0, claimMs: 0 });
        expect(await sweep("2026-05-31T23:59:59.000Z")).toEqual([]);
        expect((await sweep(LEASE)).map((item) => item.id)).toEqual([saved.id]);
      });

      test("renew at another revision is refused with a ConflictError and writes nothing", async () => {
        const store = await makeStore();
        const saved = await store.save(makeExecution({ leaseUntil: "2026-01-01T00:01:00.000Z" }), { expectedRevision: 0 });
        await store.save(saved, { expectedRevision: saved.revision });
        const error = await store.renew(saved.id, { revision: saved.revision, leaseUntil: LEASE, leaseMs: 60_000 }).catch((e) => e);
        expect(error).toBeInstanceOf(ConflictError);
        expect(error.message).toContain(`expected revision ${saved.revision}, actual revision ${saved.revision + 1}`);
        expect((await store.load(saved.id))?.leaseUntil).toBe("2026-01-01T00:01:00.000Z");
      });

      test("renew of an execution that is no longer running is refused, naming its status", async () => {
        const store = await makeStore();
        const saved = await store.save(makeExecution({ status: "cancelled" }), { expectedRevision: 0 });
        const error = await store.renew(saved.id, { revision: saved.revision, leaseUntil: LEASE, leaseMs: 60_000 }).catch((e) => e);
        expect(error).toBeInstanceOf(ConflictError);
        expect(error.message).toContain("is cancelled, not running");
        await expect(store.renew("nobody", { revision: 1, leaseUntil: LEASE, leaseMs: 60_000 })).rejects.toBeInstanceOf(ConflictError);
      });

      test("a takeover is refused while the lease is live by the store's clock, and goes through once it has ended", async () => {
        const store = await makeStore();
        const now = Date.now();
        const claim = (leaseMs: number) =>
          store.commit({
            execution: makeExecution({ updatedAt: new Date(now).toISOString(), leaseUntil: new Date(now + leaseMs).toISOString() }),
            expectedRevision: 0,
            leaseMs,
          });
        const live = await claim(60_000);
        const takeover = (id: string, revision: number, at: number) =>
          store.commit({
            execution: { ...makeExecution({ id, updatedAt: new Date(at).toISOString() }), revision },
            expectedRevision: revision,
            takeover: true,
          });
        const liveId = (await store.find()).executions[0]!.id;
        const error = await takeover(liveId, live.revision, now).catch((e) => e);
        expect(error).toBeInstanceOf(ConflictError);
        expect(error.message).toMatch(/is running under a live lease for \d+ ms more \(by the store's clock\)/);
        expect((await store.load(liveId))?.revision).toBe(live.revision);
        const short = await claim(1);
        const shortId = (await store.find()).executions[0]!.id;
        await new Promise((resolve) => setTimeout(resolve, 5));
        expect(await takeover(shortId, short.revision, now + 5)).toEqual({ revision: short.revision + 1 });
      });

      test("renew with a lease that is not a revision and a time is a ValidationError", async () => {
        const store = await makeStore();
        const saved = await store.save(makeExecution(), { expectedRevision: 0 });
        await expect(store.renew(saved.id, { revision: 0, leaseUntil: LEASE, leaseMs: 60_000 })).rejects.toBeInstanceOf(ValidationError);
        await expect(store.renew(saved.id, { revision: 1, leaseUntil: "soon", leaseMs: 60_000 })).rejects.toBeInstanceOf(ValidationError);
      });
    });

    describe("claim with the load", () => {
      const AT = "2026-02-01T00:00:00.000Z";
      const request = { workflowHash: "hash-1", at: AT, leaseUntil: "2026-02-01T00:01:00.000Z", leaseMs: 60_000 };
      const pending = (overrides: Partial<Execution> = {}) => makeExecution({ status: "pending", leaseUntil: null, ...overrides });
      const claim = (store: Store, id: string, overrides: Partial<typeof request> = {}) => store.claim!(id, { ...request, ...overrides });

      test("claims a pending execution: returns it as it was, stores it running at the next revision with the lease", async () => {
        const store = await makeStore();
        const saved = await store.save(pending({ labels: { status: "pending", leaseUntil: "soon", updatedAt: "2026-01-01" } }), {
          expectedRevision: 0,
        });
        const claimed = await claim(store, saved.id);
        expect(claimed).toEqual({ execution: saved, revision: saved.revision + 1 });
        const loaded = await store.load(saved.id);
        expect(loaded).toEqual({
          ...saved,
          status: "running",
          revision: saved.revision + 1,
          updatedAt: AT,
          leaseUntil: request.leaseUntil,
        });
        expect((await store.find({ status: "running" })).executions.map((head) => head.id)).toEqual([saved.id]);
        expect((await store.find({ status: "pending" })).executions).toEqual([]);
        expect((await store.find({ workflowId: "wf", status: "running" })).executions.map((head) => head.id)).toEqual([saved.id]);
        // The lease is the store's: a takeover is refused while it is live, and a sweep finds it only at its end.
        const takeover = store.commit({ execution: { ...loaded!, updatedAt: AT }, expectedRevision: loaded!.revision, takeover: true });
        await expect(takeover).rejects.toThrow(/live lease/);
        const sweep = (now: string) => store.recoverable({ now: new Date(now), graceMs: 0, claimMs: 0 });
        expect(await sweep("2026-02-01T00:00:59.000Z")).toEqual([]);
        expect((await sweep(request.leaseUntil)).map((item) => item.id)).toEqual([saved.id]);
      });

      test("a second claim of the same execution only loads it: one claim wins", async () => {
        const store = await makeStore();
        const saved = await store.save(pending(), { expectedRevision: 0 });
        const [first, second] = await Promise.all([claim(store, saved.id), claim(store, saved.id)]);
        expect([first?.revision, second?.revision].filter((r) => r !== undefined)).toEqual([saved.revision + 1]);
        const lost = first?.revision ? second : first;
        expect(lost?.execution.status).toBe("running");
        expect(lost?.revision).toBeUndefined();
      });

      test("only loads what it may not claim: another hash, a wake time, a flow mark, a compensation, not pending", async () => {
        const store = await makeStore();
        const cases = [
          [pending(), { workflowHash: "hash-2" }],
          [pending({ wakeAt: "2026-01-01T00:00:00.000Z" }), {}],
          [pending({ flow: { waiting: "for a slot" } }), {}],
          [pending({ compensating: { status: "cancelled", error: "x", reason: null, cancelRevision: null, ok: true } }), {}],
          [makeExecution({ status: "halted" }), {}],
          [makeExecution({ status: "running" }), {}],
        ] as const;
        for (const [execution, overrides] of cases) {
          const saved = await store.save(execution, { expectedRevision: 0 });
          expect(await claim(store, saved.id, overrides)).toEqual({ execution: saved });
          expect(await store.load(saved.id)).toEqual(saved);
        }
        expect(await claim(store, "nobody")).toBeNull();
      });
    });

    describe("revisions", () => {
      test("save with expectedRevision 0 creates the execution with revision 1", async () => {
        const store = await makeStore();
        const exec = makeExecution();
        const saved = await store.save(exec, { expectedRevision: 0 });
        expect(saved.revision).toBe(1);
        expect(await store.load(exec.id)).toEqual({ ...exec, revision: 1 });
      });

      test("save with expectedRevision 0 conflicts when the id exists", async () => {
        const store = await makeStore();
        const exec = makeExecution();
        await store.save(exec, { expectedRevision: 0 });
        await expect(store.save(exec, { expectedRevision: 0 })).rejects.toThrow(ConflictError);
      });

      test("save with the stored revision succeeds and increments it", async () => {
        const store = await makeStore();
        const first = await store.save(makeExecution(), { expectedRevision: 0 });
        const second = await store.save({ ...first, currentStep: "next" }, { expectedRevision: 1 });
        expect(second.revision).toBe(2);
        expect((await store.load(first.id))?.currentStep).toBe("next");
      });

      test("save without expectedRevision is unconditional and increments the revision", async () => {
        const store = await makeStore();
        const exec = makeExecution();
        await store.save(exec, { expectedRevision: 0 });
        await store.save({ ...exec, currentStep: "a" }, { expectedRevision: 1 });
        const saved = await store.save({ ...exec, currentStep: "b", revision: 0 });
        expect(saved.revision).toBe(3);
        expect((await store.load(exec.id))?.currentStep).toBe("b");
      });

      test("unconditional save creates a missing execution with revision 1", async () => {
        const store = await makeStore();
        const exec = makeExecution({ revision: 41 });
        expect((await store.save(exec)).revision).toBe(1);
        expect((await store.load(exec.id))?.revision).toBe(1);
      });

      test("the revision passed in is ignored: the store writes previous + 1", async () => {
        const store = await makeStore();
        const exec = makeExecution();
        await store.save(exec, { expectedRevision: 0 });
        const saved = await store.save({ ...exec, revision: 99 }, { expectedRevision: 1 });
        expect(saved.revision).toBe(2);
        expect((await store.load(exec.id))?.revision).toBe(2);
      });

      test("a stale save is rejected with a ConflictError naming the id and both revisions", async () => {
        const store = await makeStore();
        const exec = makeExecution({ id: "stale-1" });
        await store.save(exec, { expectedRevision: 0 });
        await store.save(exec, { expectedRevision: 1 });
        let error: unknown;
        await store.save(exec, { expectedRevision: 1 }).catch((e) => (error = e));
        expect(error).toBeInstanceOf(ConflictError);
        const message = (error as Error).message;
        expect(message).toContain("stale-1");
        expect(message).toContain("expected revision 1");
        expect(message).toContain("actual revision 2");
      });

      test("a stale save leaves the stored record intact", async () => {
        const store = await makeStore();
        const exec = makeExecution({ ctx: { value: "original" } });
        await store.save(exec, { expectedRevision: 0 });
        await store.save({ ...exec, ctx: { value: "stale" } }, { expectedRevision: 5 }).catch(() => {});
        expect(await store.load(exec.id)).toEqual({ ...exec, revision: 1 });
      });

      test("save with expectedRevision n conflicts when the id does not exist", async () => {
        const store = await makeStore();
        const exec = makeExecution();
        await expect(store.save(exec, { expectedRevision: 1 })).rejects.toThrow(ConflictError);
        expect(await store.load(exec.id)).toBeNull();
      });
    });

    describe("commit", () => {
      test("commit saves the execution and appends its entries and events together", async () => {
        const store = await makeStore();
        const exec = makeExecution();
        const entries = [makeEntry(exec.id), makeEntry(exec.id)];
        const events = [makeEvent(1), makeEvent(2)];
        await store.commit({ execution: exec, expectedRevision: 0, entries, events });
        expect(await store.load(exec.id)).toEqual({ ...exec, revision: 1 });
        expect(await store.entries(exec.id)).toEqual(entries);
        expect(await store.events(exec.id)).toEqual(events);
      });

      test("commit returns the new revision", async () => {
        const store = await makeStore();
        const exec = makeExecution();
        expect(await store.commit({ execution: exec, expectedRevision: 0 })).toEqual({ revision: 1 });
        expect(await store.commit({ execution: exec })).toEqual({ revision: 2 });
        expect((await store.load(exec.id))!).toEqual({ ...exec, revision: 2 });
      });

      test("a commit that loses the compare-and-set writes no execution, entries or events", async () => {
        const store = await makeStore();
        const exec = makeExecution({ currentStep: "first" });
        await store.commit({ execution: exec, expectedRevision: 0, entries: [makeEntry(exec.id)], events: [makeEvent(1)] });
        const losing = store.commit({
          execution: { ...exec, currentStep: "second" },
          expectedRevision: 0,
          entries: [makeEntry(exec.id, { stepId: "lost" })],
          events: [makeEvent(2)],
        });
        await expect(losing).rejects.toThrow(ConflictError);
        await losing.catch(() => {});
        expect((await store.load(exec.id))?.currentStep).toBe("first");
        expect((await store.entries(exec.id)).map((e) => e.stepId)).toEqual(["step"]);
        expect((await store.events(exec.id)).map((e) => e.seq)).toEqual([1]);
      });

      test("a commit with currentHash is refused, writing nothing, unless that hash is the workflow's current version", async () => {
        const store = await makeStore();
        const storedAt = new Date(BASE_TIME).toISOString();
        const define = (hash: string) =>
          store.putDefinition({ workflowId: "wf", version: hash, hash, source: "{}", storedAt }, { current: true });
        const exec = makeExecution({ workflowId: "wf" });
        const refused = () => store.commit({ execution: exec, expectedRevision: 0, events: [makeEvent(1)], currentHash: "hash-1" });
        // No current version yet, then another one.
        await expect(refused()).rejects.toBeInstanceOf(CurrentVersionChangedError);
        await define("hash-2");
        const error = await refused().catch((e) => e);
        expect(error).toBeInstanceOf(CurrentVersionChangedError);
        expect(error).toBeInstanceOf(ConflictError);
        expect(await store.load(exec.id)).toBeNull();
        expect(await store.events(exec.id)).toEqual([]);
        await define("hash-1");
        expect(await refused()).toEqual({ revision: 1 });
        expect(await store.load(exec.id)).toEqual({ ...exec, revision: 1 });
      });

      test("a commit with an entry of another execution is rejected and writes nothing", async () => {
        const store = await makeStore();
        const exec = makeExecution();
        const commit = store.commit({ execution: exec, expectedRevision: 0, entries: [makeEntry("someone-else")] });
        await expect(commit).rejects.toThrow(ValidationError);
        await commit.catch(() => {});
        expect(await store.load(exec.id)).toBeNull();
      });

      test("entries of several commits and record() keep their order", async () => {
        const store = await makeStore();
        const exec = makeExecution();
        const a = makeEntry(exec.id, { stepId: "a" });
        const b = makeEntry(exec.id, { stepId: "b" });
        const c = makeEntry(exec.id, { stepId: "c" });
        const d = makeEntry(exec.id, { stepId: "d" });
        await store.commit({ execution: exec, expectedRevision: 0, entries: [a] });
        await store.record(b);
        await store.commit({ execution: exec, expectedRevision: 1, entries: [c, d] });
        expect((await store.entries(exec.id)).map((e) => e.stepId)).toEqual(["a", "b", "c", "d"]);
      });

      test("record for an unknown execution throws NotFoundError", async () => {
        const store = await makeStore();
        await expect(store.record(makeEntry("nobody-here"))).rejects.toThrow(NotFoundError);
      });

      test("entries of an unknown execution are empty", async () => {
        const store = await makeStore();
        expect(await store.entries("nobody-here")).toEqual([]);
      });
    });

    describe("copies", () => {
      test("mutating the object passed to save does not change the store", async () => {
        const store = await makeStore();
        const exec = makeExecution({ ctx: { list: [1] } });
        await store.save(exec, { expectedRevision: 0 });
        (exec.ctx.list as Json[]).push(2);
        exec.status = "failed";
        expect(await store.load(exec.id)).toMatchObject({ status: "running", ctx: { list: [1] } });
      });

      test("mutating a loaded execution does not change the store", async () => {
        const store = await makeStore();
        const exec = makeExecution({ ctx: { nested: { a: 1 } } });
        await store.save(exec, { expectedRevision: 0 });
        const loaded = (await store.load(exec.id))!;
        (loaded.ctx.nested as JsonObject).a = 2;
        loaded.currentStep = "changed";
        expect(await store.load(exec.id)).toEqual({ ...exec, revision: 1 });
      });

      test("mutating the result of commit does not change the store", async () => {
        const store = await makeStore();
        const exec = makeExecution({ ctx: { nested: { a: 1 } } });
        const stored = await store.save(exec, { expectedRevision: 0 });
        (stored.ctx.nested as JsonObject).a = 2;
        expect(await store.load(exec.id)).toEqual({ ...exec, revision: 1 });
      });

      test("mutating returned entries and events does not change the store", async () => {
        const store = await makeStore();
        const exec = makeExecution();
        const entry = makeEntry(exec.id, { output: { a: 1 } });
        const event = makeEvent(1, { data: { a: 1 } });
        await store.commit({ execution: exec, expectedRevision: 0, entries: [entry], events: [event] });
        const entries = await store.entries(exec.id);
        (entries[0]!.output as JsonObject).a = 2;
        entries.pop();
        const events = await store.events(exec.id);
        events[0]!.data.a = 2;
        expect(await store.entries(exec.id)).toEqual([entry]);
        expect(await store.events(exec.id)).toEqual([event]);
      });

      test("mutating the entries and events given to commit, after it, does not change the store", async () => {
        const store = await makeStore();
        const exec = makeExecution();
        const output = { a: 1, list: [1] };
        const entry = makeEntry(exec.id, { output });
        const event = makeEvent(1, { data: { executionId: exec.id, stepId: "s", stepType: "call", output } });
        const expected = structuredClone({ entry, event });
        await store.commit({ execution: exec, expectedRevision: 0, entries: [entry], events: [event] });
        output.a = 2;
        output.list.push(2);
        entry.stepId = "changed";
        event.data.stepId = "changed";
        expect(await store.entries(exec.id)).toEqual([expected.entry]);
        expect(await store.events(exec.id)).toEqual([expected.event]);
      });

      test("mutating a found head does not change the store", async () => {
        const store = await makeStore();
        const exec = makeExecution({ retry: { stepId: "a", attempt: 2 } });
        await store.save(exec, { expectedRevision: 0 });
        const { executions } = await store.find();
        executions[0]!.retry!.attempt = 3;
        executions[0]!.status = "failed";
        expect(await store.load(exec.id)).toEqual({ ...exec, revision: 1 });
        expect((await store.find()).executions).toEqual([headOf({ ...exec, revision: 1 })]);
      });
    });

    describe("load and delete", () => {
      test("load of an unknown id returns null", async () => {
        const store = await makeStore();
        expect(await store.load("does-not-exist")).toBeNull();
      });

      test("delete of an unknown id returns false", async () => {
        const store = await makeStore();
        expect(await store.delete("does-not-exist")).toBe(false);
      });

      test("delete of an existing execution returns true and load then returns null", async () => {
        const store = await makeStore();
        const exec = (await createMany(store, 1))[0]!;
        expect(await store.delete(exec.id)).toBe(true);
        expect(await store.load(exec.id)).toBeNull();
      });

      test("delete removes the execution's entries and events", async () => {
        const store = await makeStore();
        const exec = makeExecution();
        await store.commit({ execution: exec, expectedRevision: 0, entries: [makeEntry(exec.id)], events: [makeEvent(1)] });
        await store.delete(exec.id);
        expect(await store.entries(exec.id)).toEqual([]);
        expect(await store.events(exec.id)).toEqual([]);
      });

      test("delete removes the index rows: find and executionIds no longer return it", async () => {
        const store = await makeStore();
        const [kept, gone] = await createMany(store, 2, () => ({ workflowId: "wf-del", status: "completed" }));
        await store.delete(gone!.id);
        const ids = [kept!.id];
        expect((await store.find()).executions.map((e) => e.id)).toEqual(ids);
        expect((await store.find({ workflowId: "wf-del", status: "completed" })).executions.map((e) => e.id)).toEqual(ids);
        expect((await store.find({ status: "completed" })).executions.map((e) => e.id)).toEqual(ids);
        expect(await store.executionIds({ workflowId: "wf-del" })).toEqual(ids);
      });

      test("an id can be created again after delete, starting at revision 1", async () => {
        const store = await makeStore();
        const exec = makeExecution();
        await store.save(exec, { expectedRevision: 0 });
        await store.save(exec, { expectedRevision: 1 });
        await store.delete(exec.id);
        expect((await store.save(exec, { expectedRevision: 0 })).revision).toBe(1);
      });
    });

    describe("find", () => {
      test("find returns executions newest first by createdAt", async () => {
        const store = await makeStore();
        const created = await createMany(store, 3);
        expect((await store.find()).executions.map((e) => e.id)).toEqual(created.map((e) => e.id).reverse());
      });

      test("find and executionIds order executions saved out of createdAt order, newest first", async () => {
        const store = await makeStore();
        for (const [id, day] of [["late", 9], ["early", 1], ["middle", 5]] as const) {
          await store.save(makeExecution({ id, workflowId: "wf-order", createdAt: `2026-03-0${day}T00:00:00.000Z` }));
        }
        expect((await store.find({ workflowId: "wf-order" })).executions.map((e) => e.id)).toEqual(["late", "middle", "early"]);
        expect(await store.executionIds({ workflowId: "wf-order" })).toEqual(["late", "middle", "early"]);
      });

      test("find breaks createdAt ties by id, descending", async () => {
        const store = await makeStore();
        const createdAt = "2026-02-01T00:00:00.000Z";
        for (const id of ["tie-b", "tie-c", "tie-a"]) await store.save(makeExecution({ id, createdAt }));
        expect((await store.find()).executions.map((e) => e.id)).toEqual(["tie-c", "tie-b", "tie-a"]);
      });

      test("find filters by workflowId before applying the limit", async () => {
        const store = await makeStore();
        const wanted = await createMany(store, 2, () => ({ workflowId: "wanted" }));
        await createMany(store, 5, () => ({ workflowId: "other" }));
        const { executions } = await store.find({ workflowId: "wanted", limit: 2 });
        expect(executions.map((e) => e.id)).toEqual(wanted.map((e) => e.id).reverse());
      });

      test("find filters by status before applying the limit", async () => {
        const store = await makeStore();
        const halted = await createMany(store, 2, () => ({ status: "halted" }));
        await createMany(store, 5, () => ({ status: "running" }));
        const { executions } = await store.find({ status: "halted", limit: 2 });
        expect(executions.map((e) => e.id)).toEqual(halted.map((e) => e.id).reverse());
      });

      test("find filters by workflowId and status together", async () => {
        const store = await makeStore();
        const [match] = await createMany(store, 1, () => ({ workflowId: "a", status: "failed" }));
        await createMany(store, 1, () => ({ workflowId: "a", status: "completed" }));
        await createMany(store, 1, () => ({ workflowId: "b", status: "failed" }));
        const { executions } = await store.find({ workflowId: "a", status: "failed" });
        expect(executions.map((e) => e.id)).toEqual([match!.id]);
      });

      test("find by status follows a status change", async () => {
        const store = await makeStore();
        const [exec] = await createMany(store, 1, () => ({ status: "running" }));
        await store.save({ ...exec!, status: "halted" }, { expectedRevision: 1 });
        expect((await store.find({ status: "running" })).executions).toEqual([]);
        expect((await store.find({ status: "halted" })).executions.map((e) => e.id)).toEqual([exec!.id]);
      });

      test("find without a limit returns at most 50", async () => {
        const store = await makeStore();
        await createMany(store, 51);
        const page = await store.find();
        expect(page.executions.length).toBe(50);
        expect(page.cursor).toBeString();
      });

      test("paging with the cursor covers every row exactly once, in order", async () => {
        const store = await makeStore();
        const createdAt = "2026-03-01T00:00:00.000Z";
        const ties = await createMany(store, 4, (i) => ({ id: `page-tie-${i}`, createdAt }));
        const others = await createMany(store, 9);
        await createMany(store, 3, () => ({ workflowId: "noise" }));
        const expected = [...ties, ...others].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || (a.id < b.id ? 1 : -1));
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.find({ workflowId: "wf", limit: 3, cursor });
          seen.push(...page.executions.map((e) => e.id));
          cursor = page.cursor;
          pages += 1;
        } while (cursor && pages < 20);
        expect(seen).toEqual(expected.map((e) => e.id));
      });

      test("the last page has no cursor", async () => {
        const store = await makeStore();
        await createMany(store, 4);
        const first = await store.find({ limit: 2 });
        const second = await store.find({ limit: 2, cursor: first.cursor });
        expect(second.executions.length).toBe(2);
        expect(second.cursor).toBeUndefined();
      });

      test("find rejects an invalid cursor", async () => {
        const store = await makeStore();
        await expect(store.find({ cursor: "not a cursor" })).rejects.toThrow(ValidationError);
      });

      test("find rejects a limit below 1", async () => {
        const store = await makeStore();
        await expect(store.find({ limit: 0 })).rejects.toThrow(ValidationError);
      });

      test("find on an empty store returns no executions and no cursor", async () => {
        const store = await makeStore();
        expect(await store.find()).toEqual({ executions: [] });
      });

      test("find by a label returns only the executions carrying it, with their labels", async () => {
        const store = await makeStore();
        const [mine] = await createMany(store, 1, () => ({ labels: { customer: "C-7", region: "eu" } }));
        await createMany(store, 2, (i): Partial<Execution> => ({ labels: i ? { customer: "C-8" } : {} }));
        const { executions } = await store.find({ labels: { customer: "C-7" } });
        expect(executions.map((e) => [e.id, e.labels])).toEqual([[mine!.id, { customer: "C-7", region: "eu" }]]);
        expect((await store.load(mine!.id))?.labels).toEqual({ customer: "C-7", region: "eu" });
      });

      test("find by two labels, a status and a workflow applies them all before the limit", async () => {
        const store = await makeStore();
        const wanted = await createMany(
          store,
          2,
          () => ({ workflowId: "lb", status: "failed", labels: { customer: "C-7", tier: "gold" } }),
        );
        await createMany(store, 3, () => ({ workflowId: "lb", status: "completed", labels: { customer: "C-7", tier: "gold" } }));
        await createMany(store, 3, () => ({ workflowId: "lb", status: "failed", labels: { customer: "C-7", tier: "silver" } }));
        await createMany(store, 3, () => ({ workflowId: "other", status: "failed", labels: { customer: "C-7", tier: "gold" } }));
        const { executions } = await store.find({
          workflowId: "lb",
          status: "failed",
          labels: { customer: "C-7", tier: "gold" },
          limit: 5,
        });
        expect(executions.map((e) => e.id)).toEqual(wanted.map((e) => e.id).reverse());
      });

      test("find by label follows a status change", async () => {
        const store = await makeStore();
        const [exec] = await createMany(store, 1, () => ({ status: "running", labels: { batch: "b1" } }));
        await store.save({ ...exec!, status: "failed" }, { expectedRevision: 1 });
        expect((await store.find({ labels: { batch: "b1" }, status: "running" })).executions).toEqual([]);
        expect((await store.find({ labels: { batch: "b1" }, status: "failed" })).executions.map((e) => e.id)).toEqual([exec!.id]);
      });

      test("find by createdAt range keeps from inclusive and to exclusive", async () => {
        const store = await makeStore();
        const created = await createMany(store, 5, () => ({ workflowId: "range" }));
        const { executions } = await store.find({
          workflowId: "range",
          createdFrom: created[1]!.createdAt,
          createdTo: created[4]!.createdAt,
        });
        expect(executions.map((e) => e.id)).toEqual([created[3]!.id, created[2]!.id, created[1]!.id]);
      });

      test("find by updatedAt range reads the last checkpoint's time", async () => {
        const store = await makeStore();
        const created = await createMany(store, 3, () => ({ workflowId: "upd" }));
        const later = "2030-01-01T00:00:00.000Z";
        await store.save({ ...created[0]!, updatedAt: later }, { expectedRevision: 1 });
        const recent = await store.find({ workflowId: "upd", updatedFrom: "2029-12-31T00:00:00Z" });
        expect(recent.executions.map((e) => e.id)).toEqual([created[0]!.id]);
        const old = await store.find({ workflowId: "upd", updatedTo: "2029-12-31T00:00:00Z" });
        expect(old.executions.map((e) => e.id)).toEqual([created[2]!.id, created[1]!.id]);
      });

      test("paging a label filter while executions are written covers every earlier row once", async () => {
        const store = await makeStore();
        const before = await createMany(store, 7, (i) => ({ labels: { customer: "C-9" }, status: i % 2 ? "running" : "halted" }));
        await createMany(store, 4, () => ({ labels: { customer: "C-1" } }));
        const seen: string[] = [];
        let cursor: string | undefined;
        let pages = 0;
        do {
          const page = await store.find({ labels: { customer: "C-9" }, limit: 2, cursor });
          seen.push(...page.executions.map((e) => e.id));
          cursor = page.cursor;
          // Meanwhile: new runs for the customer start, and one already seen moves on.
          await createMany(store, 2, () => ({ labels: { customer: "C-9" } }));
          const moved = before.find((e) => e.id === seen[0])!;
          if (pages === 0) await store.save({ ...moved, status: "completed" }, { expectedRevision: 1 });
          pages += 1;
        } while (cursor && pages < 20);
        expect(seen).toEqual(before.map((e) => e.id).reverse());
      });

      test("delete removes the label index rows", async () => {
        const store = await makeStore();
        const [exec] = await createMany(store, 1, () => ({ labels: { order: "A-1" } }));
        await store.delete(exec!.id);
        expect((await store.find({ labels: { order: "A-1" } })).executions).toEqual([]);
      });

      test("find rejects a bad label filter and a bad time, naming them", async () => {
        const store = await makeStore();
        await expect(store.find({ labels: { "bad name": "x" } })).rejects.toThrow("label filter.bad name");
        await expect(store.find({ createdFrom: "yesterday" })).rejects.toThrow('createdFrom: must be an ISO 8601 time, got "yesterday"');
      });
    });

    describe("executionIds", () => {
      test("executionIds lists the ids of one workflow, newest first", async () => {
        const store = await makeStore();
        const mine = await createMany(store, 3, () => ({ workflowId: "mine" }));
        await createMany(store, 2, () => ({ workflowId: "theirs" }));
        expect(await store.executionIds({ workflowId: "mine" })).toEqual(mine.map((e) => e.id).reverse());
      });

      test("executionIds without a workflowId lists every id", async () => {
        const store = await makeStore();
        const all = await createMany(store, 3, (i) => ({ workflowId: `w${i}` }));
        expect(await store.executionIds()).toEqual(all.map((e) => e.id).reverse());
      });

      test("executionIds respects the limit", async () => {
        const store = await makeStore();
        const all = await createMany(store, 4);
        expect(await store.executionIds({ limit: 2 })).toEqual([all[3]!.id, all[2]!.id]);
      });
    });

    describe("events", () => {
      test("events returns the stored events in order", async () => {
        const store = await makeStore();
        const exec = makeExecution();
        await store.commit({ execution: exec, expectedRevision: 0, events: [makeEvent(1), makeEvent(2)] });
        await store.commit({ execution: exec, expectedRevision: 1, events: [makeEvent(3)] });
        expect((await store.events(exec.id)).map((e) => e.seq)).toEqual([1, 2, 3]);
      });

      test("events after n returns only the events with seq > n", async () => {
        const store = await makeStore();
        const exec = makeExecution();
        await store.commit({ execution: exec, expectedRevision: 0, events: [1, 2, 3, 4].map((n) => makeEvent(n)) });
        expect((await store.events(exec.id, { after: 2 })).map((e) => e.seq)).toEqual([3, 4]);
      });

      test(`events keep only the newest ${MAX_EVENTS_PER_EXECUTION}, oldest dropped first`, async () => {
        const store = await makeStore();
        const exec = makeExecution();
        const events = Array.from({ length: MAX_EVENTS_PER_EXECUTION - 2 }, (_, i) => makeEvent(i + 1));
        await store.commit({ execution: exec, expectedRevision: 0, events });
        const more = Array.from({ length: 5 }, (_, i) => makeEvent(MAX_EVENTS_PER_EXECUTION - 1 + i));
        await store.commit({ execution: exec, expectedRevision: 1, events: more });
        const stored = await store.events(exec.id);
        expect(stored.length).toBe(MAX_EVENTS_PER_EXECUTION);
        expect(stored[0]!.seq).toBe(4);
        expect(stored.at(-1)!.seq).toBe(MAX_EVENTS_PER_EXECUTION + 3);
      });

      test(`over many commits, events keep the newest ${MAX_EVENTS_PER_EXECUTION} in order, and after n reads among them`, async () => {
        const store = await makeStore();
        const exec = makeExecution();
        const batch = 300;
        for (let commit = 0; commit < 8; commit++) {
          const events = Array.from({ length: batch }, (_, i) => makeEvent(commit * batch + i + 1));
          await store.commit({ execution: exec, expectedRevision: commit, events });
        }
        const newest = Array.from({ length: MAX_EVENTS_PER_EXECUTION }, (_, i) => 8 * batch - MAX_EVENTS_PER_EXECUTION + i + 1);
        expect((await store.events(exec.id)).map((event) => event.seq)).toEqual(newest);
        expect((await store.events(exec.id, { after: 8 * batch - 3 })).map((event) => event.seq)).toEqual(newest.slice(-3));
      });

      test("events of an unknown execution are empty", async () => {
        const store = await makeStore();
        expect(await store.events("nobody-here")).toEqual([]);
      });
    });

    describe("values round-trip exactly", () => {
      const roundTrip = async (ctx: JsonObject) => {
        const store = await makeStore();
        const exec = makeExecution({ ctx, input: ctx, result: ctx, haltData: ctx });
        await store.save(exec, { expectedRevision: 0 });
        return { exec, loaded: await store.load(exec.id) };
      };

      test("unicode strings (accents, CJK, emoji, NUL, lone surrogate) round-trip exactly", async () => {
        const { exec, loaded } = await roundTrip({ strings: TRICKY_STRINGS, [TRICKY_STRINGS[2]!]: "emoji key" });
        expect(loaded).toEqual({ ...exec, revision: 1 });
      });

      test("strings that look like numbers, booleans or JSON stay strings", async () => {
        const { loaded } = await roundTrip({ a: "123", b: "true", c: "null", d: "[1]", e: '{"a":1}', f: "1.0" });
        expect(loaded?.ctx).toStrictEqual({ a: "123", b: "true", c: "null", d: "[1]", e: '{"a":1}', f: "1.0" });
      });

      test("numbers (integers, floats, negatives, extremes) round-trip exactly", async () => {
        const { loaded } = await roundTrip({ numbers: TRICKY_NUMBERS });
        expect(loaded?.ctx.numbers).toStrictEqual(TRICKY_NUMBERS);
      });

      test("false, null and empty values round-trip exactly", async () => {
        const values = { f: false, t: true, n: null, s: "", a: [], o: {}, nested: [[], [{}], { a: [null] }] };
        const { loaded } = await roundTrip(values);
        expect(loaded?.ctx).toStrictEqual(values);
      });

      test("deeply nested objects and arrays round-trip exactly", async () => {
        let deep: Json = { leaf: [1, "two", { three: 3 }] };
        for (let i = 0; i < 50; i++) deep = { [`level${i}`]: [deep, i] };
        const { loaded } = await roundTrip({ deep });
        expect(loaded?.ctx).toStrictEqual({ deep });
      });

      test("a ~500 KB ctx round-trips exactly", async () => {
        const rows = Array.from({ length: 2500 }, (_, i) => ({ i, name: `row ${i} ✓ 😀`, value: i / 7, flag: i % 2 === 0 }));
        const ctx = { rows, blob: "x".repeat(300_000) };
        expect(JSON.stringify(ctx).length).toBeGreaterThan(450_000);
        const { loaded } = await roundTrip(ctx);
        expect(loaded?.ctx).toStrictEqual(ctx);
      });

      test("entries and events round-trip values exactly", async () => {
        const store = await makeStore();
        const exec = makeExecution();
        const payload = { strings: TRICKY_STRINGS, numbers: TRICKY_NUMBERS, f: false, n: null, e: [] };
        const entry = makeEntry(exec.id, { output: payload, error: "ExecutionError: 😀" });
        const event = makeEvent(1, { data: payload });
        await store.commit({ execution: exec, expectedRevision: 0, entries: [entry], events: [event] });
        expect(await store.entries(exec.id)).toStrictEqual([entry]);
        expect(await store.events(exec.id)).toStrictEqual([event]);
      });
    });

    describe("ids", () => {
      test("save rejects invalid execution ids with a ValidationError naming the id", async () => {
        const store = await makeStore();
        for (const id of BAD_IDS) {
          let error: unknown;
          await store.save(makeExecution({ id })).catch((e) => (error = e));
          expect(error).toBeInstanceOf(ValidationError);
          expect((error as Error).message).toContain(JSON.stringify(id));
        }
      });

      test("load, entries, events, delete and record reject invalid execution ids", async () => {
        const store = await makeStore();
        for (const id of BAD_IDS) {
          await expect(store.load(id)).rejects.toThrow(ValidationError);
          await expect(store.entries(id)).rejects.toThrow(ValidationError);
          await expect(store.events(id)).rejects.toThrow(ValidationError);
          await expect(store.delete(id)).rejects.toThrow(ValidationError);
          await expect(store.record(makeEntry(id))).rejects.toThrow(ValidationError);
        }
      });

      test("ids with every allowed character (letters, digits, _ - . : [ ]) work", async () => {
        const store = await makeStore();
        const id = "Parent_1-a.b:loop[3]:child";
        await store.save(makeExecution({ id }), { expectedRevision: 0 });
        expect((await store.load(id))?.id).toBe(id);
        expect(await store.executionIds()).toEqual([id]);
      });

      test("an id that is a prefix of another id stays separate", async () => {
        const store = await makeStore();
        await store.commit({ execution: makeExecution({ id: "p" }), expectedRevision: 0, entries: [makeEntry("p")] });
        await store.commit({ execution: makeExecution({ id: "p:entries" }), expectedRevision: 0 });
        expect((await store.entries("p")).length).toBe(1);
        expect(await store.entries("p:entries")).toEqual([]);
        expect(await store.delete("p:entries")).toBe(true);
        expect((await store.load("p"))?.id).toBe("p");
      });
    });

    describe("events and trigger cursors", () => {
      const event = { name: "payment.received", id: "ev-1", payload: { order_id: "A1" }, sentAt: "2026-01-01T00:00:00.000Z" };
      const options = { keys: ['order_id="A1"'], lookbackMs: 300_000, dedupMs: 86_400_000 };
      const wait = { waitId: "w@1", events: ["payment.received"], key: 'order_id="A1"', match: null };

      async function halted(store: Store, id: string) {
        const execution = makeExecution({ id, status: "halted", updatedAt: "2026-01-01T00:00:01.000Z" });
        return await store.commit({ execution, expectedRevision: 0, wait });
      }

      test("a halt finds an event sent within the lookback, and registers no waiter then", async () => {
        const store = await makeStore();
        await store.sendEvent(event, options);
        expect((await halted(store, "x")).event).toEqual(event);
        expect((await store.sendEvent({ ...event, id: "ev-2" }, options)).delivered).toEqual([]);
      });

      test("an event is delivered to a registered waiter once, and an id sent twice is a duplicate", async () => {
        const store = await makeStore();
        expect((await halted(store, "x")).event).toBeUndefined();
        expect((await store.sendEvent(event, options)).delivered).toEqual([{ executionId: "x", workflowId: "wf", revision: 1 }]);
        expect((await store.sendEvent(event, options)).duplicate).toBe(true);
        expect((await store.sendEvent({ ...event, id: "ev-3" }, options)).delivered).toEqual([]);
      });

      test("a waiter whose execution moved on receives nothing", async () => {
        const store = await makeStore();
        await halted(store, "x");
        const moved = { ...(await store.load("x"))!, status: "running" as const };
        await store.commit({ execution: moved, expectedRevision: 1 });
        expect((await store.sendEvent(event, options)).delivered).toEqual([]);
      });

      test("a trigger cursor moves forward once per occurrence", async () => {
        const store = await makeStore();
        expect(await store.advanceCursor("wf:cron:0", 1000)).toEqual({ moved: true, previous: null });
        expect(await store.advanceCursor("wf:cron:0", 1000)).toEqual({ moved: false, previous: 1000 });
        expect(await store.advanceCursor("wf:cron:0", 500)).toEqual({ moved: false, previous: 1000 });
        expect(await store.advanceCursor("wf:cron:0", 2000)).toEqual({ moved: true, previous: 1000 });
      });
    });
  });
}
