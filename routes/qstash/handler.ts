import { Receiver } from "@upstash/qstash";
import { toClock } from "../../src/engine/clock.ts";
import { z } from "zod";
import { ConfigError, NotFoundError, StoreError, ValidationError } from "../../src/errors.ts";
import { checkHttpUrl, failureUrlOf, QStashAdapter, type QStashClient } from "../../src/runners/adapters/qstash.ts";
import {
  followUpsOf,
  isUnknownAction,
  type Job,
  type JobOutcome,
  parseJob,
  performJob,
  type PerformOptions,
  PermanentJobError,
  type QueueAdapter,
} from "../../src/runners/jobs.ts";
import type { SweepOptions } from "../../src/runners/recovery.ts";
import { tick } from "../../src/runners/ticker.ts";
import type { WorkflowDefinition } from "../../src/definition/workflow.ts";
import { requireStore } from "../../src/runners/runner.ts";
import { isTerminal } from "../../src/types.ts";
import { readBodyUpTo } from "../../src/json.ts";
import { errorText, type Log, type Logger, type LogLevel, STORE_UNAVAILABLE, toLog } from "../../src/log.ts";
import { DEFAULT_MAX_BODY_BYTES } from "../body.ts";
import { type ProblemIssue, problemResponse, RETRY_LATER, stackOf } from "../problems.ts";

export interface QStashHandlerOptions extends PerformOptions {
  /** QStash's signing keys (console → QStash → Signing keys). Both are accepted, for key rotation. */
  currentSigningKey?: string;
  nextSigningKey?: string;
  /** Instead of the keys: a `Receiver` (or anything with its `verify`). */
  receiver?: Pick<Receiver, "verify">;
  /**
   * The URL QStash delivers to, exactly as the adapter publishes it. Signatures are checked against it, never
   * against the request's own URL or Host header (an attacker chooses those).
   */
  callbackUrl: string;
  /** The failure callback's URL (default `<callbackUrl>/failure`, as the adapter publishes it). */
  failureCallbackUrl?: string;
  /** Queue for the jobs a delivery asks for (continuations, approval timers). Default: a QStashAdapter on `client`. */
  adapter?: QueueAdapter;
  /** Used to build the default adapter. */
  client?: QStashClient;
  /** Seconds of clock skew tolerated on the signature's `nbf`/`exp` (default 0, as `Receiver`). */
  clockToleranceSeconds?: number;
  /** Largest delivery accepted (default 1 MiB, QStash's message limit). */
  maxBodyBytes?: number;
  /** The sweeper run by a signed `{ "action": "sweep" }` delivery (a QStash schedule): its grace and claim times. */
  sweep?: Pick<SweepOptions, "graceMs" | "claimMs" | "pageSize" | "maxPages">;
  /** The workflows whose cron triggers a sweep delivery fires (see fireDueTriggers). */
  triggers?: () => readonly WorkflowDefinition[] | Promise<readonly WorkflowDefinition[]>;
  /** Told about unexpected errors (answered 500). Default: an "error" line in the log, with the stack. */
  onError?: (error: unknown, job?: Job) => void;
  /** Told when QStash gave up on a job (its failure callback). Default: a "warn" line saying what becomes of the execution. */
  onGiveUp?: (reason: string, job: Job) => void;
  /** Where log lines go (default console); a `Log` shares its summaries with the app. */
  log?: Log | Logger;
  /** Lines below this level are dropped (default "info"; ignored when `log` is a `Log`). */
  logLevel?: LogLevel;
}

/** `handler(request)` performs a delivery (`POST /qstash`); `handler.failure(request)` takes QStash's failure callback. */
export type QStashHandler = ((request: Request) => Promise<Response>) & {
  failure(request: Request): Promise<Response>;
};

/** Time budget of one delivery: a run still going after this yields and continues in a new delivery. */
const DEFAULT_CALLBACK_BUDGET_MS = 25_000;
/** Call retry waits longer than this are scheduled as delayed deliveries instead of slept. */
const DEFAULT_SCHEDULE_RETRIES_OVER_MS = 5_000;

/** QStash's failure callback body (the fields used here). */
const FailurePayload = z.looseObject({
  status: z.number().int(),
  body: z.string().optional(),
  retried: z.number().int().optional(),
  maxRetries: z.number().int().optional(),
  sourceBody: z.string(),
  sourceMessageId: z.string().optional(),
  error: z.string().optional(),
});

/**
 * The QStash callback as a Web-standard handler. Every request must carry an `Upstash-Signature` made for
 * `callbackUrl` over the exact body (else 401, and nothing runs). The job is then performed:
 *
 * - 200 `{ executionId, status, duplicate }`: done — completed, halted, failed (a step failure is a normal
 *   result), yielded with its continuation enqueued, or a duplicate delivery that changed nothing;
 * - 200 with `busyUntil`: the execution is running under another worker's live lease; a delayed `continue`
 *   job at the lease's expiry was enqueued (one per lease), so nothing waits on QStash's retries;
 * - 200 `{ swept }` for `{ "action": "sweep" }` (a QStash schedule): the sweeper ran;
 * - 503: transient (store unreachable, follow-up not enqueued): QStash retries; the execution is unchanged;
 * - 404: unknown execution (retried: a replica may lag);
 * - 503 for a job whose action this version does not know (a newer instance's, during a rolling deploy): retried;
 * - 489 + `Upstash-NonRetryable-Error: true`: a job that can never succeed (not a job, unknown workflow, a job
 *   for another workflow, a refused answer); QStash does not retry it, and the execution is unchanged.
 *
 * See docs/async.md for the budget, timers, the stale-running takeover rule and the failure callback.
 */
export function createQStashHandler(options: QStashHandlerOptions): QStashHandler {
  const callbackUrl = checkHttpUrl(options.callbackUrl, "createQStashHandler callbackUrl (the URL QStash delivers to)");
  const failureCallbackUrl = checkHttpUrl(
    options.failureCallbackUrl ?? failureUrlOf(callbackUrl),
    "createQStashHandler failureCallbackUrl",
  );
  const receiver = options.receiver ?? receiverOf(options);
  const adapter = options.adapter ??
    (options.client ? new QStashAdapter({ client: options.client, callbackUrl, failureCallbackUrl }) : undefined);
  if (!adapter) throw new ConfigError("createQStashHandler needs an adapter (a QStashAdapter) or a client, to enqueue continuations");
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const log = toLog(options.log, options.logLevel);
  const onError = options.onError ??
    ((error: unknown, job?: Job) =>
      log.error("QStash callback failed", { ...jobFields(job), error: errorText(error), stack: stackOf(error) }));
  const perform: PerformOptions = {
    ...options,
    log,
    budgetMs: options.budgetMs ?? DEFAULT_CALLBACK_BUDGET_MS,
    scheduleRetriesOverMs: options.scheduleRetriesOverMs ?? DEFAULT_SCHEDULE_RETRIES_OVER_MS,
  };
  const clock = toClock(options.clock);
  const now = () => clock.now().getTime();

  /** Reads the body (bounded) and checks the signature against `url`; a Response when the request is refused. */
  const accept = async (request: Request, url: string): Promise<string | Response> => {
    if (request.method !== "POST") return problemResponse(405, `Use POST, not ${request.method}.`);
    const bytes = await readBodyUpTo(request, maxBodyBytes);
    if (!bytes) return problemResponse(413, `The request body is larger than ${maxBodyBytes} bytes.`);
    const body = new TextDecoder().decode(bytes);
    const signature = request.headers.get("upstash-signature");
    if (!signature) return problemResponse(401, "Missing Upstash-Signature: nothing was run.");
    try {
      if (await receiver.verify({ signature, body, url, clockTolerance: options.clockToleranceSeconds })) return body;
    } catch {
      // A forged, expired or foreign signature, or a body changed after signing: refused below.
    }
    return problemResponse(401, "Invalid Upstash-Signature: nothing was run.");
  };

  /** Enqueues what the job asks for next (see followUpsOf); returns their actions. */
  const followUps = async (job: Job, outcome: JobOutcome, messageId: string | undefined): Promise<string[]> => {
    const jobs = followUpsOf(job, outcome, now(), messageId);
    for (const next of jobs) await adapter.enqueue(next.job, next.options);
    return jobs.map((next) => next.job.action);
  };

  const runSweep = async (): Promise<Response> => {
    try {
      // The same tick as the app's ticker and Cron Trigger (with QStash as the queue, it is the sweep and the cron triggers).
      const { sweep: report, triggers } = await tick({
        store: requireStore(options.store),
        adapter,
        clock,
        ...(options.sweep ? { sweep: options.sweep } : {}),
        ...(options.triggers ? { triggers: options.triggers } : {}),
      });
      for (const failure of triggers?.failed ?? []) log.warn("cron trigger start failed", { ...failure });
      return Response.json({ swept: report!.enqueued.length, failed: report!.failed.length, triggered: triggers?.started.length ?? 0 });
    } catch (error) {
      return failed(error, undefined, onError, log);
    }
  };

  const handler = async (request: Request): Promise<Response> => {
    const body = await accept(request, callbackUrl);
    if (body instanceof Response) return body;
    const value = parseJson(body);
    if (isSweep(value)) return await runSweep();
    if (isUnknownAction(value)) {
      // A newer instance's job (a rolling deploy): retried until an instance that knows the action takes it.
      return problemResponse(503, `This instance does not know the job action "${value.action}"; the delivery will be retried.`, {
        kind: "service-unavailable",
        headers: RETRY_LATER,
      });
    }
    let job: Job;
    try {
      job = parseJob(value);
    } catch (error) {
      return invalidJob(error instanceof ValidationError ? error.issues : [{ path: "", message: "the body is not JSON" }]);
    }
    let outcome: JobOutcome;
    try {
      outcome = await performJob(job, perform);
    } catch (error) {
      if (error instanceof PermanentJobError) return invalidJob([{ path: "", message: error.message }]);
      return failed(error, job, onError, log);
    }
    log.recovered(STORE_UNAVAILABLE);
    const { result } = outcome;
    let enqueued: string[];
    try {
      enqueued = await followUps(job, outcome, request.headers.get("upstash-message-id") ?? undefined);
    } catch (error) {
      log.failure("queue-unavailable", "a follow-up job could not be enqueued: deliveries are answered 503", {
        ...jobFields(job),
        error: errorText(error),
      });
      return problemResponse(503, "The follow-up job could not be enqueued; the delivery will be retried.", {
        kind: "service-unavailable",
        headers: RETRY_LATER,
      });
    }
    log.recovered("queue-unavailable");
    return Response.json({
      executionId: job.executionId,
      status: result.status,
      duplicate: outcome.kind === "duplicate",
      ...(outcome.kind === "busy" ? { busyUntil: outcome.busyUntil } : {}),
      ...(outcome.kind !== "busy" && outcome.kind !== "duplicate" && outcome.takenOver ? { takenOver: true } : {}),
      ...(enqueued.length ? { enqueued } : {}),
    });
  };

  /**
   * QStash gave up on a job. Nothing is failed for it: a store outage is never a reason to fail an execution,
   * and a job that can never succeed was answered 489 and changed nothing. The execution stays as it was; the
   * sweeper hands it back to the queue if it still needs work.
   */
  const failure = async (request: Request): Promise<Response> => {
    const body = await accept(request, failureCallbackUrl);
    if (body instanceof Response) return body;
    const payload = FailurePayload.safeParse(parseJson(body));
    if (!payload.success) return Response.json({ ignored: "not a QStash failure callback" });
    let job: Job;
    try {
      job = parseJob(parseJson(decodeBase64(payload.data.sourceBody) ?? ""));
    } catch {
      return Response.json({ ignored: "the failed message is not a job" });
    }
    const answer = decodeBase64(payload.data.body ?? "") ?? "";
    const fate = await fateOf(job);
    const reason = `${giveUpReason(job, payload.data, answer)}; ${fate.line}`;
    if (options.onGiveUp) options.onGiveUp(reason, job);
    else log.warn(reason, { ...jobFields(job), status: fate.status });
    return Response.json({ executionId: job.executionId, abandoned: false, recoveredBy: fate.sweeper ? "sweeper" : null });
  };

  /** What becomes of a job's execution after QStash gave up: gone (nothing to do), ended, or left for the sweeper. */
  const fateOf = async (job: Job): Promise<{ status: string; line: string; sweeper: boolean }> => {
    try {
      const exec = await requireStore(options.store).load(job.executionId);
      if (!exec) return { status: "gone", line: "the execution no longer exists: nothing to do", sweeper: false };
      if (isTerminal(exec.status)) return { status: exec.status, line: `the execution is ${exec.status}: nothing to do`, sweeper: false };
      return { status: exec.status, line: `the execution is ${exec.status} and left for the sweeper`, sweeper: true };
    } catch (error) {
      return {
        status: "unknown",
        line: `the store could not say what became of the execution (${errorText(error)}): it is left for the sweeper`,
        sweeper: true,
      };
    }
  };

  return Object.assign(handler, { failure });
}

/** `"QStash gave up delivering the <action> job after <n> retries: <status> <body excerpt>"`. */
function giveUpReason(job: Job, payload: z.infer<typeof FailurePayload>, answer: string): string {
  const status = payload.status ? String(payload.status) : "no answer";
  let excerpt = payload.error ?? answer;
  const detail = parseJson(excerpt) as { detail?: unknown; error?: unknown } | undefined;
  if (detail && typeof detail.detail === "string") excerpt = detail.detail;
  else if (detail && typeof detail.error === "string") excerpt = detail.error;
  excerpt = excerpt.replace(/\s+/g, " ").trim();
  if (excerpt.length > 200) excerpt = `${excerpt.slice(0, 199)}…`;
  const retries = payload.retried ?? payload.maxRetries ?? 0;
  return `QStash gave up delivering the ${job.action} job after ${retries} ${retries === 1 ? "retry" : "retries"}: ${status}${
    excerpt ? ` ${excerpt}` : ""
  }`;
}

function isSweep(value: unknown): boolean {
  return typeof value === "object" && value !== null && (value as { action?: unknown }).action === "sweep";
}

/** The fields of a log line about a job. */
function jobFields(job: Job | undefined): Record<string, string | undefined> {
  return job ? { executionId: job.executionId, workflowId: job.workflowId, action: job.action } : {};
}

function failed(error: unknown, job: Job | undefined, onError: (error: unknown, job?: Job) => void, log: Log): Response {
  if (error instanceof StoreError) {
    log.failure(STORE_UNAVAILABLE, "the execution store is unavailable: deliveries are answered 503 and retried", {
      ...jobFields(job),
      error: errorText(error),
    });
    return problemResponse(503, "The execution store is unavailable; the delivery will be retried.", { headers: RETRY_LATER });
  }
  if (error instanceof NotFoundError) return problemResponse(404, error.message);
  onError(error, job);
  return problemResponse(500, "The job could not be performed; the delivery will be retried.");
}

function receiverOf(options: QStashHandlerOptions): Receiver {
  const { currentSigningKey, nextSigningKey } = options;
  if (typeof currentSigningKey !== "string" || !currentSigningKey || typeof nextSigningKey !== "string" || !nextSigningKey) {
    throw new ConfigError("createQStashHandler needs currentSigningKey and nextSigningKey (or a receiver)");
  }
  return new Receiver({ currentSigningKey, nextSigningKey });
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function decodeBase64(value: string): string | undefined {
  try {
    return new TextDecoder().decode(Uint8Array.from(atob(value), (c) => c.charCodeAt(0)));
  } catch {
    return undefined;
  }
}

/** 489 with `Upstash-NonRetryable-Error: true`: QStash gives up at once (a bad job never gets better). */
function invalidJob(errors: ProblemIssue[]): Response {
  return problemResponse(489, "The body is not a job this app can perform; QStash will not retry it.", {
    errors,
    headers: { "upstash-nonretryable-error": "true" },
  });
}
