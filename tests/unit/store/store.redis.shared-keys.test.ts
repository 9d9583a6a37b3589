/**
 * UpstashRedisStore's shared keys (indexes, recovery queues, expiry) are written only when they change, so that
 * checkpoints of different executions touch disjoint keys (Upstash's key locking); and the scripts that declare
 * `allow-key-locking` pass every key in KEYS. Commands run inside a script are counted with Redis's own
 * `INFO commandstats`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { RespConnection } from "durable-workflow-edge-dev/bridge";
import * as lua from "../../../src/store/upstash-redis/scripts.ts";
import { KEY_LOCKED } from "../../../src/store/upstash-redis/store.ts";
import { QUEUE_SLACK_MS } from "../../../src/store/upstash-redis/sizes.ts";
import { redisKeys, UpstashRedisStore, type UpstashRedisStoreOptions } from "../../../src/store/upstash-redis.ts";
import type { Execution } from "../../../src/types.ts";
import { makeEntry, makeEvent, makeExecution } from "../../support/store-contract.ts";
import { redisServerAvailable, type RedisStack, startRedisStack } from "../../support/redis.ts";

const available = redisServerAvailable();
const describeRedis = available ? describe : describe.skip;

let stack: RedisStack;
let connection: RespConnection;
beforeAll(async () => {
  if (!available) return;
  stack = await startRedisStack();
  connection = new RespConnection(stack.redisUrl);
});
afterAll(async () => {
  connection?.close();
  await stack?.stop();
});

let prefixes = 0;
function fresh(options: Partial<UpstashRedisStoreOptions> = {}) {
  const prefix = `sk${++prefixes}`;
  return { store: new UpstashRedisStore({ redis: stack.redis, prefix, ...options }), keys: redisKeys(prefix) };
}

/** The commands Redis ran (scripts' inner commands included) while `fn` ran: name → calls. */
async function commandsDuring(fn: () => Promise<unknown>): Promise<Record<string, number>> {
  await connection.send([["CONFIG", "RESETSTAT"]]);
  await fn();
  const [reply] = await connection.send([["INFO", "commandstats"]]);
  const text = reply instanceof Uint8Array ? new TextDecoder().decode(reply) : String(reply);
  const calls: Record<string, number> = {};
  for (const match of text.matchAll(/^cmdstat_([\w|]+):calls=(\d+)/gm)) {
    if (match[1] !== "config|resetstat") calls[match[1]!] = Number(match[2]);
  }
  return calls;
}

const T0 = Date.parse("2026-06-01T00:00:00.000Z");
const iso = (ms: number) => new Date(ms).toISOString();
/** A running execution under a lease ending at `leaseEnd` (epoch ms). */
const leased = (exec: Execution, leaseEnd: number, revision: number): Execution => ({
  ...exec,
  revision,
  updatedAt: iso(leaseEnd - 60_000),
  leaseUntil: iso(leaseEnd),
  ctx: { ...exec.ctx, [`k${revision}`]: revision },
});

describeRedis("UpstashRedisStore writes shared keys only when they change", () => {
  test("a checkpoint that keeps status, workflow, hash and queue is one script writing only the execution's own keys", async () => {
    const { store, keys } = fresh();
    const exec = makeExecution();
    await store.commit({ execution: leased(exec, T0 + 60_000, 0), expectedRevision: 0, leaseMs: 60_000 });
    // One checkpoint first, so the script is loaded (a first EVALSHA falls back to EVAL).
    await store.commit({ execution: leased(exec, T0 + 60_500, 1), expectedRevision: 1, leaseMs: 60_000 });
    const commands = await commandsDuring(() =>
      store.commit({
        execution: leased(exec, T0 + 61_000, 2),
        expectedRevision: 2,
        delta: { set: { k2: 2 } },
        leaseMs: 60_000,
        entries: [makeEntry(exec.id)],
        events: [makeEvent(1)],
      })
    );
    expect(Object.keys(commands).sort()).toEqual(["evalsha", "hmget", "hset", "rpush", "time"]);
    expect(commands).toMatchObject({ evalsha: 1, hset: 1, rpush: 3 });
    // The rows written by the first commit are still right: found by status and workflow, queued at the first lease.
    expect((await store.find({ status: "running", workflowId: exec.workflowId })).executions.map((e) => e.id)).toEqual([exec.id]);
    expect(await stack.redis.zscore(keys.lease, exec.id)).toBe(T0 + 60_000);
    expect((await store.load(exec.id))!.ctx).toMatchObject({ k1: 1, k2: 2 });
  });

  test("a status change moves the index rows and the queue row", async () => {
    const { store, keys } = fresh();
    const exec = makeExecution();
    await store.commit({ execution: leased(exec, T0 + 60_000, 0), expectedRevision: 0, leaseMs: 60_000 });
    const halted = { ...exec, status: "halted" as const, leaseUntil: null, wakeAt: iso(T0 + 3_600_000), updatedAt: iso(T0) };
    const commands = await commandsDuring(() => store.commit({ execution: halted, expectedRevision: 1 }));
    expect(commands.zadd).toBeGreaterThan(0);
    expect(await stack.redis.zscore(keys.byStatus("running"), exec.id)).toBeNull();
    expect(await stack.redis.zscore(keys.byStatus("halted"), exec.id)).not.toBeNull();
    expect(await stack.redis.zscore(keys.byStatusAndHash("halted", exec.workflowHash), exec.id)).not.toBeNull();
    expect(await stack.redis.zscore(keys.lease, exec.id)).toBeNull();
    expect(await stack.redis.zscore(keys.wake, exec.id)).toBe(T0 + 3_600_000);
  });

  test("leaving a terminal status PERSISTs the keys; staying non-terminal never does", async () => {
    const { store, keys } = fresh({ retention: 3600 });
    const exec = makeExecution({ status: "completed" });
    await store.commit({ execution: exec, expectedRevision: 0 });
    expect(await stack.redis.ttl(keys.execution(exec.id))).toBeGreaterThan(0);
    const reopened = await commandsDuring(() => store.commit({ execution: { ...exec, status: "pending" }, expectedRevision: 1 }));
    expect(reopened.persist).toBe(4);
    expect(await stack.redis.ttl(keys.execution(exec.id))).toBe(-1);
    const again = await commandsDuring(() => store.commit({ execution: { ...exec, status: "pending" }, expectedRevision: 2 }));
    expect(again.persist).toBeUndefined();
  });

  test("a lease moved within the slack leaves the queue row early; the sweep re-scores it instead of handing it out", async () => {
    const { store, keys } = fresh();
    const exec = makeExecution();
    const first = T0 + 60_000;
    const later = first + QUEUE_SLACK_MS / 2;
    await store.commit({ execution: leased(exec, first, 0), expectedRevision: 0, leaseMs: 60_000 });
    await store.commit({ execution: leased(exec, later, 1), expectedRevision: 1, leaseMs: 60_000 });
    expect(await stack.redis.zscore(keys.lease, exec.id)).toBe(first);
    const sweep = (now: number) => store.recoverable({ now: new Date(now), graceMs: 0, claimMs: 60_000 });
    expect(await sweep(first + 1)).toEqual([]);
    expect(await stack.redis.zscore(keys.lease, exec.id)).toBe(later);
    expect((await sweep(later)).map((r) => [r.id, r.dueAt])).toEqual([[exec.id, iso(later)]]);
  });

  test("a lease moved past the slack moves the queue row", async () => {
    const { store, keys } = fresh();
    const exec = makeExecution();
    const far = T0 + 60_000 + QUEUE_SLACK_MS + 1;
    await store.commit({ execution: leased(exec, T0 + 60_000, 0), expectedRevision: 0, leaseMs: 60_000 });
    await store.commit({ execution: leased(exec, far, 1), expectedRevision: 1, leaseMs: 60_000 });
    expect(await stack.redis.zscore(keys.lease, exec.id)).toBe(far);
  });

  test("a checkpoint after the sweeper claimed the row is refused by CHECKPOINT and stored by COMMIT, queue row included", async () => {
    const { store, keys } = fresh();
    const exec = makeExecution();
    await store.commit({ execution: leased(exec, T0 + 60_000, 0), expectedRevision: 0, leaseMs: 60_000 });
    // The sweeper claims it (its row moves to now + claimMs) behind this client's back.
    await store.recoverable({ now: new Date(T0 + 60_000), graceMs: 0, claimMs: 600_000 });
    expect(await stack.redis.zscore(keys.lease, exec.id)).toBe(T0 + 660_000);
    stack.resetBridgeStats();
    const { revision } = await store.commit({ execution: leased(exec, T0 + 61_000, 1), expectedRevision: 1, leaseMs: 60_000 });
    expect(revision).toBe(2);
    expect(stack.bridgeStats().requests).toBe(2);
    expect(await stack.redis.zscore(keys.lease, exec.id)).toBe(T0 + 61_000);
  });

  test("a record written by the previous version (no score, qscore, dueMs) is due on its queue score and fully written by its next commit", async () => {
    const { store, keys } = fresh();
    const exec = makeExecution();
    await store.commit({ execution: leased(exec, T0 + 60_000, 0), expectedRevision: 0, leaseMs: 60_000 });
    await stack.redis.hdel(keys.execution(exec.id), "score", "qscore", "dueMs");
    expect((await store.recoverable({ now: new Date(T0 + 60_000), graceMs: 0, claimMs: 0 })).map((r) => r.id)).toEqual([exec.id]);
    stack.resetBridgeStats();
    await store.commit({ execution: leased(exec, T0 + 61_000, 1), expectedRevision: 1, leaseMs: 60_000 });
    // CHECKPOINT (as this client predicts) refuses: the stored record does not say what its index rows hold.
    expect(stack.bridgeStats().requests).toBe(2);
    expect(await stack.redis.hmget(keys.execution(exec.id), "score", "qscore", "dueMs")).toEqual({
      score: Date.parse(exec.createdAt),
      qscore: T0 + 60_000, // the claim's score (claimMs 0): the new lease lies within the slack above it
      dueMs: T0 + 61_000,
    });
    expect(await stack.redis.zscore(keys.lease, exec.id)).toBe(T0 + 60_000);
  });

  test("a commit does not run the retention sweep; the sweeper's call does", async () => {
    let now = T0;
    const { store, keys } = fresh({ retention: 60, clock: () => new Date(now) });
    const done = makeExecution({ status: "completed" });
    await store.commit({ execution: done, expectedRevision: 0 });
    await stack.redis.del(keys.execution(done.id));
    now += 61_000;
    const commit = await commandsDuring(() => store.commit({ execution: makeExecution(), expectedRevision: 0 }));
    expect(commit.zrangebyscore).toBeUndefined();
    expect(await stack.redis.zscore(keys.all, done.id)).not.toBeNull();
    await store.recoverable({ now: new Date(now), graceMs: 0, claimMs: 0 });
    expect(await stack.redis.zscore(keys.all, done.id)).toBeNull();
    expect(await stack.redis.zcard(keys.expiry)).toBe(0);
  });
});

describeRedis("UpstashRedisStore key locking", () => {
  test("the scripts declared for key locking build no key from the prefix: every key comes in KEYS", () => {
    for (const name of Object.keys(KEY_LOCKED) as (keyof typeof KEY_LOCKED)[]) {
      expect({ name, prefix: /\bprefix\b|\bk_\w+\(|ARGV\[1\]/.test(lua[name]) }).toEqual({ name, prefix: false });
    }
  });

  test("redis-server refuses the allow-key-locking flag (alone or with no-writes), and accepts the shebang without it", async () => {
    for (const flags of new Set(Object.values(KEY_LOCKED))) {
      await expect(stack.redis.eval(`#!lua flags=${flags}\nreturn 1`, [], [])).rejects.toThrow(/Unexpected flag in script shebang/);
    }
    expect(await stack.redis.eval("#!lua flags=no-writes\nreturn 1", [], [])).toBe(1);
  });

  test("with keyLocking a store on redis-server finds out once, then sends the scripts without the flag", async () => {
    const { store } = fresh({ keyLocking: true });
    const exec = makeExecution();
    await store.commit({ execution: exec, expectedRevision: 0 });
    stack.resetBridgeStats();
    expect((await store.load(exec.id))?.id).toBe(exec.id);
    const first = stack.bridgeStats().requests;
    expect(first).toBeGreaterThan(1);
    stack.resetBridgeStats();
    await store.load(exec.id);
    await store.load(exec.id);
    expect(stack.bridgeStats().byCommand).toEqual({ EVALSHA: 2 });
  });

  test("without keyLocking (the default) the flag is never sent", async () => {
    const { store } = fresh();
    const exec = makeExecution();
    await store.commit({ execution: exec, expectedRevision: 0 });
    stack.resetBridgeStats();
    expect((await store.load(exec.id))?.id).toBe(exec.id);
    expect(stack.bridgeStats().requests).toBe(1);
  });
});
