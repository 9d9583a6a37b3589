/** What a commit or load reply told this client about an execution's stored form. */
interface StoredSizes {
  revision: number;
  snapshotBytes: number;
  logBytes: number;
  /** What this client's last commit left in the shared keys (sharedState in store.ts) and the queue's score (0 = none). */
  shared?: string;
  queueScore?: number;
}

/**
 * How far a later recovery score may lie above the queued one before a commit moves the queue's row (a lease moves
 * with every checkpoint; rewriting the shared queue each time would serialise commits under key locking). The commit
 * script applies it; the client uses it to predict which commits can go to the key-locking CHECKPOINT.
 */
export const QUEUE_SLACK_MS = 15_000;

/** A bounded map id → StoredSizes; the entry written longest ago is dropped first. */
export class StoredSizesCache {
  readonly #map = new Map<string, StoredSizes>();

  constructor(readonly capacity = 10_000) {}

  get(id: string): StoredSizes | undefined {
    return this.#map.get(id);
  }

  set(id: string, sizes: StoredSizes): void {
    this.#map.delete(id);
    this.#map.set(id, sizes);
    if (this.#map.size > this.capacity) this.#map.delete(this.#map.keys().next().value!);
  }

  delete(id: string): void {
    this.#map.delete(id);
  }

  get size(): number {
    return this.#map.size;
  }
}
