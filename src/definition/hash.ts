import { sha256Hex } from "./sha256.ts";

/** JSON with object keys sorted recursively (by UTF-16 code unit), no whitespace: equal content, equal text. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  if (Array.isArray(value)) return `[${value.map((item) => (item === undefined ? "null" : canonicalJson(item))).join(",")}]`;
  const entries = Object.keys(value)
    .filter((key) => (value as Record<string, unknown>)[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson((value as Record<string, unknown>)[key])}`);
  return `{${entries.join(",")}}`;
}

/** SHA-256 hex of the canonical JSON of a value: stable over key order. */
export function contentHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
