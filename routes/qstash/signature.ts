import { hmac } from "@noble/hashes/hmac.js";
import { sha256, sha384, sha512 } from "@noble/hashes/sha2.js";
import { type CHash, utf8ToBytes } from "@noble/hashes/utils.js";

/**
 * QStash's `Upstash-Signature` checked as `Receiver.verify` of `@upstash/qstash` checks it, without awaiting: an HS256 JWT
 * signed with the current or the next signing key, issued by "Upstash", within its `nbf`/`exp` (± `clockToleranceSeconds`),
 * whose `sub` is the callback URL and whose `body` claim is base64url(SHA-256(body)). Synchronous hashing (no
 * WebCrypto round trips through the event loop) takes a delivery to its job sooner. QStash signs with HS256; HS384 and
 * HS512 are accepted too, as by Receiver.
 */
export class SignatureVerifier {
  readonly #keys: Uint8Array[];

  constructor(currentSigningKey: string, nextSigningKey: string) {
    this.#keys = [utf8ToBytes(currentSigningKey), utf8ToBytes(nextSigningKey)];
  }

  /** True when the signature is valid for `body` delivered to `url`; false otherwise (never throws). */
  verify(request: { signature: string; body: string; url: string; clockTolerance?: number }, nowMs = Date.now()): boolean {
    const parts = request.signature.split(".");
    if (parts.length !== 3) return false;
    const [header, payload, mac] = parts as [string, string, string];
    const signature = fromBase64url(mac);
    if (!signature) return false;
    const head = jsonOf(header);
    const hash = head && !("crit" in head) && !("b64" in head) ? HASHES[String(head.alg)] : undefined;
    if (!hash) return false;
    const signed = utf8ToBytes(`${header}.${payload}`);
    if (!this.#keys.some((key) => equalBytes(hmac(hash, key, signed), signature))) return false;
    const claims = jsonOf(payload);
    if (!claims || claims.iss !== "Upstash" || claims.sub !== request.url || typeof claims.body !== "string") return false;
    const now = Math.floor(nowMs / 1000);
    const tolerance = request.clockTolerance ?? 0;
    if (claims.exp !== undefined && (typeof claims.exp !== "number" || claims.exp <= now - tolerance)) return false;
    if (claims.nbf !== undefined && (typeof claims.nbf !== "number" || claims.nbf > now + tolerance)) return false;
    if (claims.iat !== undefined && typeof claims.iat !== "number") return false;
    return claims.body.replace(/=+$/, "") === toBase64url(sha256(utf8ToBytes(request.body)));
  }
}

const HASHES: Record<string, CHash> = { HS256: sha256, HS384: sha384, HS512: sha512 };

function jsonOf(part: string): Record<string, unknown> | undefined {
  const bytes = fromBase64url(part);
  if (!bytes) return undefined;
  try {
    const value = JSON.parse(new TextDecoder().decode(bytes));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

function fromBase64url(text: string): Uint8Array | undefined {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  try {
    return Uint8Array.from(atob(text.replaceAll("-", "+").replaceAll("_", "/")), (c) => c.charCodeAt(0));
  } catch {
    return undefined;
  }
}

function toBase64url(bytes: Uint8Array): string {
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Compares in time that depends on the length only (a MAC is checked). */
function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}
