import { QStashDevError } from "./errors.ts";

/** A callback's settings, read from `Upstash-Callback-*` / `Upstash-Failure-Callback-*` headers. */
export interface CallbackSettings {
  url: string;
  forward: Record<string, string>;
  retries?: number;
  method?: string;
  delayMs?: number;
  timeoutMs?: number;
}

export const METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH"];

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "10s", "2m", "1h", "1d", "1h30m", "500ms" → milliseconds. */
export function parseDuration(value: string): number | undefined {
  const text = value.trim();
  if (!/^(\d+(ms|s|m|h|d))+$/.test(text)) return undefined;
  let ms = 0;
  for (const [, amount, unit] of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) ms += Number(amount) * UNIT_MS[unit!]!;
  return ms;
}

export function optionalDuration(value: string | null, what: string): number | undefined {
  if (value === null) return undefined;
  const ms = parseDuration(value);
  if (ms === undefined) {
    throw new QStashDevError(400, `${what}: expected a duration such as 10s, 2m, 1h or 1d, got ${JSON.stringify(value)}`);
  }
  return ms;
}

export function optionalCount(value: string | null, what: string): number | undefined {
  if (value === null) return undefined;
  if (!/^\d+$/.test(value.trim())) throw new QStashDevError(400, `${what}: expected a non-negative integer, got ${JSON.stringify(value)}`);
  return Number(value.trim());
}

export function parseDestination(raw: string, what: string): string {
  let destination = raw;
  // Also take a percent-encoded destination (`/v2/publish/https%3A%2F%2F...`), as QStash does.
  if (!/^https?:\/\//i.test(destination) && /^https?%3A/i.test(destination)) {
    try {
      destination = decodeURIComponent(destination);
    } catch {
      // keep it as it is; the check below reports it
    }
  }
  let parsed: URL | undefined;
  try {
    parsed = new URL(destination);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== "http:" && parsed.protocol !== "https:") || !parsed.hostname) {
    throw new QStashDevError(
      400,
      `${what} ${
        JSON.stringify(raw)
      } is not an absolute http:// or https:// URL (qstash-dev delivers to URLs only: no URL groups, no APIs)`,
    );
  }
  return destination;
}

export function callbackSettings(h: Headers, prefix: string, what: string): CallbackSettings | undefined {
  const url = h.get(prefix);
  if (url === null) return undefined;
  const method = h.get(`${prefix}-method`)?.toUpperCase();
  if (method !== undefined && !METHODS.includes(method)) {
    throw new QStashDevError(400, `${what}-Method ${JSON.stringify(method)} is not one of ${METHODS.join(", ")}`);
  }
  return {
    url: parseDestination(url, what),
    forward: forwardedHeaders(h, `${prefix}-forward-`),
    retries: optionalCount(h.get(`${prefix}-retries`), `${what}-Retries`),
    method,
    delayMs: optionalDuration(h.get(`${prefix}-delay`), `${what}-Delay`),
    timeoutMs: optionalDuration(h.get(`${prefix}-timeout`), `${what}-Timeout`),
  };
}

export function forwardedHeaders(h: Headers, prefix: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of h) if (name.startsWith(prefix) && name.length > prefix.length) out[name.slice(prefix.length)] = value;
  return out;
}

/** `{ "content-type": "x" }` → `{ "Content-Type": ["x"] }`, the way QStash reports headers. */
export function headerArrays(headers: Record<string, string>): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    out[name.replace(/(^|-)([a-z])/g, (_, dash: string, c: string) => dash + c.toUpperCase())] = [value];
  }
  return out;
}
