import type { MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import type { AppEnv } from "./context.ts";
import { problemResponse } from "./problems.ts";

const encoder = new TextEncoder();

/**
 * Compares two secrets in time that depends on neither their contents nor their lengths: both are hashed
 * with SHA-256 and the 32-byte digests are compared with an XOR loop that never exits early.
 */
export async function safeEqual(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([
    crypto.subtle.digest("SHA-256", encoder.encode(a)),
    crypto.subtle.digest("SHA-256", encoder.encode(b)),
  ]);
  const left = new Uint8Array(x);
  const right = new Uint8Array(y);
  let diff = 0;
  for (let i = 0; i < left.length; i++) diff |= left[i]! ^ right[i]!;
  return diff === 0;
}

const REALM = 'Bearer realm="durable-workflow"';

/** The 401 problem+json answers of the bearer check (its own answers are plain text). */
const unauthorized = (detail: string) => () => problemResponse(401, detail);
const missing = { message: unauthorized("This API requires an `Authorization: Bearer <token>` header."), wwwAuthenticateHeader: REALM };

/**
 * `Authorization: Bearer <token>` when the app has a token; open otherwise. A missing or malformed header,
 * or a wrong token, is 401 with `WWW-Authenticate: Bearer` (RFC 6750: `error="invalid_token"` when a
 * token was sent). The token is compared with `safeEqual`.
 */
export function requireToken(): MiddlewareHandler<AppEnv> {
  const check = bearerAuth<AppEnv>({
    verifyToken: (token, c) => safeEqual(token, c.get("app").options.token!),
    noAuthenticationHeader: missing,
    invalidAuthenticationHeader: missing,
    invalidToken: { message: unauthorized("The bearer token is not valid."), wwwAuthenticateHeader: `${REALM}, error="invalid_token"` },
  });
  return (c, next) => (c.get("app").options.token ? check(c, next) : next());
}
