/** `--latency redis=MS,qstash=MS` of the QStash benches: the delays the Redis bridge and qstash-dev add per request. */
export interface Latency {
  /** Added by the bridge to every Redis REST request. */
  redisMs: number;
  /** Added by qstash-dev to every publish (API request) and to every delivery. */
  qstashMs: number;
}

export function parseLatency(argv: readonly string[]): Latency {
  const latency = { redisMs: 0, qstashMs: 0 };
  const at = argv.indexOf("--latency");
  if (at < 0) return latency;
  for (const part of (argv[at + 1] ?? "").split(",")) {
    const [name, ms] = part.split("=");
    const value = Number(ms);
    if ((name !== "redis" && name !== "qstash") || !(value >= 0)) throw new Error(`--latency redis=MS,qstash=MS: cannot read "${part}"`);
    latency[`${name}Ms`] = value;
  }
  return latency;
}

export const latencyLabel = ({ redisMs, qstashMs }: Latency) =>
  redisMs || qstashMs ? `added latency: Redis ${redisMs} ms per request, QStash ${qstashMs} ms per publish and per delivery` : "loopback";
