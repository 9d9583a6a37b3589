import { Receiver } from "@upstash/qstash";
import { z } from "zod";
import { ConfigError, NotFoundError, StoreError } from "../../src/errors.ts";
import { EXECUTION_ID_PATTERN } from "../../src/store/store.ts";
import type { Json } from "../../src/types.ts";
import { QStashAdapter, checkHttpUrl, failureUrlOf, type QStashClient } from "../../src/runners/adapters/qstash.ts";
import { abandonJob, approvalTimer, performJob, type Job, type JobOutcome, type PerformOptions, type QueueAdapter } from "../../src/runners/jobs.ts";
import { DEFAULT_MAX_BODY_BYTES, readBodyUpTo } from "../body.ts";
import { issuePath, problemResponse, RETRY_LATER, type ProblemIssue } from "../problems.ts";

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
  /** Told about unexpected errors (answered 500). Default: console.error. */
  onError?: (error: unknown, job?: Job) => void;
}

/** `handler(request)` performs a delivery (`POST /qstash`); `handler.failure(request)` takes QStash's failure callback. */
export type QStashHandler = ((request: Request) => Promise<Response>) & {
  failure(request: Request): Promise<Response>;
};

/** Time budget of one delivery: a run still going after this yields and continues in a new delivery. */
export const DEFAULT_CALLBACK_BUDGET_MS = 25_000;
/** Call retry waits longer than this are scheduled as delayed deliveries instead of slept. */
export const DEFAULT_SCHEDULE_RETRIES_OVER_MS = 5_000;

const WORKFLOW_ID = /^[A-Za-z0-9_-]{1,100}$/;

/** A job as the QStash adapter publishes it (unknown keys are ignored, for rolling deploys). */
export const JobSchema = z.object({
  workflowId: z.string().regex(WORKFLOW_ID, "must be 1 to 100 letters, digits, _ or -"),
  workflowVersion: z.string().max(100).optional(),
  executionId: z.string().regex(EXECUTION_ID_PATTERN, "must be 1 to 200 letters, digits and _ - . : [ ]"),
  action: z.enum(["start", "resume", "continue", "wake"]),
  response: z.json().optional(),
  approved: z.boolean().optional(),
  haltedAt: z.string().max(100).optional(),
  revision: z.number().int().min(1).optional(),
  createdAt: z.string().max(100).optional(),
  queue: z.string().min(1).max(200).optional(),
  priority: z.number().optional(),
}).refine((job) => job.action !== "wake" || job.haltedAt !== undefined, { path: ["haltedAt"], message: "a wake job needs haltedAt" });

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
 * - 503: transient (store unreachable, continuation not enqueued, execution busy under a live worker):
 *   QStash retries;
 * - 404: unknown execution (retried: a replica may lag; the failure callback then ignores it);
 * - 489 + `Upstash-NonRetryable-Error: true`: not a job; QStash does not retry it.
 *
 * See docs/async.md for the budget, timers, the stale-running takeover rule and the failure callback.
 */
export function createQStashHandler(options: QStashHandlerOptions): QStashHandler {
  const callbackUrl = checkHttpUrl(options.callbackUrl, "createQStashHandler callbackUrl (the URL QStash delivers to)");
  const failureCallbackUrl = checkHttpUrl(options.failureCallbackUrl ?? failureUrlOf(callbackUrl), "createQStashHandler failureCallbackUrl");
  const receiver = options.receiver ?? receiverOf(options);
  const adapter = options.adapter
    ?? (options.client ? new QStashAdapter({ client: options.client, callbackUrl, failureCallbackUrl }) : undefined);
  if (!adapter) throw new ConfigError("createQStashHandler needs an adapter (a QStashAdapter) or a client, to enqueue continuations");
  const maxBodyBytes = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const onError = options.onError ?? ((error: unknown) => console.error("durable-workflow: QStash callback failed:", error));
  const perform: PerformOptions = {
    ...options,
    budgetMs: options.budgetMs ?? DEFAULT_CALLBACK_BUDGET_MS,
    scheduleRetriesOverMs: options.scheduleRetriesOverMs ?? DEFAULT_SCHEDULE_RETRIES_OVER_MS,
  };
  const now = () => (options.clock?.() ?? new Date()).getTime();

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

  const followUps = async (job: Job, outcome: JobOutcome, messageId: string | undefined): Promise<string[]> => {
    const done: string[] = [];
    const base = { workflowId: job.workflowId, executionId: job.executionId, ...(job.workflowVersion ? { workflowVersion: job.workflowVersion } : {}) };
    const after = messageId ? `after-${messageId}` : undefined;
    if (outcome.continueLater) {
      const notBefore = outcome.result.notBefore;
      const delaySeconds = notBefore ? Math.max(0, (Date.parse(notBefore) - now()) / 1000) : 0;
      await adapter.enqueue({ ...base, action: "continue", ...(job.queue ? { queue: job.queue } : {}) }, { delaySeconds, key: after });
      done.push("continue");
    }
    // Also for a duplicate: the delivery that halted may have died before it set the timer (deduplicated if not).
    const timer = outcome.result.status === "halted" ? approvalTimer(outcome.result) : undefined;
    if (timer) {
      const delaySeconds = Math.max(0, (Date.parse(timer.at) - now()) / 1000);
      // A wake that came early asks for itself again: that message must not be deduplicated against its own id.
      const early = job.action === "wake" && job.haltedAt === timer.haltedAt && after;
      const key = early ? `${Date.parse(timer.at)}.${after}` : String(Date.parse(timer.at));
      await adapter.enqueue({ ...base, action: "wake", haltedAt: timer.haltedAt }, { delaySeconds, key });
      done.push("wake");
    }
    return done;
  };

  const handler = async (request: Request): Promise<Response> => {
    const body = await accept(request, callbackUrl);
    if (body instanceof Response) return body;
    const parsed = parseJob(body);
    if (!parsed.ok) return invalidJob(parsed.issues);
    const job = parsed.job;
    let outcome: JobOutcome;
    try {
      outcome = await performJob(job, perform);
    } catch (error) {
      return failed(error, job, onError);
    }
    const { result, duplicate } = outcome;
    if (outcome.busy) {
      return Response.json({ executionId: job.executionId, status: result.status, duplicate: false, busy: true }, { status: 503, headers: RETRY_LATER });
    }
    let enqueued: string[];
    try {
      enqueued = await followUps(job, outcome, request.headers.get("upstash-message-id") ?? undefined);
    } catch (error) {
      console.error("durable-workflow: QStash callback could not enqueue a follow-up job:", error);
      return problemResponse(503, "The follow-up job could not be enqueued; the delivery will be retried.", { kind: "service-unavailable", headers: RETRY_LATER });
    }
    return Response.json({
      executionId: job.executionId,
      status: result.status,
      duplicate,
      ...(outcome.takenOver ? { takenOver: true } : {}),
      ...(enqueued.length ? { enqueued } : {}),
    });
  };

  const failure = async (request: Request): Promise<Response> => {
    const body = await accept(request, failureCallbackUrl);
    if (body instanceof Response) return body;
    const payload = FailurePayload.safeParse(parseJson(body));
    if (!payload.success) return Response.json({ ignored: "not a QStash failure callback" });
    const parsed = parseJob(decodeBase64(payload.data.sourceBody) ?? "");
    if (!parsed.ok) return Response.json({ ignored: "the failed message is not a job" });
    const job = parsed.job;
    const answer = decodeBase64(payload.data.body ?? "") ?? "";
    if (payload.data.status === 503 && (parseJson(answer) as { busy?: unknown } | undefined)?.busy === true) {
      // Its last delivery found the execution running under a live worker, which owns it: nothing was lost.
      return Response.json({ executionId: job.executionId, abandoned: false, ignored: "the execution was busy under another delivery" });
    }
    const reason = giveUpReason(job, payload.data, answer);
    try {
      const { result, abandoned } = await abandonJob(job, reason, perform);
      return Response.json({ executionId: job.executionId, status: result?.status ?? "unknown", abandoned });
    } catch (error) {
      return failed(error, job, onError);
    }
  };

  return Object.assign(handler, { failure });
}

/** `"QStash gave up delivering the <action> job after <n> retries: <status> <body excerpt>"`. */
function giveUpReason(job: Job, payload: z.infer<typeof FailurePayload>, answer: string): string {
  const status = payload.status ? String(payload.status) : "no answer";
  let excerpt = payload.error ?? answer;
  const detail = (parseJson(excerpt) as { detail?: unknown; error?: unknown } | undefined);
  if (detail && typeof detail.detail === "string") excerpt = detail.detail;
  else if (detail && typeof detail.error === "string") excerpt = detail.error;
  excerpt = excerpt.replace(/\s+/g, " ").trim();
  if (excerpt.length > 200) excerpt = `${excerpt.slice(0, 199)}…`;
  const retries = payload.retried ?? payload.maxRetries ?? 0;
  return `QStash gave up delivering the ${job.action} job after ${retries} ${retries === 1 ? "retry" : "retries"}: ${status}${excerpt ? ` ${excerpt}` : ""}`;
}

function failed(error: unknown, job: Job, onError: (error: unknown, job?: Job) => void): Response {
  if (error instanceof StoreError) {
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


type Parsed = { ok: true; job: Job } | { ok: false; issues: ProblemIssue[] };

function parseJob(body: string): Parsed {
  const value = parseJson(body);
  if (value === undefined) return { ok: false, issues: [{ path: "", message: "the body is not JSON" }] };
  const result = JobSchema.safeParse(value);
  if (result.success) {
    const { response, ...rest } = result.data;
    return { ok: true, job: { ...rest, ...(response !== undefined ? { response: response as Json } : {}) } };
  }
  return { ok: false, issues: result.error.issues.map((i) => ({ path: issuePath(i.path), message: i.message })) };
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
