import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./context.ts";
import { HttpProblem } from "./problems.ts";

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

/**
 * `Authorization: Bearer <token>` when the app has a token; open otherwise. A missing or wrong token is
 * 401 with `WWW-Authenticate: Bearer` (RFC 6750: `error="invalid_token"` when one was sent).
 */
export function requireToken(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const token = c.get("app").options.token;
    if (!token) return next();
    const header = c.req.header("authorization") ?? "";
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (!match) {
      throw new HttpProblem(401, "This API requires an `Authorization: Bearer <token>` header.", {
        headers: { "www-authenticate": 'Bearer realm="durable-workflow"' },
      });
    }
    if (!(await safeEqual(match[1]!, token))) {
      throw new HttpProblem(401, "The bearer token is not valid.", {
        headers: { "www-authenticate": 'Bearer realm="durable-workflow", error="invalid_token"' },
      });
    }
    return next();
  };
}
