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
