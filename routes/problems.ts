import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import {
  ConfigError,
  ConflictError,
  NotFoundError,
  StoreError,
  ValidationError,
} from "../src/errors.ts";

/**
 * Every error answer is RFC 9457 `application/problem+json`. `type` is
 * `https://durable-workflow.dev/problems/<slug>`: one stable URI per kind of problem (listed in SLUGS),
 * so a client can branch on it without parsing `title` or `detail`. The URIs identify; they need not resolve.
 */
export const PROBLEM_BASE = "https://durable-workflow.dev/problems/";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** Seconds a client should wait before retrying when the store is down. */
export const STORE_RETRY_AFTER_SECONDS = 5;

export const SLUGS = {
  400: "bad-request",
  401: "unauthorized",
  404: "not-found",
  405: "method-not-allowed",
  409: "conflict",
  413: "payload-too-large",
  415: "unsupported-media-type",
  422: "invalid-input",
  500: "internal-error",
  501: "not-implemented",
  503: "store-unavailable",
} as const;

export type ProblemStatus = keyof typeof SLUGS;

const TITLES: Record<ProblemStatus, string> = {
  400: "Bad request",
  401: "Unauthorized",
  404: "Not found",
  405: "Method not allowed",
  409: "Conflict",
  413: "Payload too large",
  415: "Unsupported media type",
  422: "Invalid input",
  500: "Internal server error",
  501: "Not implemented",
  503: "Store unavailable",
};

export interface ProblemIssue {
  path: string;
  message: string;
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  errors?: ProblemIssue[];
}

/** Thrown by routes and middleware; `app.onError` turns it into the problem response. */
export class HttpProblem extends Error {
  override name = "HttpProblem";
  readonly status: ProblemStatus;
  readonly detail: string;
  readonly errors?: ProblemIssue[];
  readonly headers?: Record<string, string>;

  constructor(status: ProblemStatus, detail: string, options: { errors?: ProblemIssue[]; headers?: Record<string, string> } = {}) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.errors = options.errors;
    this.headers = options.headers;
  }
}

export function problemBody(status: ProblemStatus, detail: string, errors?: ProblemIssue[]): Problem {
  return {
    type: PROBLEM_BASE + SLUGS[status],
    title: TITLES[status],
    status,
    detail,
    ...(errors && errors.length ? { errors } : {}),
  };
}

export function problemResponse(
  status: ProblemStatus,
  detail: string,
  options: { errors?: ProblemIssue[]; headers?: Record<string, string> } = {},
): Response {
  return new Response(JSON.stringify(problemBody(status, detail, options.errors)), {
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
  if (error instanceof HttpProblem) {
    return problemResponse(error.status, error.detail, { errors: error.errors, headers: error.headers });
  }
  if (error instanceof ValidationError) {
    return problemResponse(422, error.message, { errors: error.issues.map(({ path, message }) => ({ path, message })) });
  }
  if (error instanceof NotFoundError) return problemResponse(404, error.message);
  if (error instanceof ConflictError) return problemResponse(409, error.message);
  if (error instanceof StoreError) {
    console.error("durable-workflow: store unavailable:", error);
    return problemResponse(503, "The execution store is unavailable; retry later.", {
      headers: { "retry-after": String(STORE_RETRY_AFTER_SECONDS) },
    });
  }
  if (error instanceof ConfigError) {
    console.error("durable-workflow: configuration error:", error);
    return problemResponse(500, "The server is not configured correctly.");
  }
  if (error instanceof HTTPException) {
    // Hono's own (the validator's "Malformed JSON in request body", for one): its messages are safe.
    const status = (error.status in SLUGS ? error.status : 500) as ProblemStatus;
    if (status >= 500) {
      console.error("durable-workflow: request failed:", error);
      return problemResponse(status, "The request could not be processed.");
    }
    return problemResponse(status, error.message || TITLES[status]);
  }
  console.error(`durable-workflow: unexpected error on ${c ? `${c.req.method} ${c.req.path}` : "a request"}:`, error);
  return problemResponse(500, "An unexpected error occurred.");
}
