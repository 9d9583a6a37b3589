/** Every error the library throws on purpose extends this class; `name` is stable. */
export class DurableWorkflowError extends Error {
  override name = "DurableWorkflowError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** Misuse of the library's configuration: no store, no adapter, unknown workflow in a registry. */
export class ConfigError extends DurableWorkflowError {
  override name = "ConfigError";
}

export interface ValidationIssue {
  path: string;
  message: string;
  line?: number;
  column?: number;
}

/** A definition or an input that breaks the rules; `issues` lists every problem found, each with its path. */
export class ValidationError extends DurableWorkflowError {
  override name = "ValidationError";
  readonly issues: ValidationIssue[];
  constructor(message: string, issues: ValidationIssue[] = []) {
    super(issues.length ? `${message}: ${issues.map(formatIssue).join("; ")}` : message);
    this.issues = issues;
  }
}

function formatIssue(issue: ValidationIssue): string {
  const at = issue.line ? ` (line ${issue.line}, column ${issue.column ?? 1})` : "";
  return issue.path ? `${issue.path}: ${issue.message}${at}` : `${issue.message}${at}`;
}

/** A step failed while running (a bad reference value, a service error, a rejected approval...). */
export class ExecutionError extends DurableWorkflowError {
  override name = "ExecutionError";
  readonly stepId?: string;
  constructor(message: string, options?: { stepId?: string; cause?: unknown }) {
    super(message, options);
    this.stepId = options?.stepId;
  }
}

/** A time limit passed: a call attempt's `timeout`, or the workflow's deadline. */
export class TimeoutError extends ExecutionError {
  override name = "TimeoutError";
}

/** The workflow's own deadline passed: fails the execution whatever the step's `on_error` says (its name stays "TimeoutError"). */
export class WorkflowTimeoutError extends TimeoutError {}

/** A compare-and-set lost: another worker saved or claimed the execution first, or it is not in the expected status. */
export class ConflictError extends DurableWorkflowError {
  override name = "ConflictError";
}

/**
 * A worker's claim on a running execution ran out (by its own clock) or another worker took it over: the worker
 * stops without starting another side effect, and its next commit would be refused anyway.
 */
export class LeaseLostError extends ConflictError {
  override name = "LeaseLostError";
}

/** An unknown execution or workflow. */
export class NotFoundError extends DurableWorkflowError {
  override name = "NotFoundError";
}

/** The store could not be reached or answered garbage: transient, the caller may retry. */
export class StoreError extends DurableWorkflowError {
  override name = "StoreError";
}

/** `"<ErrorName>: <message>"`, the one error text format of executions, entries, results and events. */
export function errorText(error: unknown): string {
  if (error instanceof Error) return `${error.name || "Error"}: ${error.message}`;
  return `Error: ${String(error)}`;
}

/**
 * Thrown by a service (or by an `http` step for a final answer such as a 404): the step fails at once, whatever
 * attempts it has left; its `on_error` still applies.
 */
export class NonRetryableError extends DurableWorkflowError {
  override name = "NonRetryableError";
}

/**
 * Thrown by a service (or by an `http` step for a 429 or 503 with `Retry-After`): the next attempt waits `seconds`
 * instead of the step's backoff — durably, as a delayed job, when the wait is longer than the engine sleeps in process.
 * Without attempts left the step fails with this error.
 */
export class RetryAfterError extends DurableWorkflowError {
  override name = "RetryAfterError";
  readonly seconds: number;
  constructor(seconds: number, message?: string, options?: { cause?: unknown }) {
    if (typeof seconds !== "number" || !Number.isFinite(seconds) || seconds < 0) {
      throw new TypeError(`RetryAfterError needs a finite number of seconds >= 0, got ${String(seconds)}`);
    }
    super(message ?? `Retry after ${seconds}s`, options);
    this.seconds = seconds;
  }
}
