import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "./context.ts";
import { readBodyUpTo } from "../src/json.ts";
import { HttpProblem } from "./problems.ts";

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/** Largest request body accepted by default (AppOptions.limits.maxBodyBytes; QStash's message limit too). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

/** Rejects bodies over the app's `maxBodyBytes` with 413; the body read is put back on the request for the handlers. */
export function bodyLimit(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const raw = c.req.raw;
    if (!raw.body) return next();
    const max = c.get("app").maxBodyBytes;
    const body = await readBodyUpTo(raw, max);
    if (!body) throw new HttpProblem(413, `The request body is larger than ${max} bytes.`);
    c.req.raw = new Request(raw, { body });
    return next();
  };
}

/**
 * For routes with an optional JSON body: an empty body counts as `{}`; a non-empty one must be declared
 * JSON (415 otherwise). Malformed JSON is then reported 400 by the validator.
 */
export function jsonBody(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const raw = c.req.raw;
    const text = raw.body ? await raw.clone().text() : "";
    if (text.trim() === "") {
      const headers = new Headers(raw.headers);
      headers.set("content-type", "application/json");
      headers.delete("content-length");
      c.req.raw = new Request(raw.url, { method: raw.method, headers, body: "{}", signal: raw.signal });
      return next();
    }
    const mediaType = (raw.headers.get("content-type") ?? "").split(";")[0]!.trim();
    if (!JSON_MEDIA_TYPE.test(mediaType)) {
      throw new HttpProblem(415, "The request body must be JSON: send `Content-Type: application/json`.");
    }
    return next();
  };
}

/**
 * A field of the JSON body as parsed, before a zod schema copied it (a copy silently drops an own `__proto__`
 * key), for the library's own checks to see and refuse by name.
 */
export async function rawJsonField(c: Context<AppEnv>, key: string): Promise<unknown> {
  const body: unknown = await c.req.json().catch(() => undefined);
  return body && typeof body === "object" && Object.hasOwn(body, key) ? (body as Record<string, unknown>)[key] : undefined;
}
