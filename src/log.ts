/**
 * Logs an operator can read: one JSON line per meaningful event (`level`, `time`, `msg`, and the execution,
 * workflow, step and trace it concerns), written through any `{ debug, info, warn, error }` object (console by
 * default). Expected failures (store unavailable, conflict, a refused job) carry no stack trace, and a failure
 * that repeats is summarised: its first occurrence, then one line per interval with the count, then "recovered".
 */
import { trace } from "@opentelemetry/api";
import { errorText } from "./errors.ts";

export { errorText };

export type LogLevel = "debug" | "info" | "warn" | "error";
export const LOG_LEVELS: readonly LogLevel[] = ["debug", "info", "warn", "error"];

/** Where lines go: console, or anything with these four methods (each gets one JSON line). */
export interface Logger {
  debug(line: string): void;
  info(line: string): void;
  warn(line: string): void;
  error(line: string): void;
}

/** What a line may say besides its message. Undefined fields are left out. */
export interface LogFields {
  executionId?: string;
  workflowId?: string;
  step?: string;
  traceId?: string;
  [field: string]: unknown;
}

export interface LogOptions {
  logger?: Logger;
  /** Lines below this level are dropped (default "info"). */
  level?: LogLevel;
  /** Milliseconds since the epoch (default `Date.now`); the summaries' intervals count on it. */
  now?: () => number;
  /** How often a failure that keeps repeating is reported with its count, in ms (default 10 000). */
  summaryMs?: number;
}

/** A failure of one kind that is going on: when it started, and how often it happened. */
interface Incident {
  since: number;
  total: number;
  /** Occurrences since the last line about it, and when that line was written. */
  unreported: number;
  reportedAt: number;
}

const DEFAULT_SUMMARY_MS = 10_000;

/** The incident kind while the execution store does not answer (routes, QStash handler, sweeper). */
export const STORE_UNAVAILABLE = "store-unavailable";

/** Throws a RangeError naming the value unless it is a log level. */
export function parseLogLevel(value: string): LogLevel {
  const level = value.trim().toLowerCase();
  if (!LOG_LEVELS.includes(level as LogLevel)) {
    throw new RangeError(`Invalid log level ${JSON.stringify(value)}: use one of ${LOG_LEVELS.join(", ")}`);
  }
  return level as LogLevel;
}

/** The trace id of the active OpenTelemetry span, when there is one. */
function activeTraceId(): string | undefined {
  const context = trace.getActiveSpan()?.spanContext();
  return context && context.traceId !== "00000000000000000000000000000000" ? context.traceId : undefined;
}

export class Log {
  readonly #logger: Logger;
  readonly #min: number;
  readonly #now: () => number;
  readonly #summaryMs: number;
  readonly #incidents = new Map<string, Incident>();

  constructor(options: LogOptions = {}) {
    this.#logger = options.logger ?? console;
    this.#min = LOG_LEVELS.indexOf(options.level ?? "info");
    if (this.#min < 0) throw new RangeError(`Invalid log level ${JSON.stringify(options.level)}: use one of ${LOG_LEVELS.join(", ")}`);
    this.#now = options.now ?? (() => Date.now());
    this.#summaryMs = options.summaryMs ?? DEFAULT_SUMMARY_MS;
  }

  /** Writes one line (when `level` is at or above the log's level). */
  write(level: LogLevel, msg: string, fields: LogFields = {}): void {
    if (LOG_LEVELS.indexOf(level) < this.#min) return;
    const line: Record<string, unknown> = { level, time: new Date(this.#now()).toISOString(), msg };
    for (const [key, value] of Object.entries(fields)) if (value !== undefined) line[key] = value;
    line.traceId ??= activeTraceId();
    if (line.traceId === undefined) delete line.traceId;
    this.#logger[level](JSON.stringify(line));
  }

  debug(msg: string, fields?: LogFields): void {
    this.write("debug", msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.write("info", msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.write("warn", msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.write("error", msg, fields);
  }

  /**
   * A failure of a kind that can repeat (e.g. "store-unavailable"): the first one is written, later ones are
   * counted and written as one summary line per interval, until `recovered(kind)`.
   */
  failure(kind: string, msg: string, fields: LogFields = {}, level: LogLevel = "error"): void {
    const now = this.#now();
    const incident = this.#incidents.get(kind);
    if (!incident) {
      this.#incidents.set(kind, { since: now, total: 1, unreported: 0, reportedAt: now });
      this.write(level, msg, { kind, ...fields });
      return;
    }
    incident.total++;
    incident.unreported++;
    if (now - incident.reportedAt < this.#summaryMs) return;
    this.write(level, `${kind}: still failing, ${incident.unreported} more since the last line`, {
      kind,
      since: new Date(incident.since).toISOString(),
      count: incident.unreported,
      total: incident.total,
      ...fields,
    });
    incident.unreported = 0;
    incident.reportedAt = now;
  }

  /** Ends the failure of this kind, if one is going on: one "recovered" line with how long it lasted and how often it happened. */
  recovered(kind: string, fields: LogFields = {}): void {
    const incident = this.#incidents.get(kind);
    if (!incident) return;
    this.#incidents.delete(kind);
    const now = this.#now();
    this.write("info", `${kind}: recovered after ${now - incident.since} ms, ${incident.total} failures`, {
      kind,
      since: new Date(incident.since).toISOString(),
      durationMs: now - incident.since,
      total: incident.total,
      ...fields,
    });
  }

  /** True while a failure of this kind is going on. */
  failing(kind: string): boolean {
    return this.#incidents.has(kind);
  }
}

/** The log of a component given `log`, or a Log on `logger`, or the default (console, "info"). */
export function toLog(log: Log | Logger | undefined, level?: LogLevel, clock?: () => Date): Log {
  if (log instanceof Log) return log;
  return new Log({ ...(log ? { logger: log } : {}), ...(level ? { level } : {}), ...(clock ? { now: () => clock().getTime() } : {}) });
}

/** A `(level, line)` callback (the older startup and ticker lines) writing to `log`, without their `durable-workflow: ` prefix. */
export function lineWriter(log: Log): (level: LogLevel, line: string) => void {
  return (level, line) => log.write(level, line.replace(/^durable-workflow: /, ""));
}
