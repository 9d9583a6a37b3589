/**
 * UpstashRedisStore against a real redis-server (started here, on a free port) through the local
 * Upstash REST bridge: the store contract, then what only Redis has (round trips, TTLs, index cleanup),
 * then the bridge's protocol.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Redis } from "@upstash/redis";
import { Redis as CloudflareRedis } from "@upstash/redis/cloudflare";
import { ConfigError, StoreError, ValidationError } from "../../../src/errors.ts";
import { bodyOf, headOf } from "../../../src/store/format.ts";
import { StoredSizesCache } from "../../../src/store/upstash-redis/sizes.ts";
import type { Execution } from "../../../src/types.ts";
import { redisKeys, UpstashRedisStore, type UpstashRedisStoreOptions } from "../../../src/store/upstash-redis.ts";
import { startBridge } from "durable-workflow-edge-dev/bridge";
import { makeEntry, makeEvent, makeExecution, storeContract, TRICKY_NUMBERS, TRICKY_STRINGS } from "../../support/store-contract.ts";
import { freePort, redisServerAvailable, type RedisStack, startRedisStack } from "../../support/redis.ts";

const available = redisServerAvailable();
const describeRedis = available ? describe : describe.skip;

let stack: RedisStack;
beforeAll(async () => {
  if (available) stack = await startRedisStack();
});
afterAll(async () => {
  await stack?.stop();
});

let prefixes = 0;
/** A store on a prefix of its own, so tests never see each other's keys. */
function fresh(options: Partial<UpstashRedisStoreOptions> = {}) {
  const prefix = `t${++prefixes}`;
  const store = new UpstashRedisStore({ redis: stack.redis, prefix, ...options });
  return { store, prefix, keys: redisKeys(prefix) };
}

/** A clock the test moves by hand. */
function manualClock(start = Date.parse("2026-06-01T00:00:00.000Z")) {
  let now = start;
  return { clock: () => new Date(now), advance: (ms: number) => (now += ms) };
}

const DAY_MS = 24 * 60 * 60 * 1000;

if (available) storeContract("UpstashRedisStore", () => fresh().store);

describeRedis("UpstashRedisStore leases by the server's clock", () => {
  test("a takeover is refused while the lease is live by the Redis server's time, even when the taker's clock says it ended", async () => {
    const { store } = fresh();
    const claimed = await store.commit({
      execution: makeExecution({ leaseUntil: "2020-01-01T00:00:00.000Z" }),
      expectedRevision: 0,
      leaseMs: 60_000,
    });
    const exec = (await store.find()).executions[0]!;
    const aheadOfTheServer = new Date(Date.now() + DAY_MS).toISOString();
    const takeover = store.commit({
      execution: { ...(await store.load(exec.id))!, updatedAt: aheadOfTheServer },
      expectedRevision: claimed.revision,
      takeover: true,
    });
    await expect(takeover).rejects.toThrow(/live lease for \d+ ms more \(by the store's clock\)/);
  });

  test("a renewal moves the lease's end by the server's time", async () => {
    const { store } = fresh();
    const claimed = await store.commit({ execution: makeExecution(), expectedRevision: 0, leaseMs: 1 });
    const id = (await store.find()).executions[0]!.id;
    await store.renew(id, { revision: claimed.revision, leaseUntil: "2020-01-01T00:00:00.000Z", leaseMs: 60_000 });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const takeover = store.commit({ execution: (await store.load(id))!, expectedRevision: claimed.revision, takeover: true });
    await expect(takeover).rejects.toThrow(/live lease/);
  });
});

describeRedis("UpstashRedisStore round trips", () => {
  /** Runs `action` once to load the scripts, then counts the HTTP requests of a second run. */
  async function requestsOf(action: () => Promise<unknown>) {
    await action();
    stack.resetBridgeStats();
    await action();
    return stack.bridgeStats();
  }

  test("a commit with entries and events is exactly one HTTP request", async () => {
    const { store } = fresh();
    const exec = makeExecution();
    let revision = 0;
    const stats = await requestsOf(async () => {
      await store.commit({ execution: exec, expectedRevision: revision, entries: [makeEntry(exec.id)], events: [makeEvent(revision + 1)] });
      revision += 1;
    });
    expect(stats.requests).toBe(1);
    expect(stats.byCommand).toEqual({ EVALSHA: 1 });
  });

  test("a load is exactly one HTTP request", async () => {
    const { store } = fresh();
    const exec = makeExecution();
    await store.save(exec);
    expect((await requestsOf(() => store.load(exec.id))).requests).toBe(1);
  });

  test("entries and events are one HTTP request each", async () => {
    const { store } = fresh();
    const exec = makeExecution();
    await store.commit({ execution: exec, entries: [makeEntry(exec.id)], events: [makeEvent(1)] });
    expect((await requestsOf(() => store.entries(exec.id))).requests).toBe(1);
    expect((await requestsOf(() => store.events(exec.id, { after: 0 }))).requests).toBe(1);
  });

  test("events after n reads only the events after n, in one request, also once the list was trimmed", async () => {
    const { store, keys } = fresh();
    const exec = makeExecution();
    const seqs = (events: { seq: number }[]) => events.map((e) => e.seq);
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
    await store.commit({ execution: exec, events: range(1, 1000).map((n) => makeEvent(n)) });
    // An element before the wanted ones that is not JSON: reading it would fail the call.
    await stack.redis.lset(keys.events(exec.id), 500, "not json");

    let events: { seq: number }[] = [];
    const stats = await requestsOf(async () => (events = await store.events(exec.id, { after: 990 })));
    expect(seqs(events)).toEqual(range(991, 1000));
    expect(stats.requests).toBe(1);
    expect(stats.byCommand).toEqual({ EVALSHA: 1 });

    // Five more: the list keeps seq 6..1005, its head is no longer seq 1.
    await store.commit({ execution: exec, expectedRevision: 1, events: range(1001, 1005).map((n) => makeEvent(n)) });
    expect(await stack.redis.llen(keys.events(exec.id))).toBe(1000);
    expect(seqs(await store.events(exec.id, { after: 990 }))).toEqual(range(991, 1005));
    expect(seqs(await store.events(exec.id, { after: 1004.5 }))).toEqual([1005]);
    expect(await store.events(exec.id, { after: 1005 })).toEqual([]);
    await expect(store.events(exec.id, { after: 0 })).rejects.toThrow(StoreError);
  });

  test("events after n with gaps in seq falls back to filtering the whole list", async () => {
    const { store } = fresh();
    const exec = makeExecution();
    await store.commit({ execution: exec, events: [10, 20, 30, 40, 41].map((n) => makeEvent(n)) });
    expect((await store.events(exec.id, { after: 25 })).map((e) => e.seq)).toEqual([30, 40, 41]);
    expect((await store.events(exec.id, { after: 5 })).map((e) => e.seq)).toEqual([10, 20, 30, 40, 41]);
    expect((await store.events(exec.id, { after: -Infinity })).map((e) => e.seq)).toEqual([10, 20, 30, 40, 41]);
    expect(await store.events(exec.id, { after: Number.NaN })).toEqual([]);
  });

  test("a filtered find is exactly one HTTP request", async () => {
    const { store } = fresh();
    for (let i = 0; i < 5; i++) await store.save(makeExecution({ status: i % 2 ? "halted" : "running" }));
    expect((await requestsOf(() => store.find({ status: "halted", limit: 1 }))).requests).toBe(1);
  });

  test("after SCRIPT FLUSH a commit falls back from EVALSHA to EVAL and succeeds", async () => {
    const { store } = fresh();
    const exec = makeExecution();
    await store.save(exec);
    await stack.redis.scriptFlush();
    stack.resetBridgeStats();
    expect((await store.save(exec, { expectedRevision: 1 })).revision).toBe(2);
    expect(stack.bridgeStats().byCommand).toEqual({ EVALSHA: 1, EVAL: 1 });
  });
});

describeRedis("UpstashRedisStore retention", () => {
  const ttls = (keys: string[]) => Promise.all(keys.map((key) => stack.redis.ttl(key)));
  const keysOf = (keys: ReturnType<typeof redisKeys>, id: string) => [keys.execution(id), keys.entries(id), keys.events(id)];

  test("a halted execution's record, entries and events have no TTL", async () => {
    const { store, keys } = fresh();
    const exec = makeExecution({ status: "halted" });
    await store.commit({ execution: exec, entries: [makeEntry(exec.id)], events: [makeEvent(1)] });
    expect(await ttls(keysOf(keys, exec.id))).toEqual([-1, -1, -1]);
  });

  test("a completed execution's record, entries and events expire after the retention", async () => {
    const { store, keys } = fresh({ retention: 3600 });
    const exec = makeExecution({ status: "completed" });
    await store.commit({ execution: exec, entries: [makeEntry(exec.id)], events: [makeEvent(1)] });
    for (const ttl of await ttls(keysOf(keys, exec.id))) {
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(3600);
    }
  });

  test("a failed execution expires like a completed one", async () => {
    const { store, keys } = fresh({ retention: 3600 });
    const exec = makeExecution({ status: "failed" });
    await store.save(exec);
    expect(await stack.redis.ttl(keys.execution(exec.id))).toBeGreaterThan(0);
  });

  test("saving a terminal execution as running again removes the TTL", async () => {
    const { store, keys } = fresh();
    const exec = makeExecution({ status: "completed" });
    await store.commit({ execution: exec, entries: [makeEntry(exec.id)], events: [makeEvent(1)] });
    await store.save({ ...exec, status: "running" }, { expectedRevision: 1 });
    expect(await ttls(keysOf(keys, exec.id))).toEqual([-1, -1, -1]);
  });

  test("record() onto a terminal execution gives a new entries list the record's TTL", async () => {
    const { store, keys } = fresh({ retention: 3600 });
    const exec = makeExecution({ status: "completed" });
    await store.save(exec);
    await store.record(makeEntry(exec.id));
    expect(await stack.redis.ttl(keys.entries(exec.id))).toBeGreaterThan(0);
  });

  test("the default retention is 30 days", async () => {
    const { store, keys } = fresh();
    const exec = makeExecution({ status: "completed" });
    await store.save(exec);
    const ttl = await stack.redis.ttl(keys.execution(exec.id));
    expect(ttl).toBeGreaterThan(30 * 86400 - 60);
    expect(ttl).toBeLessThanOrEqual(30 * 86400);
  });
});

describeRedis("UpstashRedisStore index cleanup", () => {
  /** What the sweeper's tick asks of the store (the retention sweep runs with it). */
  const sweep = (store: UpstashRedisStore, time: ReturnType<typeof manualClock>) =>
    store.recoverable({ now: time.clock(), graceMs: 0, claimMs: 0 });
  /** What Redis does when the TTL fires: the execution's keys vanish, the index rows stay. */
  const expire = (keys: ReturnType<typeof redisKeys>, id: string) => stack.redis.del(keys.execution(id), keys.entries(id), keys.events(id));
  const indexScores = (keys: ReturnType<typeof redisKeys>, id: string, status: "completed" | "running", wf: string) =>
    Promise.all([keys.all, keys.byWorkflow(wf), keys.byStatus(status), keys.byStatusAndWorkflow(status, wf)]
      .map((key) => stack.redis.zscore(key, id)));

  test("the sweeper (not a commit) removes the index rows of an execution whose keys expired", async () => {
    const time = manualClock();
    const { store, keys } = fresh({ retention: 60, clock: time.clock });
    const gone = makeExecution({ status: "completed", workflowId: "wf-x" });
    await store.save(gone);
    await expire(keys, gone.id);
    time.advance(61_000);
    await store.save(makeExecution());
    expect((await indexScores(keys, gone.id, "completed", "wf-x")).every((score) => score !== null)).toBe(true);
    await sweep(store, time);
    expect(await indexScores(keys, gone.id, "completed", "wf-x")).toEqual([null, null, null, null]);
    expect(await stack.redis.zcard(keys.expiry)).toBe(0);
  });

  test("the sweeper removes the label index rows of an execution whose keys expired", async () => {
    const time = manualClock();
    const { store, keys } = fresh({ retention: 60, clock: time.clock });
    const gone = makeExecution({ status: "completed", labels: { customer: "C-7" } });
    await store.save(gone);
    expect(await stack.redis.zscore(keys.byLabel("customer", "C-7"), gone.id)).not.toBeNull();
    await expire(keys, gone.id);
    time.advance(61_000);
    await sweep(store, time);
    expect(await stack.redis.zscore(keys.byLabel("customer", "C-7"), gone.id)).toBeNull();
    expect(await stack.redis.exists(keys.labels(gone.id))).toBe(0);
  });

  test("a sweep before the retention has passed leaves the index rows alone", async () => {
    const time = manualClock();
    const { store, keys } = fresh({ retention: 60, clock: time.clock });
    const exec = makeExecution({ status: "completed", workflowId: "wf-x" });
    await store.save(exec);
    await expire(keys, exec.id);
    time.advance(30_000);
    await sweep(store, time);
    expect((await indexScores(keys, exec.id, "completed", "wf-x")).every((score) => score !== null)).toBe(true);
  });

  test("index rows of a terminal execution whose keys still exist survive a sweep (clock ahead of Redis)", async () => {
    const time = manualClock();
    const { store, keys } = fresh({ retention: 60, clock: time.clock });
    const exec = makeExecution({ status: "completed", workflowId: "wf-x" });
    await store.save(exec);
    time.advance(DAY_MS);
    await sweep(store, time);
    expect((await store.find({ status: "completed" })).executions.map((e) => e.id)).toEqual([exec.id]);
    expect(await stack.redis.zcard(keys.expiry)).toBe(1);
  });

  test("find skips and removes rows of vanished executions and still fills the page", async () => {
    const { store, keys } = fresh();
    const created = [];
    for (let i = 0; i < 6; i++) created.push(await store.save(makeExecution()));
    for (const exec of created.slice(3)) await expire(keys, exec.id);
    const page = await store.find({ limit: 3 });
    expect(page.executions.map((e) => e.id)).toEqual(created.slice(0, 3).map((e) => e.id).reverse());
    expect(page.cursor).toBeUndefined();
    expect(await stack.redis.zcard(keys.all)).toBe(3);
  });

  test("executionIds leaves out executions whose keys expired", async () => {
    const { store, keys } = fresh();
    const kept = await store.save(makeExecution({ workflowId: "w" }));
    const gone = await store.save(makeExecution({ workflowId: "w" }));
    await expire(keys, gone.id);
    expect(await store.executionIds({ workflowId: "w" })).toEqual([kept.id]);
  });

  test("an id created again after expiry does not show up under its old status", async () => {
    const { store, keys } = fresh();
    const exec = makeExecution({ status: "completed" });
    await store.save(exec);
    await expire(keys, exec.id);
    await store.save({ ...exec, status: "running" }, { expectedRevision: 0 });
    expect((await store.find({ status: "completed" })).executions).toEqual([]);
    expect((await store.find({ status: "running" })).executions.map((e) => e.id)).toEqual([exec.id]);
  });

  test("the sweep after such a re-creation removes only the rows of the old status", async () => {
    const time = manualClock();
    const { store, keys } = fresh({ retention: 60, clock: time.clock });
    const exec = makeExecution({ status: "completed", workflowId: "wf-r" });
    await store.save(exec);
    await expire(keys, exec.id);
    await store.save({ ...exec, status: "running" }, { expectedRevision: 0 });
    time.advance(61_000);
    await sweep(store, time);
    expect(await indexScores(keys, exec.id, "completed", "wf-r")).toEqual([expect.any(Number), expect.any(Number), null, null]);
    expect((await indexScores(keys, exec.id, "running", "wf-r")).every((score) => score !== null)).toBe(true);
  });
});

describeRedis("UpstashRedisStore records and values", () => {
  test("a stale save leaves the record, entries, events and index rows intact", async () => {
    const { store, keys } = fresh();
    const exec = makeExecution({ status: "halted" });
    await store.commit({ execution: exec, entries: [makeEntry(exec.id)], events: [makeEvent(1)] });
    const snapshot = () =>
      Promise.all([
        stack.redis.hgetall(keys.execution(exec.id)),
        stack.redis.lrange(keys.entries(exec.id), 0, -1),
        stack.redis.lrange(keys.events(exec.id), 0, -1),
        stack.redis.zscore(keys.byStatus("halted"), exec.id),
        stack.redis.zscore(keys.byStatus("completed"), exec.id),
      ]);
    const before = await snapshot();
    await store.commit({
      execution: { ...exec, status: "completed" },
      expectedRevision: 7,
      entries: [makeEntry(exec.id)],
      events: [makeEvent(2)],
    }).catch(() => {});
    expect(await snapshot()).toEqual(before);
  });

  test("the head (revision included) and the snapshot are stored as JSON text", async () => {
    const { store, keys } = fresh();
    const exec = makeExecution();
    await store.save(exec);
    const raw = new Redis({ url: stack.restUrl, token: stack.token, automaticDeserialization: false });
    const [head, snapshot, json] = await raw.hmget<Record<string, string>>(
      keys.execution(exec.id),
      "head",
      "snapshot",
      "json",
    ) as unknown as [string, string, null];
    expect(JSON.parse(head)).toEqual(headOf({ ...exec, revision: 1 }));
    expect(JSON.parse(snapshot)).toEqual(bodyOf(exec));
    expect(json).toBeNull();
  });

  test("values round-trip exactly with the client's automatic deserialization turned off", async () => {
    const redis = new Redis({ url: stack.restUrl, token: stack.token, automaticDeserialization: false, retry: false });
    const store = new UpstashRedisStore({ redis, prefix: `raw${++prefixes}` });
    const exec = makeExecution({ ctx: { strings: TRICKY_STRINGS, numbers: TRICKY_NUMBERS, f: false, n: null } });
    const entry = makeEntry(exec.id, { output: { strings: TRICKY_STRINGS } });
    await store.commit({ execution: exec, entries: [entry], events: [makeEvent(1)] });
    expect(await store.load(exec.id)).toStrictEqual({ ...exec, revision: 1 });
    expect(await store.entries(exec.id)).toStrictEqual([entry]);
    expect((await store.find()).executions).toStrictEqual([headOf({ ...exec, revision: 1 })]);
  });

  test("ids that look like JSON (123, [1], true, null, 1e5) come back as the same strings", async () => {
    const { store } = fresh();
    const ids = ["123", "[1]", "true", "null", "1e5", "[]", "-1.5"];
    for (const id of ids) await store.save(makeExecution({ id, workflowId: "json-ids" }));
    const expected = [...ids].reverse();
    expect(await store.executionIds({ workflowId: "json-ids" })).toEqual(expected);
    const first = await store.find({ workflowId: "json-ids", limit: 3 });
    const rest = await store.find({ workflowId: "json-ids", cursor: first.cursor });
    expect([...first.executions, ...rest.executions].map((e) => e.id)).toEqual(expected);
  });

  test("ids containing key words (exec:, idx:all, entries:) do not collide with other keys", async () => {
    const { store } = fresh();
    const ids = ["a", "idx:all", "exec:a", "entries:a", "a:entries"];
    for (const id of ids) await store.commit({ execution: makeExecution({ id }), entries: [makeEntry(id, { stepId: id })] });
    for (const id of ids) {
      expect((await store.load(id))?.id).toBe(id);
      expect((await store.entries(id)).map((e) => e.stepId)).toEqual([id]);
    }
    expect((await store.find()).executions.length).toBe(ids.length);
  });

  test("ids with separator tricks are rejected before any request is made", async () => {
    const { store } = fresh();
    stack.resetBridgeStats();
    for (const id of ["a b", "a*", "a?", "{a}", "a\r\nb", "../a", "a;b", "a\u0000", "a#b"]) {
      await expect(store.save(makeExecution({ id }))).rejects.toThrow(ValidationError);
      await expect(store.load(id)).rejects.toThrow(ValidationError);
    }
    expect(stack.bridgeStats().requests).toBe(0);
  });

  test("a prefix containing ':' is rejected (prefixes must not overlap)", () => {
    expect(() => new UpstashRedisStore({ redis: stack.redis, prefix: "dw:exec" })).toThrow(ConfigError);
  });

  test("works with the client from @upstash/redis/cloudflare", async () => {
    const redis = new CloudflareRedis({ url: stack.restUrl, token: stack.token, retry: false });
    const store = new UpstashRedisStore({ redis, prefix: `cf${++prefixes}` });
    const exec = makeExecution();
    await store.save(exec, { expectedRevision: 0 });
    expect(await store.load(exec.id)).toEqual({ ...exec, revision: 1 });
  });
});

describeRedis("UpstashRedisStore stored form", () => {
  const raw = () => new Redis({ url: stack.restUrl, token: stack.token, automaticDeserialization: false, retry: false });

  /**
   * Writes an execution the way the previous version's commit script did: one hash (revision, status,
   * workflowId, json = the whole execution with its revision) and its four index rows.
   */
  async function writePreviousVersion(
    keys: ReturnType<typeof redisKeys>,
    record: Record<string, unknown> & { id: string; status: string; workflowId: string; createdAt: string },
  ) {
    const { id, status, workflowId } = record;
    await raw().hset(keys.execution(id), { revision: String(record.revision), status, workflowId, json: JSON.stringify(record) });
    const score = Date.parse(record.createdAt);
    for (const index of [keys.all, keys.byWorkflow(workflowId), keys.byStatus(status), keys.byStatusAndWorkflow(status, workflowId)]) {
      await stack.redis.zadd(index, { score, member: id });
    }
  }

  /** An execution as the previous version stored it: no leaseUntil / wakeAt, a scheduled retry's time in retry.notBefore. */
  function previousVersionRecord() {
    const { leaseUntil: _lease, wakeAt: _wake, ...fields } = makeExecution({ status: "pending", ctx: { price: 0.1, big: 2 ** 53 - 1 } });
    const record = { ...fields, revision: 3, retry: { stepId: "charge", attempt: 2, notBefore: "2026-06-01T00:05:00.000Z" } };
    const upgraded: Execution = {
      ...fields,
      revision: 3,
      retry: { stepId: "charge", attempt: 2 },
      leaseUntil: null,
      wakeAt: "2026-06-01T00:05:00.000Z",
    };
    return { record, upgraded };
  }

  test("a record written by the previous version loads, upgraded, and find returns its head", async () => {
    const { store, keys } = fresh();
    const { record, upgraded } = previousVersionRecord();
    await writePreviousVersion(keys, record);
    expect(await store.load(record.id)).toEqual(upgraded);
    expect((await store.find({ status: "pending" })).executions).toEqual([headOf(upgraded)]);
  });

  test("a delta commit on a previous-version record is refused by the script and sent again as a snapshot (two requests)", async () => {
    const { prefix, keys } = fresh();
    const { record, upgraded } = previousVersionRecord();
    await writePreviousVersion(keys, record);
    // A store that never loaded it: it cannot know the record has no snapshot.
    const store = new UpstashRedisStore({ redis: stack.redis, prefix });
    const next = { ...upgraded, status: "running" as const, ctx: { ...upgraded.ctx, a: 1 }, leaseUntil: "2026-06-01T00:06:00.000Z" };
    stack.resetBridgeStats();
    expect(await store.commit({ execution: next, expectedRevision: 3, delta: { set: { a: 1 } } })).toEqual({ revision: 4 });
    expect(stack.bridgeStats().requests).toBe(2);
    const [json, snapshot] = await raw().hmget(keys.execution(record.id), "json", "snapshot") as unknown as [unknown, string];
    expect(json).toBeNull();
    expect(JSON.parse(snapshot)).toEqual(bodyOf(next));
    expect(await store.load(record.id)).toEqual({ ...next, revision: 4 });
    expect((await store.find({ status: "running" })).executions.map((e) => e.id)).toEqual([record.id]);
    expect(await store.find({ status: "pending" })).toEqual({ executions: [] });

    stack.resetBridgeStats();
    await store.commit({ execution: { ...next, ctx: { ...next.ctx, b: 2 } }, expectedRevision: 4, delta: { set: { b: 2 } } });
    expect(stack.bridgeStats().requests).toBe(1);
    expect((await store.footprint(record.id))?.deltas).toBe(1);
  });

  test("a store that loaded a previous-version record writes the snapshot in its first commit, one request", async () => {
    const { store, keys } = fresh();
    const { record, upgraded } = previousVersionRecord();
    await writePreviousVersion(keys, record);
    await store.load(record.id);
    stack.resetBridgeStats();
    await store.commit({ execution: { ...upgraded, ctx: { a: 1 } }, expectedRevision: 3, delta: { set: { a: 1 } } });
    expect(stack.bridgeStats().requests).toBe(1);
    expect(await store.load(record.id)).toEqual({ ...upgraded, ctx: { a: 1 }, revision: 4 });
  });

  test("delta commits, the compacting commit and a load of snapshot + deltas are one request each", async () => {
    const { store } = fresh();
    let exec: Execution = { ...makeExecution({ ctx: { seed: "s".repeat(200) } }), revision: 1 };
    await store.commit({ execution: exec, expectedRevision: 0 });
    let compacted = false;
    for (let i = 0; !compacted; i++) {
      const delta = { set: { [`k${i}`]: "x".repeat(60) } };
      exec = { ...exec, ctx: { ...exec.ctx, ...delta.set } };
      stack.resetBridgeStats();
      const { revision } = await store.commit({ execution: exec, expectedRevision: exec.revision, delta, entries: [makeEntry(exec.id)] });
      exec = { ...exec, revision };
      expect(stack.bridgeStats()).toMatchObject({ requests: 1, byCommand: { EVALSHA: 1 } });
      compacted = (await store.footprint(exec.id))!.deltas === 0;
    }
    await store.commit({ execution: { ...exec, ctx: { ...exec.ctx, z: 1 } }, expectedRevision: exec.revision, delta: { set: { z: 1 } } });
    stack.resetBridgeStats();
    expect(await store.load(exec.id)).toEqual({ ...exec, ctx: { ...exec.ctx, z: 1 }, revision: exec.revision + 1 });
    expect(stack.bridgeStats().requests).toBe(1);
  });

  test("a client without known sizes sends the delta; the reply teaches it the sizes", async () => {
    const { store, prefix } = fresh();
    const exec: Execution = { ...makeExecution({ ctx: { seed: "s".repeat(100) } }), revision: 1 };
    await store.commit({ execution: exec, expectedRevision: 0 });
    const other = new UpstashRedisStore({ redis: stack.redis, prefix });
    const big = { set: { big: "b".repeat(500) } };
    // Past the snapshot's size, but `other` cannot know: the delta is appended.
    await other.commit({ execution: { ...exec, ctx: { ...exec.ctx, ...big.set } }, expectedRevision: 1, delta: big });
    expect((await other.footprint(exec.id))?.deltas).toBe(1);
    await other.commit({ execution: { ...exec, ctx: { ...exec.ctx, ...big.set, c: 1 } }, expectedRevision: 2, delta: { set: { c: 1 } } });
    expect((await other.footprint(exec.id))?.deltas).toBe(0);
    expect(await store.load(exec.id)).toEqual({ ...exec, ctx: { ...exec.ctx, ...big.set, c: 1 }, revision: 3 });
  });

  test("a commit carrying a new definition is still one request", async () => {
    const { store } = fresh();
    const exec = makeExecution({ workflowHash: "hx" });
    const definition = { workflowId: exec.workflowId, version: "1", hash: "hx", source: "id: wf", storedAt: exec.createdAt };
    stack.resetBridgeStats();
    await store.commit({ execution: exec, expectedRevision: 0, definition });
    expect(stack.bridgeStats().requests).toBe(1);
    expect(await store.definition("hx")).toEqual(definition);
  });

  test("recoverable, putDefinition, definitionVersions and workflowIds are one request each", async () => {
    const { store } = fresh();
    const definition = { workflowId: "wf", version: "1", hash: "h1", source: "id: wf", storedAt: "2026-01-01T00:00:00.000Z" };
    for (
      const call of [
        () => store.recoverable({ now: new Date(), graceMs: 0, claimMs: 0 }),
        () => store.putDefinition(definition, { current: true }),
        () => store.definitionVersions("wf"),
        () => store.workflowIds(),
        () => store.currentDefinition("wf"),
      ]
    ) {
      await call();
      stack.resetBridgeStats();
      await call();
      expect(stack.bridgeStats().requests).toBe(1);
    }
  });

  test("a cancelled execution's record, log, entries and events expire after the retention", async () => {
    const { store, keys } = fresh({ retention: 3600 });
    const exec: Execution = { ...makeExecution({ ctx: { seed: "s".repeat(500) } }), revision: 1 };
    await store.commit({ execution: exec, expectedRevision: 0, entries: [makeEntry(exec.id)], events: [makeEvent(1)] });
    await store.commit({
      execution: { ...exec, status: "cancelled", ctx: { ...exec.ctx, a: 1 } },
      expectedRevision: 1,
      delta: { set: { a: 1 } },
    });
    const owned = [keys.execution(exec.id), keys.log(exec.id), keys.entries(exec.id), keys.events(exec.id)];
    for (const ttl of await Promise.all(owned.map((key) => stack.redis.ttl(key)))) {
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(3600);
    }
  });

  test("the recovery sweep drops members whose execution is gone", async () => {
    const { store, keys } = fresh();
    const exec = makeExecution({ status: "pending", updatedAt: "2026-01-01T00:00:00.000Z" });
    await store.commit({ execution: exec, expectedRevision: 0 });
    await stack.redis.del(keys.execution(exec.id));
    expect(await store.recoverable({ now: new Date("2026-02-01T00:00:00.000Z"), graceMs: 0, claimMs: 0 })).toEqual([]);
    expect(await stack.redis.zcard(keys.wake)).toBe(0);
  });

  test("the sizes cache keeps at most its capacity, the oldest entry dropped first", () => {
    const cache = new StoredSizesCache(2);
    for (const id of ["a", "b", "c"]) cache.set(id, { revision: 1, snapshotBytes: 1, logBytes: 0 });
    expect([cache.get("a"), cache.size]).toEqual([undefined, 2]);
    expect(cache.get("c")).toEqual({ revision: 1, snapshotBytes: 1, logBytes: 0 });
  });
});

describeRedis("UpstashRedisStore errors", () => {
  test("an unreachable REST endpoint surfaces as StoreError with the cause", async () => {
    const redis = new Redis({ url: `http://127.0.0.1:${freePort()}`, token: "x", retry: false });
    const store = new UpstashRedisStore({ redis });
    const error = await store.load("some-id").catch((e) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error.cause).toBeInstanceOf(Error);
  });

  test("Redis down behind the bridge surfaces as StoreError", async () => {
    const bridge = startBridge({ port: 0, redisUrl: `redis://127.0.0.1:${freePort()}`, token: "t" });
    try {
      const store = new UpstashRedisStore({ redis: new Redis({ url: bridge.url, token: "t", retry: false }) });
      const error = await store.save(makeExecution()).catch((e) => e);
      expect(error).toBeInstanceOf(StoreError);
      expect(error.message).toContain("cannot reach Redis");
    } finally {
      await bridge.stop();
    }
  });

  test("a wrong token surfaces as StoreError", async () => {
    const store = new UpstashRedisStore({ redis: new Redis({ url: stack.restUrl, token: "wrong", retry: false }) });
    const error = await store.find().catch((e) => e);
    expect(error).toBeInstanceOf(StoreError);
    expect(error.message).toContain("Unauthorized");
  });
});

describeRedis("Upstash REST bridge protocol", () => {
  const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
    fetch(`${stack.restUrl}${path}`, {
      method: "POST",
      headers: { authorization: `Bearer ${stack.token}`, "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

  test("a single command answers {result}", async () => {
    await post("/", ["SET", "proto:plain", "héllo"]);
    const res = await post("/", ["GET", "proto:plain"]);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ result: "héllo" });
  });

  test("with Upstash-Encoding: base64 every string is base64 of the raw bytes, arrays recursively, integers as they are", async () => {
    await post("/", ["DEL", "proto:list"]);
    await post("/", ["RPUSH", "proto:list", "😀", "123", ""]);
    const res = await post("/pipeline", [["LRANGE", "proto:list", "0", "-1"], ["LLEN", "proto:list"], ["GET", "proto:none"], [
      "SET",
      "proto:x",
      "1",
    ]], {
      "Upstash-Encoding": "base64",
    });
    expect(await res.json()).toEqual([
      { result: [b64("😀"), b64("123"), ""] },
      { result: 3 },
      { result: null },
      { result: b64("OK") },
    ]);
  });

  test("a pipeline answers one {result} or {error} per command", async () => {
    await post("/", ["SET", "proto:str", "x"]);
    const res = await post("/pipeline", [["INCR", "proto:counter-p"], ["LPUSH", "proto:str", "y"], ["GET", "proto:str"]]);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { result?: unknown; error?: string }[];
    expect(body[0]).toEqual({ result: expect.any(Number) });
    expect(body[1]!.error).toStartWith("WRONGTYPE");
    expect(body[2]).toEqual({ result: "x" });
  });

  test("multi-exec runs the commands in one transaction and answers per command", async () => {
    await post("/", ["DEL", "proto:tx"]);
    const res = await post("/multi-exec", [["INCR", "proto:tx"], ["INCR", "proto:tx"], ["GET", "proto:tx"]]);
    expect(await res.json()).toEqual([{ result: 1 }, { result: 2 }, { result: "2" }]);
    expect(stack.bridgeStats().byCommand).toMatchObject({ MULTI: expect.any(Number), EXEC: expect.any(Number) });
  });

  test("multi-exec with a command rejected while queueing writes nothing", async () => {
    await post("/", ["DEL", "proto:tx-abort"]);
    const res = await post("/multi-exec", [["SET", "proto:tx-abort", "1"], ["NOSUCHCOMMAND"]]);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toStartWith("EXECABORT");
    expect(await (await post("/", ["EXISTS", "proto:tx-abort"])).json()).toEqual({ result: 0 });
  });

  test("concurrent multi-exec blocks are never interleaved", async () => {
    await post("/", ["DEL", "proto:iso"]);
    const results = await Promise.all(
      Array.from(
        { length: 20 },
        () => post("/multi-exec", [["INCR", "proto:iso"], ["GET", "proto:iso"]]).then((r) => r.json() as Promise<{ result: unknown }[]>),
      ),
    );
    for (const [incr, get] of results) expect(String(incr!.result)).toBe(get!.result as string);
  });

  test("concurrent requests, whose commands reach Redis in shared writes, each get their own replies", async () => {
    const values = Array.from({ length: 50 }, (_, i) => `v${i} ${"😀".repeat(i % 5)}`);
    const answers = await Promise.all(
      values.map((value, i) =>
        post("/pipeline", [["SET", `proto:many:${i}`, value], ["GET", `proto:many:${i}`], ["STRLEN", `proto:many:${i}`]])
          .then((r) => r.json())
      ),
    );
    expect(answers).toEqual(
      values.map((value) => [{ result: "OK" }, { result: value }, { result: new TextEncoder().encode(value).length }]),
    );
  });

  test("a wrong or missing token is 401 {error: Unauthorized}", async () => {
    const wrong = await post("/", ["PING"], { authorization: "Bearer nope" });
    expect(wrong.status).toBe(401);
    expect(await wrong.json()).toEqual({ error: "Unauthorized" });
    const missing = await fetch(`${stack.restUrl}/`, { method: "POST", body: JSON.stringify(["PING"]) });
    expect(missing.status).toBe(401);
  });

  test("a failing single command is a non-2xx {error: 'ERR ...'}", async () => {
    const res = await post("/", ["GET"]);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toStartWith("ERR wrong number of arguments");
  });

  test("EVALSHA of an unknown script keeps Redis's NOSCRIPT error text", async () => {
    const res = await post("/", ["EVALSHA", "0".repeat(40), "0"]);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toStartWith("NOSCRIPT");
  });

  test("a value of several megabytes survives the trip through the bridge", async () => {
    const big = "ü".repeat(3_000_000);
    await stack.redis.set("proto:big", big);
    expect(await stack.redis.get<string>("proto:big")).toBe(big);
  });

  test("stats count requests and commands, and reset clears them", async () => {
    stack.resetBridgeStats();
    await post("/pipeline", [["PING"], ["PING"]]);
    const stats = (await (await fetch(`${stack.restUrl}/__stats`)).json()) as { requests: number; commands: number };
    expect(stats).toMatchObject({ requests: 1, commands: 2 });
    await fetch(`${stack.restUrl}/__stats/reset`, { method: "POST" });
    expect(stack.bridgeStats()).toMatchObject({ requests: 0, commands: 0 });
  });
});

describeRedis("UpstashRedisStore event waiters", () => {
  const wait = { waitId: "w@1", events: ["ping"], key: 'n="1"', match: null };
  const halted = (id: string, wakeAt: string | null) =>
    makeExecution({ id, status: "halted", updatedAt: "2026-01-01T00:00:00.000Z", wakeAt });

  test("a waiter with a timeout expires a day after it (with its index row); one without never does", async () => {
    const { store, keys } = fresh();
    await store.commit({ execution: halted("timed", "2026-01-01T01:00:00.000Z"), expectedRevision: 0, wait });
    const hour = 3600_000, day = 24 * hour;
    expect(await stack.redis.pttl(keys.eventWaiter("timed"))).toBeWithin(day + hour - 5000, day + hour + 1);
    expect(await stack.redis.pttl(keys.eventWaiters("ping", 'n="1"'))).toBeWithin(day + hour - 5000, day + hour + 1);
    await store.commit({ execution: halted("forever", null), expectedRevision: 0, wait });
    expect(await stack.redis.pttl(keys.eventWaiter("forever"))).toBe(-1);
    expect(await stack.redis.pttl(keys.eventWaiters("ping", 'n="1"'))).toBe(-1);
  });
});
