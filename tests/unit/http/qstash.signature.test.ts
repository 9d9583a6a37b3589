// The built-in signature check of POST /qstash accepts and refuses exactly what @upstash/qstash's Receiver does.
import { describe, expect, test } from "bun:test";
import { Receiver } from "@upstash/qstash";
import { base64url, SignJWT } from "jose";
import { SignatureVerifier } from "../../../routes/qstash/signature.ts";
import { DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY, signDelivery } from "../../support/async-stack.ts";

const url = "https://app.example/qstash";
const body = JSON.stringify({ workflowId: "w", executionId: "e-1", action: "start", note: "wörld" });
const receiver = new Receiver({ currentSigningKey: DEV_CURRENT_SIGNING_KEY, nextSigningKey: DEV_NEXT_SIGNING_KEY });
const verifier = new SignatureVerifier(DEV_CURRENT_SIGNING_KEY, DEV_NEXT_SIGNING_KEY);

async function receiverSays(request: { signature: string; body: string; url: string; clockTolerance?: number }): Promise<boolean> {
  try {
    return await receiver.verify(request);
  } catch {
    return false;
  }
}

/** A JWT with chosen claims and header, signed with `key` (HS256 unless `alg` says otherwise). */
async function token(claims: Record<string, unknown>, options: { key?: string; alg?: string } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)));
  return new SignJWT({ iss: "Upstash", sub: url, body: base64url.encode(digest), nbf: now, exp: now + 300, iat: now, ...claims })
    .setProtectedHeader({ alg: options.alg ?? "HS256", typ: "JWT" })
    .sign(new TextEncoder().encode(options.key ?? DEV_CURRENT_SIGNING_KEY));
}

const flip = (text: string, at: number) => text.slice(0, at) + (text[at] === "A" ? "B" : "A") + text.slice(at + 1);

describe("SignatureVerifier", () => {
  test("agrees with Receiver.verify on valid, forged, expired, early, foreign and tampered signatures", async () => {
    const valid = await signDelivery({ url, body });
    const [h, p, s] = valid.split(".") as [string, string, string];
    const cases: [string, { signature: string; body: string; url: string; clockTolerance?: number }][] = [
      ["valid, current key", { signature: valid, body, url }],
      ["valid, next key", { signature: await signDelivery({ url, body, key: DEV_NEXT_SIGNING_KEY }), body, url }],
      ["another key", { signature: await signDelivery({ url, body, key: "sig_other" }), body, url }],
      ["expired", { signature: await signDelivery({ url, body, expiresIn: -10 }), body, url }],
      ["expired, within the tolerance", { signature: await signDelivery({ url, body, expiresIn: -10 }), body, url, clockTolerance: 60 }],
      ["not yet valid", { signature: await token({ nbf: Math.floor(Date.now() / 1000) + 100 }), body, url }],
      ["another issuer", { signature: await token({ iss: "Someone" }), body, url }],
      ["another URL", { signature: valid, body, url: `${url}/other` }],
      ["another body", { signature: valid, body: `${body} `, url }],
      ["a body hash with padding", {
        signature: await token({
          body: `${base64url.encode(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body))))}=`,
        }),
        body,
        url,
      }],
      ["HS512", { signature: await token({}, { alg: "HS512" }), body, url }],
      ["a non-numeric exp", { signature: await token({ exp: "later" }), body, url }],
      ["a changed payload", { signature: `${h}.${flip(p, 10)}.${s}`, body, url }],
      ["a changed MAC", { signature: `${h}.${p}.${flip(s, 5)}`, body, url }],
      ["no MAC", { signature: `${h}.${p}.`, body, url }],
      ["alg none", { signature: `${base64url.encode('{"alg":"none"}')}.${p}.`, body, url }],
      ["not a JWT", { signature: "garbage", body, url }],
      ["empty", { signature: "", body, url }],
    ];
    const results = [];
    for (const [name, request] of cases) results.push([name, verifier.verify(request), await receiverSays(request)]);
    expect(results.filter(([, ours, theirs]) => ours !== theirs)).toEqual([]);
    expect(results.filter(([, ours]) => ours).map(([name]) => name)).toEqual([
      "valid, current key",
      "valid, next key",
      "expired, within the tolerance",
      "a body hash with padding",
      "HS512",
    ]);
  });
});
