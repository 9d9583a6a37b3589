/** Counters for a side-by-side benchmark: what went into qstash-dev and what it delivered. */
export interface QStashDevStats {
  /** Requests to the QStash API (`/v2/...`); the `/_dev` control routes are not counted. */
  requests: number;
  /** Body bytes of those requests. */
  bytesReceived: number;
  /** Delivery attempts (retries and callbacks included). */
  deliveries: number;
  /** Body bytes of those attempts. */
  bytesDelivered: number;
  /** The same per destination, keyed by origin + path (no query string). */
  destinations: Record<string, { deliveries: number; bytes: number }>;
}

export class StatsCounter {
  private current = StatsCounter.empty();

  private static empty(): QStashDevStats {
    return { requests: 0, bytesReceived: 0, deliveries: 0, bytesDelivered: 0, destinations: {} };
  }

  received(bytes: number): void {
    this.current.requests++;
    this.current.bytesReceived += bytes;
  }

  delivered(url: string, bytes: number): void {
    this.current.deliveries++;
    this.current.bytesDelivered += bytes;
    const { origin, pathname } = new URL(url);
    const slot = (this.current.destinations[origin + pathname] ??= { deliveries: 0, bytes: 0 });
    slot.deliveries++;
    slot.bytes += bytes;
  }

  snapshot(): QStashDevStats {
    return structuredClone(this.current);
  }

  reset(): void {
    this.current = StatsCounter.empty();
  }
}
