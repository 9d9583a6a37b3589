import { z } from "zod";
import { ConfigError, ExecutionError, NonRetryableError, RetryAfterError } from "../errors.ts";
import { findReferences } from "../expressions/references.ts";
import { isPlainObject, readBodyUpTo, setOwn } from "../json.ts";
import type { Json, JsonObject } from "../types.ts";
import { attemptedOutcome, attemptKeys, settled, withAttempts } from "./attempts.ts";
import { rateSchema } from "./flow.ts";
import { type HttpOptions, type ReferenceSite, stepSchema, type StepState, type StepTools, type StepType } from "./step.ts";

const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
export const DEFAULT_HTTP_MAX_BODY_BYTES = 1024 * 1024;

const request = {
  method: z.enum(METHODS).default("GET"),
  url: z.string().min(1),
  headers: z.record(z.string().regex(HEADER_NAME, "must be an HTTP header name"), z.unknown()).optional(),
  query: z.record(z.string().min(1), z.unknown()).optional(),
  body: z.unknown().optional(),
  ok: z.array(z.number().int().min(100).max(599)).min(1).optional(),
  ...attemptKeys,
};

type RequestKeys = { method: string; url: string; headers?: Record<string, unknown>; query?: Record<string, unknown>; body?: unknown };

function checkRequest(step: RequestKeys, issue: z.RefinementCtx): void {
  if (!step.url.includes("$") && !URL.canParse(step.url)) {
    issue.addIssue({ code: "custom", path: ["url"], message: `"${step.url}" is not an absolute URL` });
  } else if (!step.url.includes("$") && !/^https?:$/.test(new URL(step.url).protocol)) {
    issue.addIssue({ code: "custom", path: ["url"], message: `"${step.url}" is not an http(s) URL` });
  }
  for (const ref of findReferences([step.url, step.headers, step.query, step.body])) {
    if (ref.root === "secrets" && ref.path.split(".").length !== 2) {
      issue.addIssue({ code: "custom", path: ["url"], message: `"$${ref.path}" must name one secret: $secrets.NAME` });
    }
  }
  if (step.body !== undefined && (step.method === "GET" || step.method === "HEAD")) {
    issue.addIssue({ code: "custom", path: ["body"], message: `a ${step.method} request has no body` });
  }
}

const schema = stepSchema("http", {
  ...request,
  output: z.string().min(1).optional(),
  compensate: z.strictObject(request).superRefine(checkRequest).optional(),
  /** Requests of this step across all executions, per key, held to `limit` per `period` seconds (an API's quota). */
  rate: rateSchema.optional(),
}).superRefine(checkRequest);

export type HttpStep = typeof schema._output;

/**
 * The request as stored before it is sent (JSON): a retry, a re-delivery or a takeover sends these bytes again.
 * Secrets stand in it as placeholders `dw-secret-<nonce>-<NAME>`, replaced when it is sent; the nonce is made after
 * the data was resolved into it, so no value from input or ctx can name a secret.
 */
interface StoredRequest {
  [key: string]: Json;
  method: string;
  url: string;
  headers: JsonObject;
  body: string | null;
  /** True when `body` is JSON text (a secret inside it is JSON-escaped). */
  json: boolean;
  /** The nonce of the secret placeholders, when the request names secrets. */
  nonce: string | null;
}

/** What the step stores in `ctx[output]`, in its entry and its event. */
interface HttpResponse {
  [key: string]: Json;
  status: number;
  headers: JsonObject;
  body: Json;
}

/** How much of a failed response's body is read for its error message (of which 300 characters are shown). */
const ERROR_BODY_BYTES = 64 * 1024;
const SENSITIVE_HEADER = /^(?:authorization|proxy-authorization|cookie|set-cookie)$|(?:^|-)(?:api-key|token|secret)$/i;
const REDACTED = "[redacted]";

/**
 * An HTTP request with the step's attempts (attempts.ts). The request is resolved once and stored before it is sent,
 * with an `Idempotency-Key` (the step's key: the same across attempts, re-deliveries and takeovers, another per loop
 * item and per visit). Statuses in `ok` (default 2xx) succeed; 3xx and 4xx but 408/409/425/429 are final; 429 and 503
 * wait `Retry-After`. The response `{ status, headers, body }` (JSON parsed when its type says so) goes to `ctx[output]`,
 * with sensitive headers and secret values redacted.
 */
export const http: StepType<HttpStep> = {
  type: "http",
  schema,
  pins: true,
  outputs: (step) => (step.output ? [step.output] : []),
  references: (step) => {
    const sites = requestSites(step, "", ["secrets"]);
    if (step.compensate) sites.push(...requestSites(step.compensate, "compensate.", ["secrets", ...(step.output ? [step.output] : [])]));
    return sites;
  },
  execute: async (step, state, tools) => {
    const request = await tools.pin(state.idempotencyKey, () => buildRequest(step, state, tools, settingsOf(tools.http)));
    return attemptedOutcome(await sendWithAttempts(step, request, state, tools), step.output, state);
  },
  compensation: {
    resolve: (step, state, tools) => buildRequest(compensationOf(step), state, tools, settingsOf(tools.http)),
    run: async (step, request, state, tools) =>
      settled(await sendWithAttempts(compensationOf(step), request as StoredRequest, state, tools)),
  },
};

function requestSites(step: RequestKeys, prefix: string, extraRoots: string[]): ReferenceSite[] {
  const sites: ReferenceSite[] = [{ key: `${prefix}url`, kind: "value", value: step.url, extraRoots }];
  for (const key of ["headers", "query", "body"] as const) {
    if (step[key] !== undefined) sites.push({ key: `${prefix}${key}`, kind: "value", value: step[key], extraRoots });
  }
  return sites;
}

/** A step's `compensate:` as a request of its own (named `<step>:compensate` in messages). */
function compensationOf(step: HttpStep): HttpStep {
  return { ...step.compensate!, id: `${step.id}:compensate`, type: "http" };
}

function sendWithAttempts(step: HttpStep, request: StoredRequest, state: StepState, tools: StepTools) {
  const settings = settingsOf(tools.http);
  const secrets = secretsOf(request, step, tools);
  return withAttempts(step, state, tools, (_n, signal) => send(step, request, secrets, settings, signal, tools.now, state.traceparent));
}

// ---- options ---------------------------------------------------------------------------------

interface AllowRule {
  protocol: string;
  host: string;
  wildcard: boolean;
  port: string;
  path: string;
}

interface Settings {
  fetch: NonNullable<HttpOptions["fetch"]>;
  allow: AllowRule[] | null;
  allowPrivate: boolean;
  maxBodyBytes: number;
}

const settingsCache = new WeakMap<HttpOptions, Settings>();

/** The `http` options checked, with their defaults; a bad one is a ConfigError naming it. */
export function checkHttpOptions(options: HttpOptions = {}): void {
  settingsOf(options);
}

function settingsOf(options: HttpOptions): Settings {
  const cached = settingsCache.get(options);
  if (cached) return cached;
  const max = options.maxBodyBytes ?? DEFAULT_HTTP_MAX_BODY_BYTES;
  if (!Number.isSafeInteger(max) || max < 1) throw new ConfigError(`http.maxBodyBytes must be a positive integer, got ${max}`);
  if (options.allow !== undefined && !Array.isArray(options.allow)) throw new ConfigError("http.allow must be a list of URL prefixes");
  if (options.fetch !== undefined && typeof options.fetch !== "function") throw new ConfigError("http.fetch must be a function");
  const settings: Settings = {
    fetch: options.fetch ?? ((url, init) => fetch(url, init)),
    allow: options.allow ? options.allow.map(allowRule) : null,
    allowPrivate: options.allowPrivate === true,
    maxBodyBytes: max,
  };
  settingsCache.set(options, settings);
  return settings;
}

/** `https://api.example.com`, `https://*.example.com:8443`, `https://api.example.com/v1/`. */
function allowRule(entry: string): AllowRule {
  const wildcard = typeof entry === "string" && /^https?:\/\/\*\./i.test(entry);
  const text = wildcard ? entry.replace("*.", "") : entry;
  const url = typeof text === "string" && URL.canParse(text) ? new URL(text) : null;
  if (!url || !/^https?:$/.test(url.protocol) || url.username || url.password || url.search || url.hash) {
    throw new ConfigError(`http.allow: ${JSON.stringify(entry)} is not an http(s) origin with an optional path prefix`);
  }
  return { protocol: url.protocol, host: url.hostname, wildcard, port: url.port, path: url.pathname };
}

function allowedBy(url: URL, rule: AllowRule): boolean {
  if (url.protocol !== rule.protocol || url.port !== rule.port) return false;
  if (rule.wildcard ? !url.hostname.endsWith(`.${rule.host}`) : url.hostname !== rule.host) return false;
  return rule.path.endsWith("/")
    ? url.pathname.startsWith(rule.path)
    : url.pathname === rule.path || url.pathname.startsWith(`${rule.path}/`);
}

// ---- the request -----------------------------------------------------------------------------

function stepError(step: HttpStep, message: string): NonRetryableError {
  return new NonRetryableError(`Step "${step.id}": ${message}`);
}

/** Names of the secrets the step's templates reference (`$secrets.NAME`). */
function secretNames(step: HttpStep): string[] {
  const names = findReferences([step.url, step.headers, step.query, step.body]).filter((ref) => ref.root === "secrets");
  return [...new Set(names.map((ref) => ref.path.split(".")[1]!))];
}

function buildRequest(step: HttpStep, state: StepState, tools: StepTools, settings: Settings): StoredRequest {
  const names = secretNames(step);
  for (const name of names) {
    if (!Object.hasOwn(tools.secrets, name)) {
      throw stepError(step, `secret "${name}" is not configured (the app's \`secrets\` option, or DW_SECRET_${name} in the environment)`);
    }
  }
  const nonce = names.length ? crypto.randomUUID().replaceAll("-", "") : null;
  const ctx = nonce ? { ...state.ctx, secrets: Object.fromEntries(names.map((name) => [name, placeholder(nonce, name)])) } : state.ctx;
  const resolve = (value: unknown) => tools.resolve(value, ctx);

  const target = resolve(step.url);
  if (typeof target !== "string" || !URL.canParse(target)) throw stepError(step, `url ${JSON.stringify(target)} is not an absolute URL`);
  const url = new URL(target);
  if (!/^https?:$/.test(url.protocol)) throw stepError(step, `url ${JSON.stringify(target)} is not an http(s) URL`);
  if (step.query) {
    const query = resolve(step.query) as JsonObject;
    for (const [key, value] of Object.entries(query)) {
      for (const item of Array.isArray(value) ? value : [value]) if (item !== null) url.searchParams.append(key, scalarText(item));
    }
  }
  if (settings.allow && !settings.allow.some((rule) => allowedBy(url, rule))) {
    throw stepError(step, `${display(url.href)} is not in the allow-list (http.allow)`);
  }
  if (!settings.allowPrivate && !literalHost(step.url) && isPrivateHost(url.hostname)) {
    throw stepError(
      step,
      `${display(url.href)} comes from a reference and targets a loopback, private or link-local address (http.allowPrivate allows it)`,
    );
  }

  const headers: JsonObject = {};
  if (step.headers) {
    for (const [name, value] of Object.entries(resolve(step.headers) as JsonObject)) {
      if (value === null) continue;
      const text = scalarText(value);
      if (/[\r\n\0]/.test(text)) throw stepError(step, `header "${name}" holds a line break`);
      setOwn(headers, name.toLowerCase(), text);
    }
  }
  let body: string | null = null;
  let json = false;
  if (step.body !== undefined) {
    const value = resolve(step.body);
    json = typeof value !== "string";
    body = json ? JSON.stringify(value) : value as string;
    if (!Object.hasOwn(headers, "content-type")) headers["content-type"] = json ? "application/json" : "text/plain; charset=utf-8";
  }
  if (!Object.hasOwn(headers, "idempotency-key")) headers["idempotency-key"] = state.idempotencyKey;
  return { method: step.method, url: url.href, headers, body, json, nonce };
}

/** True when the definition's URL fixes scheme and host before any reference (`https://api.example.com/users/$input.id`). */
function literalHost(template: string): boolean {
  const cut = template.indexOf("$");
  return /^https?:\/\/[^/?#]+[/?#]/i.test(cut < 0 ? `${template}/` : template.slice(0, cut));
}

function scalarText(value: Json): string {
  return typeof value === "string" ? value : JSON.stringify(value);
}

function placeholder(nonce: string, name: string): string {
  return `dw-secret-${nonce}-${name}`;
}

/** The secrets the stored request names, by placeholder; a secret removed since it was stored fails the step. */
function secretsOf(request: StoredRequest, step: HttpStep, tools: StepTools): Map<string, string> {
  const found = new Map<string, string>();
  if (!request.nonce) return found;
  for (const name of secretNames(step)) {
    const value = tools.secrets[name];
    if (value === undefined) throw stepError(step, `secret "${name}" is not configured`);
    found.set(placeholder(request.nonce, name), value);
  }
  return found;
}

function fill(text: string, secrets: Map<string, string>, escape: (value: string) => string = (v) => v): string {
  let out = text;
  for (const [token, value] of secrets) out = out.replaceAll(token, escape(value));
  return out;
}

// ---- sending ---------------------------------------------------------------------------------

async function send(
  step: HttpStep,
  request: StoredRequest,
  secrets: Map<string, string>,
  settings: Settings,
  signal: AbortSignal,
  now: () => Date,
  traceparent: string | undefined,
): Promise<HttpResponse> {
  const where = `${request.method} ${display(request.url)}`;
  const hide = (text: string) => redactText(text, secrets);
  const headers = new Headers();
  for (const [name, value] of Object.entries(request.headers)) headers.set(name, fill(String(value), secrets));
  // The step span's context, not stored with the request: each attempt is sent from the segment running it.
  if (traceparent && !headers.has("traceparent")) headers.set("traceparent", traceparent);
  let response: Response;
  try {
    response = await settings.fetch(fill(request.url, secrets, encodeURIComponent), {
      method: request.method,
      headers,
      ...(request.body === null
        ? {}
        : { body: fill(request.body, secrets, request.json ? (v) => JSON.stringify(v).slice(1, -1) : undefined) }),
      redirect: "manual",
      signal,
    });
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw new ExecutionError(`${where} failed: ${hide(error instanceof Error ? error.message : String(error))}`, { stepId: step.id });
  }
  const status = response.status;
  const ok = step.ok ? step.ok.includes(status) : status >= 200 && status < 300;
  if (!ok) throw await statusError(step, response, where, hide, now);
  if (request.method === "HEAD") await response.body?.cancel();
  const text = request.method === "HEAD" ? "" : await readBody(response, settings.maxBodyBytes, step, where);
  let body: Json = text === "" ? null : text;
  if (text !== "" && isJsonType(response.headers.get("content-type"))) {
    try {
      body = JSON.parse(text) as Json;
    } catch {
      throw stepError(step, `the response to ${where} says it is JSON but is not`);
    }
  }
  return redactJson({ status, headers: headersOf(response.headers), body }, secrets) as HttpResponse;
}

/** Why a status that is not `ok` fails the attempt: final, retryable, or retryable after `Retry-After`. */
async function statusError(
  step: HttpStep,
  response: Response,
  where: string,
  hide: (text: string) => string,
  now: () => Date,
): Promise<Error> {
  const status = response.status;
  let message = `HTTP ${status}${response.statusText ? ` ${response.statusText}` : ""} from ${where}`;
  if (status >= 300 && status < 400) {
    await response.body?.cancel();
    const location = response.headers.get("location");
    return stepError(step, `${message}: redirects are not followed${location ? ` (Location: ${hide(display(location))})` : ""}`);
  }
  const snippet = await readBody(response, ERROR_BODY_BYTES, step, where).catch(() => "");
  if (snippet) message += `: ${hide(snippet.slice(0, 300))}`;
  if (status >= 400 && status < 500 && ![408, 409, 425, 429].includes(status)) return stepError(step, message);
  const wait = status === 429 || status === 503 ? retryAfterSeconds(response.headers.get("retry-after"), now()) : null;
  if (wait !== null) return new RetryAfterError(wait, `Step "${step.id}": ${message} (Retry-After ${wait}s)`);
  return new ExecutionError(`Step "${step.id}": ${message}`, { stepId: step.id });
}

/** `Retry-After` as seconds: a number of seconds or an HTTP date (from now); null when absent or unreadable. */
function retryAfterSeconds(header: string | null, now: Date): number | null {
  if (!header) return null;
  const text = header.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, Math.ceil((at - now.getTime()) / 1000));
}

/** The body as text, at most `max` bytes: past it, a final error for the step (the cap of what ctx keeps). */
async function readBody(response: Response, max: number, step: HttpStep, where: string): Promise<string> {
  const tooLarge = () =>
    stepError(step, `the response to ${where} is larger than ${max} bytes, the limit of a response body kept in ctx (http.maxBodyBytes)`);
  const bytes = await readBodyUpTo(response, max);
  if (!bytes) throw tooLarge();
  return new TextDecoder().decode(bytes);
}

function isJsonType(type: string | null): boolean {
  const mime = (type ?? "").split(";")[0]!.trim().toLowerCase();
  return mime === "application/json" || mime.endsWith("+json");
}

function headersOf(headers: Headers): JsonObject {
  const out: JsonObject = {};
  headers.forEach((value, name) => setOwn(out, name, SENSITIVE_HEADER.test(name) ? REDACTED : value));
  return out;
}

// ---- redaction -------------------------------------------------------------------------------

/** A URL for messages: secret placeholders hidden, user info dropped. */
function display(href: string): string {
  return href.replace(/dw-secret-[0-9a-f]{32}-[A-Za-z0-9_]+/g, REDACTED).replace(/\/\/[^/@]*@/, "//");
}

function redactText(text: string, secrets: Map<string, string>): string {
  let out = text;
  for (const value of secrets.values()) if (value) out = out.replaceAll(value, REDACTED);
  return out;
}

function redactJson(value: Json, secrets: Map<string, string>): Json {
  if (secrets.size === 0) return value;
  if (typeof value === "string") return redactText(value, secrets);
  if (Array.isArray(value)) return value.map((item) => redactJson(item, secrets));
  if (isPlainObject(value)) {
    const out: JsonObject = {};
    for (const [key, item] of Object.entries(value)) setOwn(out, key, redactJson(item, secrets));
    return out;
  }
  return value;
}

// ---- addresses -------------------------------------------------------------------------------

/** Loopback, private, link-local, unspecified or carrier-grade NAT: hosts a URL from data may not target by default. */
export function isPrivateHost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, "").replace(/\.$/, "");
  if (host === "localhost" || host.endsWith(".localhost")) return true;
  const v4 = ipv4(host);
  if (v4) return privateV4(v4);
  if (host.includes(":")) return privateV6(host);
  return false;
}

function ipv4(host: string): number[] | null {
  const parts = host.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) < 256)) return null;
  return parts.map(Number);
}

function privateV4([a, b]: number[]): boolean {
  return a === 0 || a === 10 || a === 127 || (a === 169 && b === 254) || (a === 172 && b! >= 16 && b! < 32) ||
    (a === 192 && b === 168) || (a === 100 && b! >= 64 && b! < 128) || a! >= 224;
}

function privateV6(host: string): boolean {
  const groups = ipv6Groups(host);
  if (!groups) return false;
  if (groups.slice(0, 7).every((g) => g === 0) && groups[7]! <= 1) return true; // :: and ::1
  if ((groups[0]! & 0xfe00) === 0xfc00 || (groups[0]! & 0xffc0) === 0xfe80) return true; // unique local, link-local
  const mapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  const nat64 = groups[0] === 0x64 && groups[1] === 0xff9b && groups.slice(2, 6).every((g) => g === 0);
  return (mapped || nat64) && privateV4([groups[6]! >> 8, groups[6]! & 0xff, groups[7]! >> 8, groups[7]! & 0xff]);
}

function ipv6Groups(host: string): number[] | null {
  let text = host;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = ipv4(dotted[1]!);
    if (!v4) return null;
    text = text.slice(0, -dotted[1]!.length) + `${((v4[0]! << 8) | v4[1]!).toString(16)}:${((v4[2]! << 8) | v4[3]!).toString(16)}`;
  }
  const [head, tail, extra] = text.split("::");
  if (extra !== undefined) return null;
  const left = head ? head.split(":") : [];
  const right = tail ? tail.split(":") : [];
  const fillCount = 8 - left.length - right.length;
  if (tail === undefined ? left.length !== 8 : fillCount < 0) return null;
  const all = [...left, ...Array(tail === undefined ? 0 : fillCount).fill("0"), ...right];
  if (!all.every((g) => /^[0-9a-f]{1,4}$/.test(g))) return null;
  return all.map((g) => parseInt(g, 16));
}
