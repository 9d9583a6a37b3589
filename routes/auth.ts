import type { Context, MiddlewareHandler } from "hono";
import { bearerAuth } from "hono/bearer-auth";
import type { AppEnv } from "./context.ts";
import { ConfigError } from "../src/errors.ts";
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

/** RFC 6750's b64token: what a client can send after `Bearer ` (and all that `hono/bearer-auth` accepts). */
const BEARER_TOKEN = /^[A-Za-z0-9._~+/-]+=*$/;
/** Token names: what operator actions record as their actor. */
const TOKEN_NAME = /^[A-Za-z0-9_.@-]{1,64}$/;

/** One API token: its name (null for the one unnamed token) and its secret. */
export interface ApiToken {
  name: string | null;
  secret: string;
}

/** The actor recorded for the unnamed token. */
const UNNAMED_TOKEN_ACTOR = "api-token";

/**
 * The app's tokens from its `token` option: one secret, or `name:secret` pairs separated by commas (at most one
 * of them unnamed). ConfigError naming the entry that is wrong; a secret is never repeated in the message.
 */
export function parseTokens(option: string): ApiToken[] {
  const tokens: ApiToken[] = [];
  const entries = option.split(",").map((entry) => entry.trim());
  entries.forEach((entry, i) => {
    const at = entry.indexOf(":");
    const name = at < 0 ? null : entry.slice(0, at);
    const secret = at < 0 ? entry : entry.slice(at + 1);
    const which = name === null ? `token ${i + 1}` : `token "${name}"`;
    if (name !== null && !TOKEN_NAME.test(name)) {
      throw new ConfigError(`API token ${i + 1}: its name must be 1 to 64 letters, digits and _ . @ -`);
    }
    if (!BEARER_TOKEN.test(secret)) {
      throw new ConfigError(
        `API ${which}: a secret may hold only letters, digits and - . _ ~ + / (then = padding), as RFC 6750 bearer tokens do`,
      );
    }
    if (tokens.some((t) => t.name === name)) {
      throw new ConfigError(name === null ? "Only one API token may be unnamed" : `Two API tokens are named "${name}"`);
    }
    tokens.push({ name, secret });
  });
  return tokens;
}

/** Who made this request: the name of the API token it carried (`api-token` for the unnamed one); undefined when the API is open. */
export function actorOf(c: { get(key: "actor"): string | undefined }): string | undefined {
  return c.get("actor");
}

/** One log line per operator action, naming who did it (`actorOf`). */
export function logAction(
  c: Context<AppEnv>,
  action: string,
  fields: { executionId?: string; workflowId?: string; [key: string]: unknown },
): void {
  c.get("app").log.info(`operator ${action}`, { action, ...fields, actor: actorOf(c) ?? null });
}

/**
 * `Authorization: Bearer <token>` when the app has tokens; open otherwise. A missing or malformed header,
 * or a wrong token, is 401 with `WWW-Authenticate: Bearer` (RFC 6750: `error="invalid_token"` when a
 * token was sent). Every token is compared with `safeEqual` (all of them, whichever matches); the matching
 * token's name becomes the request's actor (`actorOf`).
 */
export function requireToken(): MiddlewareHandler<AppEnv> {
  const check = bearerAuth<AppEnv>({
    verifyToken: async (token, c) => {
      const matches = await Promise.all(c.get("app").tokens.map((t) => safeEqual(token, t.secret)));
      const found = c.get("app").tokens[matches.indexOf(true)];
      if (found) c.set("actor", found.name ?? UNNAMED_TOKEN_ACTOR);
      return found !== undefined;
    },
    noAuthenticationHeader: missing,
    invalidAuthenticationHeader: missing,
    invalidToken: { message: unauthorized("The bearer token is not valid."), wwwAuthenticateHeader: `${REALM}, error="invalid_token"` },
  });
  return (c, next) => (c.get("app").tokens.length ? check(c, next) : next());
}
