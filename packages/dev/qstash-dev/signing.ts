import { base64url, SignJWT } from "jose";
import { type Bytes, randomId, sha256 } from "./bytes.ts";

const SIGNATURE_TTL_S = 300;

/**
 * The `Upstash-Signature` JWT: what `Receiver.verify({ signature, body, url })` checks. `nowMs` is the
 * real clock, never the skipped-ahead scheduling clock, because the receiver checks `nbf`/`exp` against it.
 */
export async function signDelivery(key: string, url: string, body: Bytes, nowMs: number): Promise<string> {
  const nowS = Math.floor(nowMs / 1000);
  return new SignJWT({ body: base64url.encode(await sha256(body)) })
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuer("Upstash")
    .setSubject(url)
    .setIssuedAt(nowS)
    .setNotBefore(nowS)
    .setExpirationTime(nowS + SIGNATURE_TTL_S)
    .setJti(`jwt_${randomId()}`)
    .sign(new TextEncoder().encode(key));
}
