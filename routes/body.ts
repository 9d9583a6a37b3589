import type { Context, MiddlewareHandler } from "hono";
import type { AppEnv } from "./context.ts";
import { readBodyUpTo } from "../src/json.ts";
import { HttpProblem } from "./problems.ts";

const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/** Largest request body accepted by default (AppOptions.limits.maxBodyBytes; QStash's message limit too). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

const strictUtf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Rejects bodies over the app's `maxBodyBytes` with 413, and bodies that are not valid UTF-8 with 400 (every body
 * this API takes is text: decoding it leniently would store U+FFFD instead of what was sent). The body read is put
 * back on the request for the handlers.
 */
export function bodyLimit(): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const raw = c.req.raw;
    if (!raw.body) return next();
    const max = c.get("app").maxBodyBytes;
    const body = await readBodyUpTo(raw, max);
    if (!body) throw new HttpProblem(413, `The request body is larger than ${max} bytes.`);
    try {
      strictUtf8.decode(body);
    } catch {
      throw new HttpProblem(400, `The request body is not valid UTF-8 (its first bad byte is at offset ${firstBadUtf8Byte(body)}).`);
    }
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

/** Offset of the first byte that makes `bytes` invalid UTF-8: the end of its longest valid prefix, found by halving. */
function firstBadUtf8Byte(bytes: Uint8Array): number {
  let good = 0;
  let bad = bytes.length;
  // A prefix may end inside a valid character: decode with `stream` so an unfinished one is not an error.
  const validPrefix = (end: number) => {
    try {
      new TextDecoder("utf-8", { fatal: true }).decode(bytes.subarray(0, end), { stream: true });
      return true;
    } catch {
      return false;
    }
  };
  while (bad - good > 1) {
    const middle = (good + bad) >> 1;
    if (validPrefix(middle)) good = middle;
    else bad = middle;
  }
  return good;
}
