import { ConflictError, ValidationError } from "../errors.ts";
import type { Entry, Execution, ExecutionStatus, StoredEvent } from "../types.ts";

/** One atomic checkpoint: the new execution state, plus the entries and events it produced. */
export interface Commit {
  execution: Execution;
  /**
   * Compare-and-set on `revision`: 0 creates (ConflictError if the id exists), n succeeds only if the
   * stored revision is n (ConflictError otherwise, nothing written). Omitted: unconditional.
   */
  expectedRevision?: number;
  entries?: Entry[];
  events?: StoredEvent[];
}

export interface FindQuery {
  workflowId?: string;
  status?: ExecutionStatus;
  /** Default 50, at most 1000; applied after filtering. */
  limit?: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface FindResult {
  executions: Execution[];
  /** Present when there may be more results. */
  cursor?: string;
}

/**
 * Where executions live. Every method hands out copies, never shared objects.
 * Every save stores revision = previous + 1 (a new record gets 1).
 */
export interface Store {
  /** Saves, appends entries and events, and moves index rows, all or nothing. Returns the stored copy. */
  commit(commit: Commit): Promise<Execution>;
  /** `commit({ execution, expectedRevision })`. */
  save(execution: Execution, options?: { expectedRevision?: number }): Promise<Execution>;
  load(id: string): Promise<Execution | null>;
  /** Appends one history entry (no revision check). */
  record(entry: Entry): Promise<void>;
  entries(executionId: string): Promise<Entry[]>;
  /** Stored events with `seq > after`, in order. */
  events(executionId: string, options?: { after?: number }): Promise<StoredEvent[]>;
  /** Newest first (by createdAt, then id). */
  find(query?: FindQuery): Promise<FindResult>;
  /** Removes the execution, its entries, events and index rows; false when it did not exist. */
  delete(id: string): Promise<boolean>;
  executionIds(query?: { workflowId?: string; limit?: number }): Promise<string[]>;
}

/** Most events kept per execution; older ones are dropped first. */
export const MAX_EVENTS_PER_EXECUTION = 1000;

/** Execution ids: letters, digits and `_ - . : [ ]` (child and loop ids use `:` and `[i]`), 1..200 chars. */
export const EXECUTION_ID_PATTERN = /^[A-Za-z0-9_\-.:\[\]]{1,200}$/;

// ---- Helpers shared by the store implementations (validation at the boundary, cursor format) ----


/** Throws a ValidationError naming `id` unless it matches EXECUTION_ID_PATTERN. */
export function assertExecutionId(id: unknown, what = "execution id"): asserts id is string {
  if (typeof id !== "string" || !EXECUTION_ID_PATTERN.test(id)) {
    throw new ValidationError(
      `Invalid ${what} ${JSON.stringify(id)}: use 1 to 200 letters, digits and _ - . : [ ]`,
    );
  }
}

/** Sort key of an execution in every index: createdAt in epoch milliseconds. */
export function createdAtScore(execution: Execution): number {
  const ms = Date.parse(execution.createdAt);
  if (!Number.isFinite(ms)) {
    throw new ValidationError(`Execution ${JSON.stringify(execution.id)} has an invalid createdAt ${JSON.stringify(execution.createdAt)}`);
  }
  return ms;
}

/** `limit` of a find: default 50, at most 1000, a positive integer. */
export function findLimit(limit: number | undefined, fallback = 50): number {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || limit < 1) throw new ValidationError(`Invalid limit ${limit}: must be a positive integer`);
  return Math.min(limit, 1000);
}

/** Position after the last row of a page: (createdAt ms, id) of that row. */
export interface CursorPosition {
  score: number;
  id: string;
}

export function encodeCursor(position: CursorPosition): string {
  return btoa(JSON.stringify([position.score, position.id])).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

export function decodeCursor(cursor: string): CursorPosition {
  try {
    const padded = cursor.replace(/-/g, "+").replace(/_/g, "/");
    const [score, id] = JSON.parse(atob(padded + "=".repeat((4 - (padded.length % 4)) % 4)));
    if (Number.isSafeInteger(score) && typeof id === "string" && EXECUTION_ID_PATTERN.test(id)) return { score, id };
  } catch {
    // reported below
  }
  throw new ValidationError(`Invalid cursor ${JSON.stringify(cursor)}`);
}

/** True when the row (score, id) comes after `position` in newest-first order (createdAt desc, then id desc). */
export function isAfterCursor(score: number, id: string, position: CursorPosition): boolean {
  return score < position.score || (score === position.score && id < position.id);
}

export const EXECUTION_STATUSES: readonly ExecutionStatus[] = ["pending", "running", "halted", "completed", "failed"];

export function assertStatus(status: unknown): asserts status is ExecutionStatus {
  if (!EXECUTION_STATUSES.includes(status as ExecutionStatus)) {
    throw new ValidationError(`Invalid execution status ${JSON.stringify(status)}: use one of ${EXECUTION_STATUSES.join(", ")}`);
  }
}

/** Entries of a commit must belong to the committed execution. */
export function assertEntryOf(entry: Entry, executionId: string): Entry {
  if (entry?.executionId !== executionId) {
    throw new ValidationError(
      `Entry ${JSON.stringify(entry?.id)} belongs to execution ${JSON.stringify(entry?.executionId)}, not ${JSON.stringify(executionId)}`,
    );
  }
  return entry;
}

/** The ConflictError of a lost compare-and-set: names the execution and both revisions. */
export function conflictError(id: string, expected: number, actual: number): ConflictError {
  const why = actual === 0 ? " (it does not exist)" : expected === 0 ? " (it already exists)" : "";
  return new ConflictError(
    `Execution ${JSON.stringify(id)} was changed by someone else: expected revision ${expected}, actual revision ${actual}${why}`,
  );
}
