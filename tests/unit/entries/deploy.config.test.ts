import { describe, expect, test } from "bun:test";
import { Redis } from "@upstash/redis";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadExamples } from "../../../examples/index.ts";
import { createApp } from "../../../routes/app.ts";
import { appOptionsFromEnv, type EnvExtras, VERSION } from "../../../config-from-env.ts";
import { ConfigError } from "../../../src/errors.ts";
import { InlineAdapter } from "../../../src/runners/adapters/inline.ts";
import { QStashAdapter } from "../../../src/runners/adapters/qstash.ts";
import { MemoryStore } from "../../../src/store/memory.ts";
import { UpstashRedisStore } from "../../../src/store/upstash-redis.ts";

const examples = loadExamples();

function build(env: Record<string, unknown>, extras: Partial<EnvExtras> = {}) {
  const lines: { level: string; line: string }[] = [];
  const options = appOptionsFromEnv(env, {
    ...examples,
    Redis,
    log: (level, line) => lines.push({ level, line }),
    ...extras,
  });
  return { options, lines, warnings: lines.filter((l) => l.level === "warn").map((l) => l.line) };
}

const REDIS = { UPSTASH_REDIS_REST_URL: "https://eu1-example.upstash.io", UPSTASH_REDIS_REST_TOKEN: "redis-token" };
const QSTASH = {
  QSTASH_TOKEN: "qstash-token",
  QSTASH_CURRENT_SIGNING_KEY: "sig_current",
  QSTASH_NEXT_SIGNING_KEY: "sig_next",
  DW_PUBLIC_URL: "https://dw.example.com",
};

describe("the zero-setup default", () => {
  test("an empty env gives a MemoryStore, the in-process queue, no token and the examples", () => {
    const { options } = build({});
    expect(options.store).toBeInstanceOf(MemoryStore);
    expect(options.adapter).toBeInstanceOf(InlineAdapter);
    expect(options.token).toBeUndefined();
    expect(options.production).toBeUndefined();
    expect(options.qstash).toBeUndefined();
    expect(options.workflows).toBe(examples.workflows);
    expect(options.services).toBe(examples.services);
  });

  test("the MemoryStore is announced loudly, never silently", () => {
    const { warnings, lines } = build({});
    expect(warnings.some((line) => line.includes("WARNING") && line.includes("MemoryStore") && line.includes("NOT DURABLE"))).toBe(true);
    expect(lines.at(-1)?.line).toContain("store MemoryStore (not durable); async queue in-process");
  });

  test("an open API is announced", () => {
    expect(build({}).warnings.some((line) => line.includes("DW_API_TOKEN is not set"))).toBe(true);
    expect(build({ DW_API_TOKEN: "t" }).warnings.some((line) => line.includes("DW_API_TOKEN"))).toBe(false);
  });

  test("the in-process queue runs async executions on the same store", async () => {
    const { options } = build({});
    const app = createApp(options);
    const started = await app.request("/workflows/greeting/executions", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: { name: "Ada" } }),
    });
    expect(started.status).toBe(202);
    const { executionId } = (await started.json()) as { executionId: string };
    const execution = await options.store.load(executionId);
    expect(execution?.status).toBe("completed");
  });
});

describe("Redis", () => {
  test("URL and token give an UpstashRedisStore built with the Redis class passed in, auto-pipelining off", () => {
    const made: unknown[] = [];
    class FakeRedis extends Redis {
      constructor(config: { url: string; token: string; enableAutoPipelining?: boolean; responseEncoding?: false | "base64" }) {
        super({ ...config, enableTelemetry: false });
        made.push(config);
      }
    }
    const { options, warnings, lines } = build(REDIS, { Redis: FakeRedis });
    expect(options.store).toBeInstanceOf(UpstashRedisStore);
    expect(made).toEqual([{
      url: REDIS.UPSTASH_REDIS_REST_URL,
      token: REDIS.UPSTASH_REDIS_REST_TOKEN,
      enableAutoPipelining: false,
      responseEncoding: false,
    }]);
    expect(warnings.some((line) => line.includes("MemoryStore"))).toBe(false);
    expect(lines.at(-1)?.line).toContain("UpstashRedisStore (eu1-example.upstash.io, prefix dw, retention 30 days, key locking)");
  });

  test("DW_RETENTION_DAYS and DW_REDIS_PREFIX reach the store", () => {
    const { lines } = build({ ...REDIS, DW_RETENTION_DAYS: "7", DW_REDIS_PREFIX: "orders" });
    expect(lines.at(-1)?.line).toContain("prefix orders, retention 7 days");
  });

  test("key locking is on for Upstash hosts, off elsewhere, and DW_REDIS_KEY_LOCKING decides when set", () => {
    const line = (env: Record<string, string>) => build({ ...REDIS, ...env }).lines.at(-1)?.line ?? "";
    expect(line({})).toContain("key locking");
    expect(line({ UPSTASH_REDIS_REST_URL: "http://127.0.0.1:8079" })).not.toContain("key locking");
    expect(line({ UPSTASH_REDIS_REST_URL: "http://127.0.0.1:8079", DW_REDIS_KEY_LOCKING: "true" })).toContain("key locking");
    expect(line({ DW_REDIS_KEY_LOCKING: "false" })).not.toContain("key locking");
    expect(() => build({ ...REDIS, DW_REDIS_KEY_LOCKING: "maybe" })).toThrow(/DW_REDIS_KEY_LOCKING must be true or false/);
  });

  test("a URL without its token (or the reverse) is a ConfigError, not a MemoryStore", () => {
    expect(() => build({ UPSTASH_REDIS_REST_URL: REDIS.UPSTASH_REDIS_REST_URL })).toThrow(/token is missing/);
    expect(() => build({ UPSTASH_REDIS_REST_TOKEN: "t" })).toThrow(/URL is missing/);
  });

  test("without a Redis class the entry's mistake is named", () => {
    expect(() => build(REDIS, { Redis: undefined })).toThrow(/pass extras\.Redis/);
  });

  test("a bad URL, retention or prefix is a ConfigError", () => {
    expect(() => build({ ...REDIS, UPSTASH_REDIS_REST_URL: "eu1-example.upstash.io" })).toThrow(ConfigError);
    expect(() => build({ ...REDIS, DW_RETENTION_DAYS: "0" })).toThrow(/DW_RETENTION_DAYS must be a positive number/);
    expect(() => build({ ...REDIS, DW_RETENTION_DAYS: "a week" })).toThrow(/DW_RETENTION_DAYS must be a number/);
    expect(() => build({ ...REDIS, DW_REDIS_PREFIX: "a:b" })).toThrow(ConfigError);
  });
});

describe("production", () => {
  test("DW_PRODUCTION=true without Redis is a ConfigError (no silent MemoryStore)", () => {
    expect(() => build({ DW_PRODUCTION: "true", DW_API_TOKEN: "t" })).toThrow(/DW_PRODUCTION=true requires Redis/);
  });

  test("DW_PRODUCTION=true without DW_API_TOKEN is a ConfigError", () => {
    expect(() => build({ ...REDIS, DW_PRODUCTION: "true" })).toThrow(/requires DW_API_TOKEN/);
  });

  test("DW_PRODUCTION=true with Redis and a token starts, with production and the token set", () => {
    const { options } = build({ ...REDIS, ...QSTASH, DW_PRODUCTION: "true", DW_API_TOKEN: "s3cret" });
    expect(options.production).toBe(true);
    expect(options.token).toBe("s3cret");
    expect(() => createApp(options)).not.toThrow();
  });

  test("production without QStash warns that async runs happen inside the request", () => {
    const { warnings } = build({ ...REDIS, DW_PRODUCTION: "true", DW_API_TOKEN: "s3cret" });
    expect(warnings.some((line) => line.includes("QStash is not configured"))).toBe(true);
  });

  test("flags accept true/false/1/0/yes/no and booleans from Workers [vars]; anything else is a ConfigError", () => {
    for (const value of ["true", "TRUE", "1", "yes", true]) {
      expect(build({ ...REDIS, DW_PRODUCTION: value, DW_API_TOKEN: "t" }).options.production).toBe(true);
    }
    for (const value of ["false", "0", "no", "", false]) expect(build({ DW_PRODUCTION: value }).options.production).toBeUndefined();
    expect(() => build({ DW_PRODUCTION: "prod" })).toThrow(/DW_PRODUCTION must be true or false/);
  });

  test("a binding that is not text (a KV namespace under a variable's name) is a ConfigError", () => {
    expect(() => build({ DW_API_TOKEN: { get() {} } })).toThrow(/DW_API_TOKEN must be a string/);
  });
});

describe("QStash", () => {
  test("token, signing keys and DW_PUBLIC_URL give a QStashAdapter delivering to <DW_PUBLIC_URL>/qstash", () => {
    const { options, lines } = build({ ...QSTASH, DW_PUBLIC_URL: "https://dw.example.com/" });
    expect(options.adapter).toBeInstanceOf(QStashAdapter);
    const adapter = options.adapter as QStashAdapter;
    expect(adapter.callbackUrl).toBe("https://dw.example.com/qstash");
    expect(adapter.failureCallbackUrl).toBe("https://dw.example.com/qstash/failure");
    expect(options.qstash).toEqual({
      currentSigningKey: "sig_current",
      nextSigningKey: "sig_next",
      callbackUrl: "https://dw.example.com/qstash",
      token: "qstash-token",
    });
    expect(lines.at(-1)?.line).toContain("async queue QStash (qstash.upstash.io) → https://dw.example.com/qstash");
  });

  test("QSTASH_URL is the client's base URL (a local qstash-dev) and QSTASH_CALLBACK_URL wins over DW_PUBLIC_URL", () => {
    const configs: unknown[] = [];
    const { options } = build(
      { ...QSTASH, QSTASH_URL: "http://127.0.0.1:8080", QSTASH_CALLBACK_URL: "http://127.0.0.1:9999/hooks/qstash" },
      { qstashClient: (config) => (configs.push(config), { publishJSON: async () => ({}), queue: () => ({}) }) as never },
    );
    expect(configs).toEqual([{ token: "qstash-token", baseUrl: "http://127.0.0.1:8080" }]);
    expect((options.adapter as QStashAdapter).callbackUrl).toBe("http://127.0.0.1:9999/hooks/qstash");
    expect(options.qstash?.url).toBe("http://127.0.0.1:8080");
    expect(options.qstash?.callbackUrl).toBe("http://127.0.0.1:9999/hooks/qstash");
  });

  test("the real @upstash/qstash Client is used by default, with the base URL given", () => {
    const { options } = build({ ...QSTASH, QSTASH_URL: "http://127.0.0.1:8080" });
    const client = (options.adapter as QStashAdapter).client as unknown as { http: { baseUrl: string } };
    expect(client.http.baseUrl).toBe("http://127.0.0.1:8080");
  });

  test("half a QStash configuration is a ConfigError naming what is missing", () => {
    expect(() => build({ QSTASH_TOKEN: "t", DW_PUBLIC_URL: "https://x.dev" })).toThrow(
      /QSTASH_CURRENT_SIGNING_KEY, QSTASH_NEXT_SIGNING_KEY are missing/,
    );
    expect(() => build({ ...QSTASH, QSTASH_NEXT_SIGNING_KEY: "" })).toThrow(/QSTASH_NEXT_SIGNING_KEY is missing/);
    expect(() => build({ QSTASH_URL: "http://127.0.0.1:8080" })).toThrow(/QStash is half configured/);
  });

  test("QStash without a public URL is a ConfigError", () => {
    expect(() => build({ ...QSTASH, DW_PUBLIC_URL: undefined })).toThrow(/set DW_PUBLIC_URL/);
  });

  test("a placeholder DW_PUBLIC_URL is a ConfigError", () => {
    expect(() => build({ ...QSTASH, DW_PUBLIC_URL: "https://durable-workflow.<your-subdomain>.workers.dev" })).toThrow(
      /DW_PUBLIC_URL must be an absolute http\(s\) URL/,
    );
  });

  test("DW_PUBLIC_URL alone (wrangler.toml's [vars]) does not turn QStash on", () => {
    expect(build({ DW_PUBLIC_URL: "https://dw.example.com" }).options.adapter).toBeInstanceOf(InlineAdapter);
  });
});

describe("version", () => {
  test("VERSION is package.json's version and GET /health reports it", async () => {
    const pkg = JSON.parse(readFileSync(join(import.meta.dir, "../../..", "package.json"), "utf8")) as { version: string };
    expect(VERSION).toBe(pkg.version);
    const response = await createApp(build({}).options).request("/health");
    expect(await response.json()).toEqual({ ok: true, version: pkg.version });
  });
});

describe("DW_LEASE_SECONDS", () => {
  test("DW_LEASE_SECONDS becomes the app's leaseMs; unset leaves the engine's default", () => {
    expect(build({ DW_LEASE_SECONDS: "10" }).options.leaseMs).toBe(10_000);
    expect(build({}).options.leaseMs).toBeUndefined();
  });

  test("a DW_LEASE_SECONDS that is not a positive number is a ConfigError", () => {
    expect(() => build({ DW_LEASE_SECONDS: "0" })).toThrow(/DW_LEASE_SECONDS must be a positive number/);
    expect(() => build({ DW_LEASE_SECONDS: "soon" })).toThrow(/DW_LEASE_SECONDS must be a number/);
  });
});

describe("http steps from the environment", () => {
  test("DW_HTTP_* and DW_SECRET_* become the http options and secrets of the app and of the in-process queue", () => {
    const { options } = build({
      DW_HTTP_ALLOW: "https://api.example.com/v1/, https://*.example.org",
      DW_HTTP_ALLOW_PRIVATE: "true",
      DW_HTTP_MAX_BODY_BYTES: "2048",
      DW_SECRET_SHOP_TOKEN: "s3cret",
    });
    const http = { allow: ["https://api.example.com/v1/", "https://*.example.org"], allowPrivate: true, maxBodyBytes: 2048 };
    expect(options.http).toEqual(http);
    expect(options.secrets).toEqual({ SHOP_TOKEN: "s3cret" });
  });

  test("without them there are no http options and no secrets", () => {
    const { options } = build({});
    expect(options.http).toBeUndefined();
    expect(options.secrets).toBeUndefined();
  });

  test("a bad DW_HTTP_ALLOW entry or body limit is a ConfigError naming it", () => {
    expect(() => build({ DW_HTTP_ALLOW: "api.example.com" })).toThrow('http.allow: "api.example.com" is not an http(s) origin');
    expect(() => build({ DW_HTTP_MAX_BODY_BYTES: "0" })).toThrow("http.maxBodyBytes must be a positive integer, got 0");
  });

  test("createApp refuses bad http options and a secret that is not text", () => {
    const base = { store: new MemoryStore(), workflows: [] };
    expect(() => createApp({ ...base, http: { allow: ["ftp://x"] } })).toThrow(ConfigError);
    expect(() => createApp({ ...base, secrets: { TOKEN: 1 as unknown as string } })).toThrow("secrets.TOKEN must be a string");
  });
});

describe("DW_EVENT_LOOKBACK_SECONDS", () => {
  test("becomes the app's events.lookbackSeconds; unset leaves the default", () => {
    expect(build({ DW_EVENT_LOOKBACK_SECONDS: "60" }).options.events).toEqual({ lookbackSeconds: 60 });
    expect(build({}).options.events).toBeUndefined();
  });

  test("a negative value is a ConfigError naming the variable", () => {
    expect(() => build({ DW_EVENT_LOOKBACK_SECONDS: "-1" })).toThrow(/DW_EVENT_LOOKBACK_SECONDS must be a number of seconds ≥ 0/);
  });
});
