import type { Context, MiddlewareHandler } from "hono";
import type { WorkflowLookup } from "../src/config.ts";
import { type Clock, toClock } from "../src/engine/clock.ts";
import { Catalog } from "../src/engine/definitions.ts";
import type { WorkflowDefinition } from "../src/definition/workflow.ts";
import { ConfigError, StoreError } from "../src/errors.ts";
import { type Log, type Logger, type LogLevel, STORE_UNAVAILABLE, toLog } from "../src/log.ts";
import { InlineAdapter } from "../src/runners/adapters/inline.ts";
import type { QueueAdapter } from "../src/runners/jobs.ts";
import type { SweepOptions } from "../src/runners/recovery.ts";
import { checkHttpOptions } from "../src/steps/http.ts";
import type { HttpOptions } from "../src/steps/step.ts";
import type { Store } from "../src/store/store.ts";
import type { Services } from "../src/types.ts";
import { type ApiToken, parseTokens } from "./auth.ts";
import { DEFAULT_MAX_BODY_BYTES } from "./body.ts";
import { missingServices } from "./catalog.ts";

export interface AppOptions {
  store: Store;
  /** The workflows the app serves. A lookup function serves them by id but cannot list them (GET /workflows). */
  workflows: WorkflowDefinition[] | WorkflowLookup;
  services?: Services;
  /** Queue of the async mode (default: an InlineAdapter on the same store, services and workflows). */
  adapter?: QueueAdapter;
  /**
   * Bearer token required on every route but GET /health and POST /qstash: one secret, or `name:secret` pairs
   * separated by commas (at most one unnamed); operator actions record the name of the token used as their actor.
   * Without one the API is open: fine on localhost, never in production — `production: true` refuses to start
   * without a token.
   */
  token?: string;
  /** Refuses to start (ConfigError) without a `token`. */
  production?: boolean;
  /** The QStash callback route (POST /qstash, POST /qstash/failure): signing keys and where it is reached (docs/async.md). */
  qstash?: {
    currentSigningKey: string;
    nextSigningKey: string;
    /** The public URL of POST /qstash that signatures are made for (default: the QStashAdapter's `callbackUrl`). */
    callbackUrl?: string;
    /** Default `<callbackUrl>/failure`. */
    failureCallbackUrl?: string;
    /** QStash token and base URL, to publish continuations when `adapter` is not a QStashAdapter. */
    token?: string;
    url?: string;
    /** Time budget of one delivery in ms (default 25 000). */
    budgetMs?: number;
    /**
     * With a QStashAdapter, the app makes sure at its first use (or `app.start()`) that a QStash schedule posts
     * `{"action":"sweep"}` to the callback every minute, under a fixed id (default: true unless `clock` is injected).
     */
    sweepSchedule?: boolean;
  };
  /**
   * How long a claim (`running`) lasts without a checkpoint before another worker may take over, or an operator
   * recover it, in ms (default 60 000). Must exceed the longest time between two checkpoints of a live run.
   */
  leaseMs?: number;
  /** The sweeper run by a signed `{ "action": "sweep" }` delivery to POST /qstash (docs/async.md). */
  sweep?: Pick<SweepOptions, "graceMs" | "claimMs" | "pageSize" | "maxPages">;
  limits?: {
    /** Largest request body accepted (default 1 MiB); larger ones are answered 413. */
    maxBodyBytes?: number;
  };
  /** The SSE routes (docs/events.md). */
  events?: {
    /** How often GET /executions/:id/events polls the store while it follows a run, in ms (default 500). */
    pollMs?: number;
    /** How often a stream sends a `: heartbeat` comment, so proxies keep it open, in ms (default 15 000). */
    heartbeatMs?: number;
    /** How long POST /events/:name keeps an event for runs that reach their wait later, in seconds (default 300). */
    lookbackSeconds?: number;
  };
  /** Options of `http` steps: `allow` (URL prefixes), `allowPrivate`, `maxBodyBytes`, `fetch` (docs/workflow-format.md). */
  http?: HttpOptions;
  /** Values of `$secrets.NAME` in `http` steps: resolved when a request is sent, never stored, redacted from what is. */
  secrets?: Readonly<Record<string, string>>;
  /** The app's time: a `Clock` (a `ManualClock` in tests: its timers too) or a function giving the time. */
  clock?: Clock | (() => Date);
  /**
   * Time firing by itself (docs/async.md, "Time"). On a long-lived runtime (Bun, Deno, Node) the app runs a ticker
   * from its first request (or `app.start()`): the in-process queue's due jobs every `intervalMs` (default 1 000),
   * the sweeper every `sweepEveryMs` (default 15 000; 0: never). It is not started on Workers (export `app.scheduled`
   * and a Cron Trigger), with a QStashAdapter (QStash delivers delayed jobs; the app makes sure of its sweep
   * schedule instead), nor when `clock` is injected (a test moves time itself: `app.tick()`). `false`: off;
   * `true` or an object (its periods): on wherever timers live on, QStash and injected clocks included.
   */
  ticker?: boolean | { intervalMs?: number; sweepEveryMs?: number };
  /** Id generator for executions and entries (default `crypto.randomUUID`). */
  ids?: () => string;
  /** Reported by GET /health (default "unknown"). */
  version?: string;
  /** Where log lines go: any `{ debug, info, warn, error }` (default console), or a `Log` shared with other parts. */
  logger?: Logger | Log;
  /** Lines below this level are dropped (default "info"; ignored when `logger` is a `Log`). */
  logLevel?: LogLevel;
}

/** Options, or a function of the Workers env bindings giving them (called once per env object). */
export type AppOptionsInput =
  | AppOptions
  | ((env: Record<string, unknown>) => AppOptions | Promise<AppOptions>);

/** What every route reads from `c.get("app")`: the options resolved, with defaults applied. */
export interface AppContext {
  readonly options: AppOptions;
  readonly store: Store;
  readonly services: Services;
  readonly adapter: QueueAdapter;
  readonly version: string;
  readonly maxBodyBytes: number;
  /** The current definition of the workflow with this id (see Catalog), or undefined. */
  workflow(id: string): Promise<WorkflowDefinition | undefined>;
  /** Every workflow that can be listed: those given in a list (not by a lookup function) and those in the store. */
  listWorkflows(): Promise<WorkflowDefinition[]>;
  readonly catalog: Catalog;
  /** The API tokens (`token` parsed); empty when the API is open. */
  readonly tokens: readonly ApiToken[];
  /** The app's log (docs/deploy.md, "Logs"). */
  readonly log: Log;
  /** Options for runners and engines: same store, services, workflows (for child steps), clock, ids and lease. */
  readonly runnerOptions: {
    store: Store;
    services: Services;
    /**
     * The routes resolve the current version themselves (`app.workflow`), once per request; the start route passes
     * `catalog` instead, which saves new runs on the version last resolved (checked in the save).
     */
    definitions: "as-given";
    workflows: WorkflowLookup;
    clock?: Clock | (() => Date);
    ids?: () => string;
    leaseMs?: number;
    http?: HttpOptions;
    secrets?: Readonly<Record<string, string>>;
    log: Log;
  };
}

/** The Hono env of the app and its sub-apps (events, qstash). */
export interface AppEnv {
  Bindings: Record<string, unknown>;
  Variables: { app: AppContext; actor: string | undefined };
}

/** Throws ConfigError for options the app cannot start with. */
function checkOptions(options: AppOptions): void {
  if (!options || typeof options !== "object") throw new ConfigError("createApp needs options: { store, workflows }");
  if (!options.store) throw new ConfigError("createApp needs a store");
  if (!options.workflows) throw new ConfigError("createApp needs workflows (a list or a lookup)");
  if (options.token !== undefined && (typeof options.token !== "string" || options.token.length === 0)) {
    throw new ConfigError("The API token must be a non-empty string");
  }
  if (options.token !== undefined) parseTokens(options.token);
  if (options.production && !options.token) {
    throw new ConfigError("Production mode requires an API token: pass { token }");
  }
  for (const key of ["pollMs", "heartbeatMs"] as const) {
    const ms = options.events?.[key];
    if (ms !== undefined && !(typeof ms === "number" && Number.isFinite(ms) && ms > 0)) {
      throw new ConfigError(`events.${key} must be a positive number of milliseconds, got ${ms}`);
    }
  }
  if (options.leaseMs !== undefined && !(typeof options.leaseMs === "number" && Number.isFinite(options.leaseMs) && options.leaseMs > 0)) {
    throw new ConfigError(`leaseMs must be a positive number of milliseconds, got ${options.leaseMs}`);
  }
  const ticker = typeof options.ticker === "object" ? options.ticker : {};
  for (const key of ["intervalMs", "sweepEveryMs"] as const) {
    const ms = ticker[key];
    const least = key === "intervalMs" ? 1 : 0;
    if (ms !== undefined && !(typeof ms === "number" && Number.isFinite(ms) && ms >= least)) {
      throw new ConfigError(`ticker.${key} must be a number of milliseconds ≥ ${least}, got ${ms}`);
    }
  }
  const max = options.limits?.maxBodyBytes;
  if (max !== undefined && (!Number.isSafeInteger(max) || max < 1)) {
    throw new ConfigError(`limits.maxBodyBytes must be a positive integer, got ${max}`);
  }
  checkHttpOptions(options.http);
  for (const [name, value] of Object.entries(options.secrets ?? {})) {
    if (typeof value !== "string") throw new ConfigError(`secrets.${name} must be a string`);
  }
  checkWorkflows(listable(options.workflows), options.services ?? {});
}

/** Refuses, in one ConfigError, two workflows with one id and `call` steps naming services the app lacks. */
function checkWorkflows(workflows: WorkflowDefinition[], services: Services): void {
  const problems: string[] = [];
  const seen = new Set<string>();
  for (const workflow of workflows) {
    if (seen.has(workflow.id)) problems.push(`two workflows have the id "${workflow.id}"`);
    seen.add(workflow.id);
    const missing = missingServices(workflow, services);
    if (missing.length) {
      problems.push(`workflow "${workflow.id}" calls ${missing.map((name) => `"${name}"`).join(", ")}, missing from services`);
    }
  }
  if (problems.length) throw new ConfigError(`createApp: ${problems.join("; ")}`);
}

/** The app's time now (its injected clock's, a function or a Clock). */
export function appNow(app: AppContext): Date {
  return toClock(app.options.clock).now();
}

/**
 * The store, told to the log: any answer from it ends a "store-unavailable" incident (its "recovered" line), so
 * the line is written when the store is back, not when some request that never touched it succeeds.
 */
function watchedStore(store: Store, log: Log): Store {
  return new Proxy(store, {
    get(target, key) {
      const value = Reflect.get(target, key, target);
      if (typeof value !== "function") return value;
      return (...args: unknown[]) => {
        const result = value.apply(target, args);
        if (!(result instanceof Promise) || !log.failing(STORE_UNAVAILABLE)) return result;
        return result.then((answer) => {
          log.recovered(STORE_UNAVAILABLE);
          return answer;
        }, (error) => {
          if (!(error instanceof StoreError)) log.recovered(STORE_UNAVAILABLE);
          throw error;
        });
      };
    },
  });
}

export function buildContext(options: AppOptions): AppContext {
  checkOptions(options);
  const clock = options.clock === undefined ? undefined : toClock(options.clock);
  const log = toLog(options.logger, options.logLevel, clock && (() => clock.now()));
  options = { ...options, store: watchedStore(options.store, log) };
  const source = options.workflows;
  const services = options.services ?? {};
  const catalog = new Catalog(options.store, source, { clock: options.clock });
  const codeIds = listable(source).map((workflow) => workflow.id);
  const runnerOptions = {
    store: options.store,
    services,
    definitions: "as-given" as const,
    workflows: (id: string) => catalog.known(id),
    ...(options.leaseMs !== undefined ? { leaseMs: options.leaseMs } : {}),
    ...(options.clock ? { clock: options.clock } : {}),
    ...(options.ids ? { ids: options.ids } : {}),
    ...(options.http ? { http: options.http } : {}),
    ...(options.secrets ? { secrets: options.secrets } : {}),
    log,
  };
  return {
    options,
    store: options.store,
    services,
    adapter: options.adapter ?? new InlineAdapter(runnerOptions),
    version: options.version ?? "unknown",
    maxBodyBytes: options.limits?.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES,
    workflow: (id) => catalog.current(id),
    listWorkflows: () => catalog.list(codeIds),
    catalog,
    tokens: options.token === undefined ? [] : parseTokens(options.token),
    log,
    runnerOptions,
  };
}

function listable(source: WorkflowDefinition[] | WorkflowLookup): WorkflowDefinition[] {
  if (typeof source === "function") return [];
  if (Array.isArray(source)) return [...source];
  if (source instanceof Map) return [...source.values()];
  return Object.values(source as Readonly<Record<string, WorkflowDefinition>>);
}

/**
 * The AppContext of an env. Static options are resolved once (here, so a bad configuration throws at createApp); a
 * function of the env is called once per env object (Workers hand the same bindings to every request and scheduled
 * event of an isolate) and a failure is not cached.
 */
export function contextResolver(input: AppOptionsInput): (env: unknown) => Promise<AppContext> {
  if (typeof input !== "function") {
    const context = Promise.resolve(buildContext(input));
    return () => context;
  }
  const cache = new WeakMap<object, Promise<AppContext>>();
  const noEnv = {};
  return (given) => {
    const env = (given && typeof given === "object" ? given : noEnv) as Record<string, unknown>;
    let pending = cache.get(env);
    if (!pending) {
      pending = Promise.resolve().then(() => input(env)).then(buildContext);
      cache.set(env, pending);
      pending.catch(() => cache.delete(env));
    }
    return pending;
  };
}

/** Middleware that puts the resolved AppContext in `c.get("app")` and tells `onContext` (the app's first use). */
export function contextMiddleware(
  resolve: (env: unknown) => Promise<AppContext>,
  onContext: (app: AppContext, c: Context<AppEnv>) => void = () => {},
): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const app = await resolve(c.env);
    onContext(app, c);
    c.set("app", app);
    await next();
  };
}
