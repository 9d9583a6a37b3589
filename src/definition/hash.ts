import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex, utf8ToBytes } from "@noble/hashes/utils.js";
import canonicalizeModule from "canonicalize";

// The package is CommonJS (`module.exports = serialize`) typed as an ES default export; Deno reads that
// type as the module object, so the function type is stated here. Every runtime imports the function.
const canonicalize = canonicalizeModule as unknown as (value: unknown) => string | undefined;

/**
 * SHA-256 hex of the canonical JSON (RFC 8785: keys sorted by UTF-16 code unit, no whitespace) of a plain
 * JSON value: stable over key order. Synchronous, unlike `crypto.subtle.digest`, so loading stays so.
 */
export function contentHash(value: unknown): string {
  return bytesToHex(sha256(utf8ToBytes(canonicalize(value) ?? "null")));
}
