/**
 * AppOptions from environment variables, written once for every deploy target: `worker.ts` passes the
 * Workers env bindings, `main.ts` passes its runtime's environment variables. Web-standard: it reads nothing itself.
 *
 * | variable | what |
 * |---|---|
 * | UPSTASH_REDIS_REST_URL + UPSTASH_REDIS_REST_TOKEN | the store (UpstashRedisStore); without them, a MemoryStore (never in production) |
 * | DW_REDIS_PREFIX | first segment of every Redis key (default "dw") |
 * | DW_REDIS_KEY_LOCKING | declare `allow-key-locking` on the scripts that touch only their KEYS (default: true for *.upstash.io hosts) |
 * | DW_RETENTION_DAYS | days a completed or failed execution is kept in Redis (default 30) |
 * | DW_EVENT_LOOKBACK_SECONDS | how long POST /events/:name keeps an event for runs that reach their wait later (default 300) |
 * | DW_LEASE_SECONDS | how long a run's claim lasts without a checkpoint before another worker takes it over (default 60) |
 * | QSTASH_TOKEN + QSTASH_CURRENT_SIGNING_KEY + QSTASH_NEXT_SIGNING_KEY | the async queue (QStashAdapter); without them, in-process (InlineAdapter) |
 * | QSTASH_URL | QStash's base URL (default QStash's own; a local qstash-dev in development) |
 * | DW_PUBLIC_URL | where QStash reaches the app: the callback is `<DW_PUBLIC_URL>/qstash` |
 * | QSTASH_CALLBACK_URL | the callback URL itself, when it is not `<DW_PUBLIC_URL>/qstash` |
 * | DW_API_TOKEN | bearer token of the API (all routes but /health and /qstash) |
 * | DW_PRODUCTION | "true": refuse to start without Redis or without DW_API_TOKEN |
 * | DW_TICK_SECONDS | the app's ticker on Bun, Deno, Node: seconds between two runs of the in-process queue's due jobs (default 1; 0 turns the ticker off) |
 * | DW_SWEEP_SECONDS | seconds between two sweeps of the ticker (default 15; 0: the ticker does not sweep) |
 * | DW_HTTP_ALLOW | comma-separated URL prefixes `http` steps may call (default: any) |
 * | DW_HTTP_ALLOW_PRIVATE | "true": URLs from references may target loopback and private addresses |
 * | DW_HTTP_MAX_BODY_BYTES | largest `http` response body kept in ctx (default 1 MiB) |
 * | DW_SECRET_<NAME> | the value of `$secrets.<NAME>` in `http` steps |
 * | DW_LOG_LEVEL | lowest level of the JSON log lines written: debug, info (default), warn, error |
 *
 * A half-configured service (a Redis URL without its token, a QStash token without signing keys) is a
 * ConfigError, never a quiet fallback.
 */
import { Client } from "@upstash/qstash";
import type { AppOptions } from "./routes/context.ts";
import type { WorkflowLookup } from "./src/config.ts";
import type { WorkflowDefinition } from "./src/definition/workflow.ts";
import { ConfigError, StoreError } from "./src/errors.ts";
import { errorText, lineWriter, Log, type LogLevel, parseLogLevel, STORE_UNAVAILABLE } from "./src/log.ts";
import { checkHttpOptions } from "./src/steps/http.ts";
import type { HttpOptions } from "./src/steps/step.ts";
import { InlineAdapter } from "./src/runners/adapters/inline.ts";
import type { SweepReport } from "./src/runners/recovery.ts";
import { tick } from "./src/runners/ticker.ts";
import { syncTriggerSchedules } from "./src/runners/adapters/qstash-schedules.ts";
import { workflowsOf } from "./src/runners/send-event.ts";
import { QStashAdapter, type QStashClient } from "./src/runners/adapters/qstash.ts";
import { MemoryStore } from "./src/store/memory.ts";
import { type UpstashRedisClient, UpstashRedisStore } from "./src/store/upstash-redis.ts";
import type { Services } from "./src/types.ts";

/** The version reported by GET /health. Kept equal to package.json's `version` (tests/unit/entries/deploy.config.test.ts checks). */
export const VERSION = "0.1.0";

/**
 * The `Redis` class of the runtime: `Redis` from "@upstash/redis" (Bun, Deno, Node) or from
 * "@upstash/redis/cloudflare" (Workers). The entry file imports it, so this module pulls in neither.
 */
export type RedisConstructor = new (
  config: { url: string; token: string; enableAutoPipelining?: boolean; responseEncoding?: false | "base64" },
) => UpstashRedisClient;

export interface EnvExtras {
  workflows: WorkflowDefinition[] | WorkflowLookup;
  services?: Services;
  /** Needed when UPSTASH_REDIS_REST_URL is set. */
  Redis?: RedisConstructor;
  /** Builds the QStash client (default: `new Client(...)` from "@upstash/qstash"). */
  qstashClient?: (config: { token: string; baseUrl?: string }) => QStashClient;
  /** Startup lines: one "info" line saying what was chosen, "warn" lines for what is unsafe. Default: the app's log. */
  log?: (level: "info" | "warn", line: string) => void;
}

type Env = Record<string, unknown>;

/** The app's log: JSON lines on the console from DW_LOG_LEVEL on. */
function logFromEnv(env: Env): Log {
  const value = text(env, "DW_LOG_LEVEL");
  let level: LogLevel | undefined;
  try {
    level = value === undefined ? undefined : parseLogLevel(value);
  } catch (error) {
    throw new ConfigError(`DW_LOG_LEVEL: ${(error as Error).message}`);
  }
  return new Log(level ? { level } : {});
}

/** Builds AppOptions from an env record (Workers bindings, or the process environment under Deno and Bun). Throws ConfigError. */
export function appOptionsFromEnv(env: Env, extras: EnvExtras): AppOptions {
  if (!env || typeof env !== "object") throw new ConfigError("appOptionsFromEnv needs an env record");
  if (!extras?.workflows) throw new ConfigError("appOptionsFromEnv needs extras.workflows");
  const appLog = logFromEnv(env);
  const log = extras.log ?? lineWriter(appLog);
  const production = flag(env, "DW_PRODUCTION");
  const token = text(env, "DW_API_TOKEN");
  if (production && !token) {
    throw new ConfigError("DW_PRODUCTION=true requires DW_API_TOKEN (the API would be open to anyone)");
  }

  const { store, storeLine } = storeFromEnv(env, extras, production, log);
  const qstash = qstashFromEnv(env, extras);
  const leaseSeconds = number(env, "DW_LEASE_SECONDS");
  if (leaseSeconds !== undefined && !(leaseSeconds > 0)) {
    throw new ConfigError(`DW_LEASE_SECONDS must be a positive number of seconds, got ${leaseSeconds}`);
  }
  const lease = leaseSeconds !== undefined ? { leaseMs: Math.round(leaseSeconds * 1000) } : {};
  const engine = { ...lease, ...httpFromEnv(env) };
  const lookbackSeconds = seconds(env, "DW_EVENT_LOOKBACK_SECONDS");
  const ticker = tickerFromEnv(env);

  const options: AppOptions = {
    store,
    workflows: extras.workflows,
    version: VERSION,
    ...(extras.services ? { services: extras.services } : {}),
    ...(token ? { token } : {}),
    ...(lookbackSeconds !== undefined ? { events: { lookbackSeconds } } : {}),
    ...(production ? { production } : {}),
    ...engine,
    ...(ticker !== undefined ? { ticker } : {}),
    // Without QStash: the in-process queue on the same store, services and workflows (createApp's default, made explicit).
    adapter: qstash?.adapter ??
      new InlineAdapter({ store, services: extras.services ?? {}, workflows: extras.workflows, ...engine, log: appLog }),
    ...(qstash ? { qstash: qstash.routeOptions } : {}),
    logger: appLog,
  };

  if (!token) log("warn", "durable-workflow: DW_API_TOKEN is not set: the API is open to anyone who can reach it (fine on localhost only)");
  if (!qstash && production) {
    log(
      "warn",
      "durable-workflow: QStash is not configured (QSTASH_TOKEN, signing keys, DW_PUBLIC_URL): async runs are performed inside the request that starts them",
    );
  }
  log(
    "info",
    `durable-workflow ${VERSION}: store ${storeLine}; async queue ${
      qstash ? `QStash (${qstash.baseLine}) → ${qstash.adapter.callbackUrl}` : "in-process (InlineAdapter)"
    }; ` +
      `auth ${token ? "bearer token" : "off"}${production ? "; production" : ""}`,
  );
  return options;
}

function tickerFromEnv(env: Env): AppOptions["ticker"] {
  const tick = seconds(env, "DW_TICK_SECONDS");
  const sweep = seconds(env, "DW_SWEEP_SECONDS");
  if (tick === 0) return false;
  if (tick === undefined && sweep === undefined) return undefined;
  return {
    ...(tick !== undefined ? { intervalMs: Math.round(tick * 1000) } : {}),
    ...(sweep !== undefined ? { sweepEveryMs: Math.round(sweep * 1000) } : {}),
  };
}

function storeFromEnv(env: Env, extras: EnvExtras, production: boolean, log: NonNullable<EnvExtras["log"]>) {
  const url = text(env, "UPSTASH_REDIS_REST_URL");
  const restToken = text(env, "UPSTASH_REDIS_REST_TOKEN");
  if (!url && !restToken) {
    if (production) {
      throw new ConfigError(
        "DW_PRODUCTION=true requires Redis: set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN (the MemoryStore loses every execution on restart)",
      );
    }
    const line =
      "MemoryStore — NOT DURABLE: every execution is lost when the process stops (set UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN for Redis)";
    log("warn", `durable-workflow: WARNING: using the ${line}`);
    return { store: new MemoryStore(), storeLine: "MemoryStore (not durable)" };
  }
  if (!extras.Redis) {
    throw new ConfigError(
      'UPSTASH_REDIS_REST_URL is set but no Redis class was given: pass extras.Redis (Redis from "@upstash/redis", or "@upstash/redis/cloudflare" on Workers)',
    );
  }
  return redisStoreFromEnv(env, extras.Redis);
}

/**
 * The UpstashRedisStore the environment describes (UPSTASH_REDIS_REST_URL and _TOKEN, DW_REDIS_PREFIX, DW_RETENTION_DAYS,
 * DW_REDIS_KEY_LOCKING), built with `Redis`; ConfigError for a bad variable. The app's entries and the CLI share it.
 */
export function redisStoreFromEnv(env: Env, Redis: RedisConstructor): { store: UpstashRedisStore; storeLine: string } {
  const url = text(env, "UPSTASH_REDIS_REST_URL");
  const restToken = text(env, "UPSTASH_REDIS_REST_TOKEN");
  if (!url || !restToken) {
    throw new ConfigError(
      `Redis needs both UPSTASH_REDIS_REST_URL and UPSTASH_REDIS_REST_TOKEN; ${url ? "the token" : "the URL"} is missing`,
    );
  }
  httpUrl(url, "UPSTASH_REDIS_REST_URL");
  const days = number(env, "DW_RETENTION_DAYS");
  if (days !== undefined && !(days > 0)) throw new ConfigError(`DW_RETENTION_DAYS must be a positive number of days, got ${days}`);
  const prefix = text(env, "DW_REDIS_PREFIX");
  // Upstash runs a script under a global lock unless it declares key locking (docs/redis-keys.md); elsewhere the flag is refused.
  const keyLocking = text(env, "DW_REDIS_KEY_LOCKING") === undefined
    ? new URL(url).hostname.endsWith(".upstash.io")
    : flag(env, "DW_REDIS_KEY_LOCKING");
  const store = new UpstashRedisStore({
    // Auto-pipelining (the client's default) batches nothing here (a run's store calls are sequential) and costs the
    // app ~17 % of its CPU under load; base64 replies (its default, for values that are not UTF-8) cost a decode of
    // every string, and the store only ever stores JSON text (bench/concurrency.ts; docs/deploy.md).
    redis: new Redis({ url, token: restToken, enableAutoPipelining: false, responseEncoding: false }),
    keyLocking,
    ...(prefix ? { prefix } : {}),
    ...(days !== undefined ? { retention: Math.round(days * 86_400) } : {}),
  });
  return {
    store,
    storeLine: `UpstashRedisStore (${new URL(url).host}, prefix ${prefix ?? "dw"}, retention ${days ?? 30} days${
      keyLocking ? ", key locking" : ""
    })`,
  };
}

/** Options of `http` steps (`DW_HTTP_*`) and the secrets they may name (`DW_SECRET_<NAME>`); ConfigError for a bad one. */
export function httpFromEnv(env: Env): Pick<AppOptions, "http" | "secrets"> {
  const allow = text(env, "DW_HTTP_ALLOW")?.split(",").map((entry) => entry.trim()).filter(Boolean);
  const max = number(env, "DW_HTTP_MAX_BODY_BYTES");
  const http: HttpOptions = {
    ...(allow ? { allow } : {}),
    ...(flag(env, "DW_HTTP_ALLOW_PRIVATE") ? { allowPrivate: true } : {}),
    ...(max !== undefined ? { maxBodyBytes: max } : {}),
  };
  checkHttpOptions(http);
  const secrets: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) {
    const match = /^DW_SECRET_([A-Za-z0-9_]+)$/.exec(name);
    if (match && typeof value === "string" && value !== "") secrets[match[1]!] = value;
  }
  return { ...(Object.keys(http).length ? { http } : {}), ...(Object.keys(secrets).length ? { secrets } : {}) };
}

const QSTASH_VARIABLES = ["QSTASH_TOKEN", "QSTASH_CURRENT_SIGNING_KEY", "QSTASH_NEXT_SIGNING_KEY"] as const;

function qstashFromEnv(env: Env, extras: EnvExtras) {
  const given = QSTASH_VARIABLES.filter((name) => text(env, name));
  const baseUrl = text(env, "QSTASH_URL");
  const explicitCallback = text(env, "QSTASH_CALLBACK_URL");
  if (given.length === 0 && !baseUrl && !explicitCallback) return undefined;
  const missing = QSTASH_VARIABLES.filter((name) => !text(env, name));
  if (missing.length) {
    throw new ConfigError(
      `QStash is half configured: ${missing.join(", ")} ${missing.length === 1 ? "is" : "are"} missing (set all of ${
        QSTASH_VARIABLES.join(", ")
      }, or none)`,
    );
  }
  const publicUrl = text(env, "DW_PUBLIC_URL");
  if (!explicitCallback && !publicUrl) {
    throw new ConfigError(
      "QStash needs to know where to deliver: set DW_PUBLIC_URL (the app's public URL; the callback is <DW_PUBLIC_URL>/qstash) or QSTASH_CALLBACK_URL",
    );
  }
  const callbackUrl = explicitCallback
    ? httpUrl(explicitCallback, "QSTASH_CALLBACK_URL")
    : `${httpUrl(publicUrl!, "DW_PUBLIC_URL").replace(/\/+$/, "")}/qstash`;
  if (baseUrl) httpUrl(baseUrl, "QSTASH_URL");
  const token = text(env, "QSTASH_TOKEN")!;
  const config = { token, ...(baseUrl ? { baseUrl } : {}) };
  const client = extras.qstashClient ? extras.qstashClient(config) : new Client(config);
  const adapter = new QStashAdapter({ client, callbackUrl });
  return {
    adapter,
    baseLine: baseUrl ?? "qstash.upstash.io",
    routeOptions: {
      currentSigningKey: text(env, "QSTASH_CURRENT_SIGNING_KEY")!,
      nextSigningKey: text(env, "QSTASH_NEXT_SIGNING_KEY")!,
      callbackUrl,
      token,
      ...(baseUrl ? { url: baseUrl } : {}),
    },
  };
}

/** A variable as text: strings trimmed ("" is unset); Workers [vars] may also be numbers or booleans. */
function text(env: Env, name: string): string | undefined {
  const value = env[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (typeof value !== "string") throw new ConfigError(`${name} must be a string, got ${typeof value}`);
  const trimmed = value.trim();
  return trimmed === "" ? undefined : trimmed;
}

function flag(env: Env, name: string): boolean {
  const value = text(env, name)?.toLowerCase();
  if (value === undefined || value === "false" || value === "0" || value === "no") return false;
  if (value === "true" || value === "1" || value === "yes") return true;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(env[name])}`);
}

function number(env: Env, name: string): number | undefined {
  const value = text(env, name);
  if (value === undefined) return undefined;
  const parsed = Number(value);
  if (!Number.isFinite(parsed)) throw new ConfigError(`${name} must be a number, got ${JSON.stringify(value)}`);
  return parsed;
}

/** A number of seconds ≥ 0, or undefined when the variable is not set. */
function seconds(env: Env, name: string): number | undefined {
  const value = number(env, name);
  if (value !== undefined && !(value >= 0)) throw new ConfigError(`${name} must be a number of seconds ≥ 0, got ${value}`);
  return value;
}

function httpUrl(value: string, name: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:")) {
    throw new ConfigError(`${name} must be an absolute http(s) URL, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * One round of recovery for an app's options: the in-process queue's due jobs, then the sweeper (`tick`, which the
 * app's own ticker, `app.scheduled` and a QStash sweep schedule all run). Kept for code written before `app.tick()`.
 */
export async function recoverOnce(
  options: Pick<AppOptions, "store" | "adapter" | "clock" | "sweep" | "logger"> & { workflows?: AppOptions["workflows"] },
): Promise<SweepReport> {
  const adapter = options.adapter;
  if (!adapter) throw new ConfigError("recoverOnce needs the app's adapter");
  const workflows = options.workflows;
  const log = options.logger instanceof Log ? options.logger : undefined;
  try {
    const report = await tick({
      store: options.store,
      adapter,
      ...(options.clock ? { clock: options.clock } : {}),
      ...(options.sweep ? { sweep: options.sweep } : {}),
      ...(workflows ? { triggers: () => workflowsOf(workflows) } : {}),
    });
    log?.recovered(STORE_UNAVAILABLE);
    return report.sweep!;
  } catch (error) {
    if (log && error instanceof StoreError) {
      log.failure(STORE_UNAVAILABLE, "sweep failed: the execution store is unavailable", { error: errorText(error) });
    }
    throw error;
  }
}

/**
 * With QStash configured: a QStash schedule per cron trigger of the served workflows (fixed ids, see
 * syncTriggerSchedules; the app's sweep schedule is another, kept by the app), and the schedules of removed triggers
 * deleted. main.ts calls it at start-up.
 */
export async function syncCronSchedules(env: Env, options: AppOptions): Promise<{ created: string[]; removed: string[] } | null> {
  const token = text(env, "QSTASH_TOKEN");
  if (!(options.adapter instanceof QStashAdapter) || !token) return null;
  const baseUrl = text(env, "QSTASH_URL");
  const client = new Client({ token, ...(baseUrl ? { baseUrl } : {}) });
  return await syncTriggerSchedules(client, { callbackUrl: options.adapter.callbackUrl, workflows: workflowsOf(options.workflows) });
}
