import type { Engine } from "../../src/engine/engine.ts";
import type { Commit, Store } from "../../src/store/store.ts";

/** A clock that only moves when told to. */
export function manualClock(start = "2026-01-01T00:00:00.000Z") {
  let now = Date.parse(start);
  const clock = () => new Date(now);
  return Object.assign(clock, {
    advance(ms: number) {
      now += ms;
    },
  });
}

/** Ids `<prefix>-1`, `<prefix>-2`, ... */
export function sequentialIds(prefix = "id") {
  let n = 0;
  return () => `${prefix}-${++n}`;
}

/** A sleep that records what it was asked to wait and returns at once. */
export function recordingSleep() {
  const waits: number[] = [];
  const sleep = async (ms: number) => {
    waits.push(ms);
  };
  return Object.assign(sleep, { waits });
}

/** Wraps a store and counts the calls of each method (one call = one round trip on a remote store). */
export function countingStore<S extends Store>(store: S) {
  const counts: Record<string, number> = {};
  const commits: Commit[] = [];
  const wrapped = new Proxy(store, {
    get(target, key, receiver) {
      const value = Reflect.get(target, key, receiver);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        counts[String(key)] = (counts[String(key)] ?? 0) + 1;
        if (key === "commit") commits.push(structuredClone(args[0] as Commit));
        return value.apply(target, args);
      };
    },
  });
  return {
    store: wrapped as S,
    counts,
    commits,
    total: () => Object.values(counts).reduce((a, b) => a + b, 0),
    reset: () => {
      for (const key of Object.keys(counts)) delete counts[key];
      commits.length = 0;
    },
  };
}

/**
 * A run whose worker died: the execution is prepared, then claimed (`running`, a 60 s lease from the engine's
 * clock) and never checkpointed again.
 */
export async function leftRunning(engine: Engine, id: string): Promise<void> {
  const exec = await engine.prepare({}, { executionId: id });
  await engine.store.commit({
    execution: { ...exec, status: "running", leaseUntil: new Date(engine.clock.now().getTime() + 60_000).toISOString() },
    expectedRevision: exec.revision,
    delta: {},
  });
}
