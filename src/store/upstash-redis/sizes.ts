/** What a commit or load reply told this client about an execution's stored form. */
interface StoredSizes {
  revision: number;
  snapshotBytes: number;
  logBytes: number;
}

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
