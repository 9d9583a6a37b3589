import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { ConfigError, ConflictError, NotFoundError, StoreError, ValidationError } from "../src/errors.ts";
import { errorText, Log, STORE_UNAVAILABLE } from "../src/log.ts";

/**
 * Every error answer is RFC 9457 `application/problem+json`. `type` is
 * `https://durable-workflow.dev/problems/<slug>`: one stable URI per kind of problem (listed in KINDS),
 * so a client can branch on it without parsing `title` or `detail`. The URIs identify; they need not resolve.
 */
const PROBLEM_BASE = "https://durable-workflow.dev/problems/";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** `Retry-After` of the 503s: seconds a client (or QStash) should wait when the store or queue is down. */
export const RETRY_LATER: Readonly<Record<string, string>> = { "retry-after": "5" };

/** Each kind of problem: its slug, status and title. The first kind of a status is that status's default. */
const KINDS = {
  "bad-request": [400, "Bad request"],
  unauthorized: [401, "Unauthorized"],
  "not-found": [404, "Not found"],
  "method-not-allowed": [405, "Method not allowed"],
  conflict: [409, "Conflict"],
  "payload-too-large": [413, "Payload too large"],
  "unsupported-media-type": [415, "Unsupported media type"],
  "invalid-input": [422, "Invalid input"],
  // QStash's "do not retry": the body is not a job this app can perform.
  "invalid-job": [489, "Invalid job"],
  "internal-error": [500, "Internal server error"],
  "not-implemented": [501, "Not implemented"],
  "store-unavailable": [503, "Store unavailable"],
  "service-unavailable": [503, "Service unavailable"],
} as const;

type ProblemKind = keyof typeof KINDS;
type ProblemStatus = (typeof KINDS)[ProblemKind][0];

function kindOf(status: ProblemStatus): ProblemKind {
  return (Object.keys(KINDS) as ProblemKind[]).find((kind) => KINDS[kind][0] === status)!;
}

function isProblemStatus(status: number): status is ProblemStatus {
  return Object.values(KINDS).some(([known]) => known === status);
}

export interface ProblemIssue {
  path: string;
  message: string;
  line?: number;
  column?: number;
}

interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: ProblemIssue[];
}

interface ProblemOptions {
  errors?: ProblemIssue[];
  headers?: Record<string, string>;
  /** Another kind of the same status (default: the status's first kind). */
  kind?: ProblemKind;
}

/** Thrown by routes and middleware; `app.onError` turns it into the problem response. */
export class HttpProblem extends Error {
  override name = "HttpProblem";
  readonly status: ProblemStatus;
  readonly detail: string;
  readonly options: ProblemOptions;

  constructor(status: ProblemStatus, detail: string, options: ProblemOptions = {}) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.options = options;
  }

  get errors(): ProblemIssue[] | undefined {
    return this.options.errors;
  }
}

function problemBody(status: ProblemStatus, detail: string, options: ProblemOptions = {}): Problem {
  const kind = options.kind ?? kindOf(status);
  return {
    type: PROBLEM_BASE + kind,
    title: KINDS[kind][1],
    status,
    detail,
    ...(options.errors?.length ? { errors: options.errors } : {}),
  };
}

/** The one builder of problem+json answers (the app's routes and the standalone QStash handler alike). */
export function problemResponse(status: ProblemStatus, detail: string, options: ProblemOptions = {}): Response {
  return new Response(JSON.stringify(problemBody(status, detail, options)), {
    status,
    headers: { ...options.headers, "content-type": PROBLEM_CONTENT_TYPE },
  });
}

/**
 * The one place errors become HTTP answers. Messages of the library's own errors name what the client
 * sent (an execution, a workflow, an input) and are safe to show; anything unexpected is logged and
 * answered with a generic detail, never a stack trace.
 */
export function errorToResponse(error: unknown, c?: Context): Response {
  const log: Log = c?.get("app")?.log ?? fallbackLog;
  const request = c ? { method: c.req.method, path: c.req.path } : {};
  if (error instanceof HttpProblem) return problemResponse(error.status, error.detail, error.options);
  if (error instanceof ValidationError) {
    return problemResponse(422, error.message, { errors: error.issues.map(({ path, message }) => ({ path, message })) });
  }
  if (error instanceof NotFoundError) return problemResponse(404, error.message);
  if (error instanceof ConflictError) return problemResponse(409, error.message);
  if (error instanceof StoreError) {
    log.failure(STORE_UNAVAILABLE, "the execution store is unavailable: requests are answered 503", {
      error: errorText(error),
      ...request,
    });
    return problemResponse(503, "The execution store is unavailable; retry later.", { headers: RETRY_LATER });
  }
  if (error instanceof ConfigError) {
    log.error("configuration error", { error: errorText(error), ...request });
    return problemResponse(500, "The server is not configured correctly.");
  }
  if (error instanceof HTTPException) {
    // A middleware's own answer (the bearer check's problem+json).
    if (error.res) return error.getResponse();
    // Hono's own (the validator's "Malformed JSON in request body", for one): its messages are safe.
    const status = isProblemStatus(error.status) ? error.status : 500;
    if (status >= 500) {
      log.error("request failed", { error: errorText(error), stack: stackOf(error), ...request });
      return problemResponse(status, "The request could not be processed.");
    }
    return problemResponse(status, error.message || KINDS[kindOf(status)][1]);
  }
  log.error("unexpected error", { error: errorText(error), stack: stackOf(error), ...request });
  return problemResponse(500, "An unexpected error occurred.");
}

/** Used when the app's options could not be resolved (so there is no app log). */
const fallbackLog = new Log();

/** The stack of an unexpected error (one JSON field, so it stays one line). */
export function stackOf(error: unknown): string | undefined {
  return error instanceof Error ? error.stack : undefined;
}
