/**
 * A MemoryStore that counts the Store method calls made on it and the bytes each commit serialized: the head,
 * the body it wrote (a delta, or a snapshot when the commit created or compacted the execution), the entries
 * and the events. The counting costs time: time runs on a plain MemoryStore.
 */
import { MemoryStore, type Store } from "../../mod.ts";
import { headOf, utf8Length } from "../../src/store/format.ts";
import type { Commit } from "../../src/store/store.ts";

export interface MemoryCounts {
  calls: number;
  bytes: number;
}

const jsonBytes = (value: unknown) => utf8Length(JSON.stringify(value));

export function countedMemoryStore(): { store: Store; counts(): MemoryCounts; reset(): void } {
  const target = new MemoryStore();
  let calls = 0;
  let bytes = 0;
  const commit = async (commit: Commit) => {
    const id = commit.execution.id;
    const before = await target.footprint(id);
    const result = await target.commit(commit);
    const after = (await target.footprint(id))!;
    const body = !before || after.deltas === 0 ? after.snapshotBytes : after.logBytes - before.logBytes;
    bytes += jsonBytes({ ...headOf(commit.execution), revision: result.revision }) + body + jsonBytes(commit.entries ?? []) +
      jsonBytes(commit.events ?? []);
    return result;
  };
  const store = new Proxy(target, {
    get(object, property) {
      const value = Reflect.get(object, property);
      if (typeof value !== "function") return value;
      const method = property === "commit" ? commit : (value as (...args: unknown[]) => unknown).bind(object);
      return (...args: unknown[]) => {
        calls += 1;
        return (method as (...args: unknown[]) => unknown)(...args);
      };
    },
  });
  return {
    store,
    counts: () => ({ calls, bytes }),
    reset() {
      calls = 0;
      bytes = 0;
    },
  };
}
