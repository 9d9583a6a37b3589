import { NotFoundError, ValidationError } from "../errors.ts";
import { cloneJson } from "../json.ts";
import type { Entry, Execution, ExecutionStatus, StoredEvent } from "../types.ts";
import {
  assertEntryOf,
  assertExecutionId,
  assertStatus,
  type Commit,
  conflictError,
  createdAtScore,
  decodeCursor,
  encodeCursor,
  type FindQuery,
  type FindResult,
  findLimit,
  isAfterCursor,
  MAX_EVENTS_PER_EXECUTION,
  type Store,
} from "./store.ts";

interface Row {
  execution: Execution;
  score: number;
  entries: Entry[];
  events: StoredEvent[];
}

/**
 * Keeps everything in a Map, for tests and zero-setup local runs. Same semantics as the Redis store:
 * revisions with compare-and-set, atomic commits, copies in and out. Nothing survives the process.
 */
export class MemoryStore implements Store {
  readonly #rows = new Map<string, Row>();

  async commit(commit: Commit): Promise<Execution> {
    const { execution, expectedRevision } = commit;
    assertExecutionId(execution?.id);
    assertStatus(execution.status);
    if (typeof execution.workflowId !== "string" || execution.workflowId === "") {
      throw new ValidationError(`Execution ${JSON.stringify(execution.id)} has no workflowId`);
    }
    const score = createdAtScore(execution);
    const entries = (commit.entries ?? []).map((entry) => assertEntryOf(entry, execution.id));
    const events = commit.events ?? [];
    // Copies are made before anything is written, so a value that cannot be cloned writes nothing.
    const copy = cloneJson(execution);
    const entryCopies = cloneJson(entries);
    const eventCopies = cloneJson(events);

    const row = this.#rows.get(execution.id);
    const actual = row?.execution.revision ?? 0;
    if (expectedRevision !== undefined && expectedRevision !== actual) {
      throw conflictError(execution.id, expectedRevision, actual);
    }
    copy.revision = actual + 1;
    const next: Row = row ?? { execution: copy, score, entries: [], events: [] };
    next.execution = copy;
    next.score = score;
    next.entries.push(...entryCopies);
    next.events.push(...eventCopies);
    if (next.events.length > MAX_EVENTS_PER_EXECUTION) {
      next.events.splice(0, next.events.length - MAX_EVENTS_PER_EXECUTION);
    }
    this.#rows.set(execution.id, next);
    return cloneJson(copy);
  }

  save(execution: Execution, options: { expectedRevision?: number } = {}): Promise<Execution> {
    return this.commit({ execution, expectedRevision: options.expectedRevision });
  }

  async load(id: string): Promise<Execution | null> {
    assertExecutionId(id);
    const row = this.#rows.get(id);
    return row ? cloneJson(row.execution) : null;
  }

  async record(entry: Entry): Promise<void> {
    assertExecutionId(entry?.executionId);
    const row = this.#rows.get(entry.executionId);
    if (!row) throw new NotFoundError(`Execution ${JSON.stringify(entry.executionId)} not found: cannot record an entry`);
    row.entries.push(cloneJson(entry));
  }

  async entries(executionId: string): Promise<Entry[]> {
    assertExecutionId(executionId);
    return cloneJson(this.#rows.get(executionId)?.entries ?? []);
  }

  async events(executionId: string, options: { after?: number } = {}): Promise<StoredEvent[]> {
    assertExecutionId(executionId);
    const after = options.after ?? 0;
    const events = this.#rows.get(executionId)?.events ?? [];
    return cloneJson(events.filter((event) => event.seq > after));
  }

  async find(query: FindQuery = {}): Promise<FindResult> {
    if (query.status !== undefined) assertStatus(query.status);
    const limit = findLimit(query.limit);
    const position = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const rows = this.#sorted(query.workflowId, query.status)
      .filter((row) => !position || isAfterCursor(row.score, row.execution.id, position));
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return {
      executions: page.map((row) => cloneJson(row.execution)),
      ...(rows.length > limit && last ? { cursor: encodeCursor({ score: last.score, id: last.execution.id }) } : {}),
    };
  }

  async delete(id: string): Promise<boolean> {
    assertExecutionId(id);
    return this.#rows.delete(id);
  }

  async executionIds(query: { workflowId?: string; limit?: number } = {}): Promise<string[]> {
    const limit = query.limit === undefined ? Infinity : findLimit(query.limit);
    return this.#sorted(query.workflowId, undefined).slice(0, limit).map((row) => row.execution.id);
  }

  /** Rows matching the filters, newest first (createdAt desc, then id desc). */
  #sorted(workflowId: string | undefined, status: ExecutionStatus | undefined): Row[] {
    return [...this.#rows.values()]
      .filter((row) => (workflowId === undefined || row.execution.workflowId === workflowId) &&
        (status === undefined || row.execution.status === status))
      .sort((a, b) => b.score - a.score || (a.execution.id < b.execution.id ? 1 : a.execution.id > b.execution.id ? -1 : 0));
  }
}
