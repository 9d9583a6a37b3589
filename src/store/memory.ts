import { NotFoundError } from "../errors.ts";
import { cloneJson, copyPlain, isPlainObject } from "../json.ts";
import type { Entry, Execution, ExecutionDelta, ExecutionHead, ExecutionStatus, Json, JsonObject, StoredEvent } from "../types.ts";
import { bodyOf, checkCommit, compactionDue, foldExecution, headOf, serialize, utf8Length } from "./format.ts";
import { assertSentEvent, type SentEvent } from "../expressions/events.ts";
import { MemoryEvents } from "./memory-events.ts";
import { type FlowAcquire, type FlowAdmission, FlowBook, type FlowKeyState, type FlowRelease, type FlowStore } from "./flow.ts";
import { byOverdue, claimedScore, recoveryOf, type RecoveryRow, sweepBounds } from "./recovery.ts";
import {
  assertDefinition,
  assertDefinitionHash,
  assertExecutionId,
  assertLease,
  claimable,
  type Claimed,
  claimedAs,
  type ClaimRequest,
  type Commit,
  type CommitResult,
  conflictError,
  CurrentVersionChangedError,
  decodeCursor,
  type DefinitionVersion,
  definitionVersion,
  encodeCursor,
  type EventDelivery,
  findFilters,
  findLimit,
  type FindQuery,
  type FindResult,
  isAfterCursor,
  type Lease,
  liveLease,
  matchesFilters,
  MAX_EVENTS_PER_EXECUTION,
  type Recoverable,
  type RecoverableQuery,
  renewRefused,
  type SendEventOptions,
  type SendEventResult,
  type Store,
  type StoredDefinition,
  type StoreFootprint,
} from "./store.ts";

interface Row {
  /** The store's own copy, revision included. */
  head: ExecutionHead;
  score: number;
  /** The body as JSON text, and the deltas after it, as the Redis store keeps them. */
  snapshot: string;
  snapshotBytes: number;
  log: string[];
  logBytes: number;
  /** History: the store's own copies (copied again when read), oldest first. */
  entries: Entry[];
  /** The newest events (the newest MAX_EVENTS_PER_EXECUTION are read), copies as the entries are, oldest first. */
  events: StoredEvent[];
  recovery: RecoveryRow | null;
}

/** Statuses counted per definition hash (DefinitionVersion.halted / .pending). */
const WAITING: readonly ExecutionStatus[] = ["halted", "pending"];

/**
 * Keeps everything in Maps, for tests and zero-setup local runs. Same semantics and the same stored form as the
 * Redis store: a head, a JSON snapshot plus a log of JSON deltas, compare-and-set on the revision, atomic commits,
 * copies in and out (history and events are kept as copies, not as JSON text: a run's final commit carries one entry
 * per step, and copying them costs a fraction of serializing them). Nothing survives the process.
 */
export class MemoryStore implements Store, FlowStore {
  readonly #rows = new Map<string, Row>();
  /** The rows oldest first (createdAt, then id), kept in order as they come: a find reads from the end, sorting nothing. */
  readonly #order: Row[] = [];
  /** hash → the store's copy of the definition (its fields are strings: a shallow copy is a copy). */
  readonly #definitions = new Map<string, StoredDefinition>();
  /** workflowId → its hashes, in the order they were stored. */
  readonly #versions = new Map<string, string[]>();
  readonly #current = new Map<string, string>();
  /** "<status> <hash>" → ids of the executions on that version in that status (halted, pending). */
  readonly #waiting = new Map<string, Set<string>>();
  readonly #events = new MemoryEvents({
    head: (id) => this.#rows.get(id)?.head,
    due: (id, at) => {
      const row = this.#rows.get(id);
      if (row) row.recovery = { queue: "wake", score: at, dueAt: new Date(at).toISOString() };
    },
  });
  readonly #flow = new FlowBook((id) => this.#rows.get(id)?.head.status);

  async flowAcquire(request: FlowAcquire): Promise<FlowAdmission> {
    return await this.#flow.flowAcquire(request);
  }

  async flowRelease(request: FlowRelease): Promise<string[]> {
    return await this.#flow.flowRelease(request);
  }

  async flowDebounce(request: { workflowId: string; key: string; executionId: string; expected?: string }): Promise<string> {
    return await this.#flow.flowDebounce(request);
  }

  async flowState(workflowId: string, now: number): Promise<FlowKeyState[]> {
    return await this.#flow.flowState(workflowId, now);
  }

  async commit(commit: Commit): Promise<CommitResult> {
    const score = checkCommit(commit);
    const { execution, expectedRevision, delta } = commit;
    const row = this.#rows.get(execution.id);
    const actual = row?.head.revision ?? 0;
    if (expectedRevision !== undefined && expectedRevision !== actual) {
      throw conflictError(execution.id, expectedRevision, actual);
    }
    const leaseLeft = row?.head.status === "running" && row.head.leaseUntil
      ? Date.parse(row.head.leaseUntil) - Date.parse(execution.updatedAt)
      : 0;
    if (commit.takeover && leaseLeft > 0) throw liveLease(execution.id, leaseLeft);
    if (commit.currentHash !== undefined && this.#current.get(execution.workflowId) !== commit.currentHash) {
      throw new CurrentVersionChangedError(execution.workflowId, commit.currentHash);
    }
    // Everything is copied before anything is written, so a value that is not JSON writes nothing.
    const what = `Execution ${JSON.stringify(execution.id)}`;
    const head = cloneJson({ ...headOf(execution), revision: actual + 1 });
    const deltaText = row && delta ? serialize(delta, `The delta of ${what}`) : undefined;
    const deltaBytes = deltaText === undefined ? 0 : utf8Length(deltaText);
    const snapshot = !row || deltaText === undefined || compactionDue(row.snapshotBytes, row.logBytes + deltaBytes)
      ? serialize(bodyOf(execution), what)
      : undefined;
    const entries = commit.entries?.length ? copyEntries(commit.entries) : undefined;
    const events = commit.events?.length ? copyEvents(commit.events, commit.entries ?? [], entries ?? []) : undefined;
    const recovery = recoveryOf(head);
    if (commit.definition) assertDefinition(commit.definition);

    const next: Row = row ??
      {
        head,
        score,
        snapshot: "",
        snapshotBytes: 0,
        log: [],
        logBytes: 0,
        entries: [],
        events: [],
        recovery,
      };
    if (row) this.#moveWaiting(row.head, false);
    if (row && row.score !== score) this.#unorder(row);
    next.head = head;
    if (!row || row.score !== score) this.#place(next, score);
    next.score = score;
    next.recovery = recovery;
    if (snapshot !== undefined) {
      next.snapshot = snapshot;
      next.snapshotBytes = utf8Length(snapshot);
      next.log = [];
      next.logBytes = 0;
    } else {
      next.log.push(deltaText!);
      next.logBytes += deltaBytes;
    }
    if (entries) next.entries = append(next.entries, entries);
    if (events) {
      next.events = append(next.events, events);
      // Trimmed once it holds twice the cap, not at every commit: a commit does not move the whole list.
      if (next.events.length >= 2 * MAX_EVENTS_PER_EXECUTION) next.events.splice(0, next.events.length - MAX_EVENTS_PER_EXECUTION);
    }
    this.#rows.set(execution.id, next);
    this.#moveWaiting(head, true);
    if (commit.definition) this.#keepDefinition(commit.definition);
    if (commit.wait && head.status === "halted") {
      const found = this.#events.wait(head.id, head.workflowId, head.revision, commit.wait, Date.parse(head.updatedAt));
      return { revision: head.revision, ...found };
    }
    return { revision: head.revision };
  }

  async renew(id: string, lease: Lease): Promise<void> {
    assertLease(id, lease);
    const row = this.#rows.get(id);
    const actual = row?.head.revision ?? 0;
    if (!row || actual !== lease.revision || row.head.status !== "running") {
      throw renewRefused(id, lease.revision, actual, row?.head.status);
    }
    row.head.leaseUntil = lease.leaseUntil;
    row.recovery = recoveryOf(row.head);
  }

  async save(execution: Execution, options: { expectedRevision?: number } = {}): Promise<Execution> {
    const { revision } = await this.commit({ execution, expectedRevision: options.expectedRevision });
    return cloneJson({ ...execution, revision });
  }

  // deno-lint-ignore require-await
  async load(id: string): Promise<Execution | null> {
    return this.#load(id);
  }

  #load(id: string): Execution | null {
    assertExecutionId(id);
    const row = this.#rows.get(id);
    if (!row) return null;
    return foldExecution(cloneJson(row.head), JSON.parse(row.snapshot), row.log.map((text) => JSON.parse(text) as ExecutionDelta));
  }

  async claim(id: string, request: ClaimRequest): Promise<Claimed | null> {
    const execution = this.#load(id);
    if (!execution || !claimable(execution, request)) return execution && { execution };
    // Started before any other turn of the event loop: the read and the compare-and-set are one atomic step.
    const claimed = claimedAs(execution, request, execution.revision);
    const { revision } = await this.commit({ execution: claimed, expectedRevision: execution.revision, leaseMs: request.leaseMs });
    return { execution, revision };
  }

  /** How the execution's body is stored now, or null when it does not exist. */
  footprint(id: string): Promise<StoreFootprint | null> {
    const row = this.#rows.get(id);
    return Promise.resolve(row ? { snapshotBytes: row.snapshotBytes, logBytes: row.logBytes, deltas: row.log.length } : null);
  }

  async record(entry: Entry): Promise<void> {
    assertExecutionId(entry?.executionId);
    const row = this.#rows.get(entry.executionId);
    if (!row) throw new NotFoundError(`Execution ${JSON.stringify(entry.executionId)} not found: cannot record an entry`);
    row.entries = append(row.entries, copyOf([entry], "An entry"));
  }

  async entries(executionId: string): Promise<Entry[]> {
    assertExecutionId(executionId);
    return copyOf(this.#rows.get(executionId)?.entries ?? [], "The entries");
  }

  async events(executionId: string, options: { after?: number } = {}): Promise<StoredEvent[]> {
    assertExecutionId(executionId);
    const after = options.after ?? 0;
    const kept = (this.#rows.get(executionId)?.events ?? []).slice(-MAX_EVENTS_PER_EXECUTION);
    return copyOf(kept.filter((event) => event.seq > after), "The events");
  }

  async find(query: FindQuery = {}): Promise<FindResult> {
    const filters = findFilters(query);
    const limit = findLimit(query.limit);
    const position = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const page = this.#newest(
      query.workflowId,
      query.status,
      limit + 1,
      (row) => (!position || isAfterCursor(row.score, row.head.id, position)) && matchesFilters(row.head, row.score, filters),
    );
    const more = page.length > limit;
    if (more) page.pop();
    const last = page.at(-1);
    return {
      executions: page.map((row) => cloneJson(row.head)),
      ...(more && last ? { cursor: encodeCursor({ score: last.score, id: last.head.id }) } : {}),
    };
  }

  async delete(id: string): Promise<boolean> {
    assertExecutionId(id);
    const row = this.#rows.get(id);
    if (row) {
      this.#moveWaiting(row.head, false);
      this.#unorder(row);
    }
    this.#events.forget(id);
    return this.#rows.delete(id);
  }

  async executionIds(query: { workflowId?: string; limit?: number } = {}): Promise<string[]> {
    const limit = query.limit === undefined ? Infinity : findLimit(query.limit);
    return this.#newest(query.workflowId, undefined, limit, () => true).map((row) => row.head.id);
  }

  async recoverable(query: RecoverableQuery): Promise<Recoverable[]> {
    const { due, claimMs, limit } = sweepBounds(query);
    const found: { id: string; overdue: number; row: Row }[] = [];
    for (const row of this.#rows.values()) {
      const recovery = row.recovery;
      if (recovery && recovery.score <= due[recovery.queue]) {
        found.push({ id: row.head.id, overdue: due[recovery.queue] - recovery.score, row });
      }
    }
    return found.sort(byOverdue).slice(0, limit).map(({ row }) => {
      const recovery = row.recovery!;
      recovery.score = claimedScore(due[recovery.queue], claimMs);
      const { id, workflowId, status, revision } = row.head;
      return { id, workflowId, status: status as Recoverable["status"], revision, dueAt: recovery.dueAt };
    });
  }

  async sendEvent(event: SentEvent, options: SendEventOptions): Promise<SendEventResult> {
    assertSentEvent(event);
    return this.#events.send(event, options);
  }

  async claimEvent(executionId: string, waitId: string, event: SentEvent): Promise<EventDelivery | null> {
    assertExecutionId(executionId);
    assertSentEvent(event);
    return this.#events.claim(executionId, waitId, event, Date.parse(event.sentAt));
  }

  async advanceCursor(name: string, at: number): Promise<{ moved: boolean; previous: number | null }> {
    return this.#events.advanceCursor(name, at);
  }

  async putDefinition(definition: StoredDefinition, options: { current?: boolean } = {}): Promise<{ stored: boolean; current: boolean }> {
    assertDefinition(definition);
    const stored = this.#keepDefinition(definition);
    if (options.current) this.#current.set(definition.workflowId, definition.hash);
    return { stored, current: this.#current.get(definition.workflowId) === definition.hash };
  }

  async definition(hash: string): Promise<StoredDefinition | null> {
    assertDefinitionHash(hash);
    const stored = this.#definitions.get(hash);
    return stored === undefined ? null : { ...stored };
  }

  async currentDefinition(workflowId: string): Promise<StoredDefinition | null> {
    const hash = this.#current.get(workflowId);
    return hash === undefined ? null : this.definition(hash);
  }

  async definitionVersions(workflowId: string): Promise<DefinitionVersion[]> {
    const current = this.#current.get(workflowId);
    return (this.#versions.get(workflowId) ?? []).map((hash) => {
      const stored = this.#definitions.get(hash)!;
      const count = (status: ExecutionStatus) => this.#waiting.get(`${status} ${hash}`)?.size ?? 0;
      return definitionVersion({ ...stored, workflowId }, current, { halted: count("halted"), pending: count("pending") });
    });
  }

  async workflowIds(): Promise<string[]> {
    return [...this.#current.keys()].sort();
  }

  /** Stores a copy of the definition under its hash unless that hash is stored already; true when it was new. */
  #keepDefinition(definition: StoredDefinition): boolean {
    if (this.#definitions.has(definition.hash)) return false;
    this.#definitions.set(definition.hash, { ...definition });
    const versions = this.#versions.get(definition.workflowId) ?? [];
    versions.push(definition.hash);
    this.#versions.set(definition.workflowId, versions);
    return true;
  }

  /** Adds the execution to (or removes it from) the count of its version in its status. */
  #moveWaiting(head: ExecutionHead, add: boolean): void {
    if (!WAITING.includes(head.status)) return;
    const key = `${head.status} ${head.workflowHash}`;
    const ids = this.#waiting.get(key) ?? new Set<string>();
    if (add) ids.add(head.id);
    else ids.delete(head.id);
    if (ids.size) this.#waiting.set(key, ids);
    else this.#waiting.delete(key);
  }

  /** Up to `limit` rows of the workflow and status that `accept` takes, newest first (createdAt desc, then id desc). */
  #newest(workflowId: string | undefined, status: ExecutionStatus | undefined, limit: number, accept: (row: Row) => boolean): Row[] {
    const found: Row[] = [];
    for (let i = this.#order.length - 1; i >= 0 && found.length < limit; i--) {
      const row = this.#order[i]!;
      if (
        (workflowId === undefined || row.head.workflowId === workflowId) && (status === undefined || row.head.status === status) &&
        accept(row)
      ) {
        found.push(row);
      }
    }
    return found;
  }

  /** Where a row with this score goes in #order: after every row older than it (most often the end: a new execution is the newest). */
  #indexOf(score: number, id: string): number {
    let low = 0;
    let high = this.#order.length;
    while (low < high) {
      const middle = (low + high) >>> 1;
      const row = this.#order[middle]!;
      if (row.score < score || (row.score === score && row.head.id < id)) low = middle + 1;
      else high = middle;
    }
    return low;
  }

  #place(row: Row, score: number): void {
    this.#order.splice(this.#indexOf(score, row.head.id), 0, row);
  }

  #unorder(row: Row): void {
    const at = this.#indexOf(row.score, row.head.id);
    if (this.#order[at] === row) this.#order.splice(at, 1);
  }
}

/** `list` with `added` at its end (in place: `added` itself when `list` is empty). */
function append<T>(list: T[], added: T[]): T[] {
  if (!list.length) return added;
  for (const item of added) list.push(item);
  return list;
}

/**
 * The store's copies of the newest MAX_EVENTS_PER_EXECUTION of a commit's events (field by field, as copyEntries does).
 * A step's output is in its entry and in its step.completed event, in the same order: walking both from the end, an
 * event's output that is the entry's (a few entries back at most from the last one found) shares the entry's copy.
 */
function copyEvents(events: StoredEvent[], given: Entry[], copied: Entry[]): StoredEvent[] {
  const start = Math.max(0, events.length - MAX_EVENTS_PER_EXECUTION);
  const copies = new Array<StoredEvent>(events.length - start);
  const shared = { given, copies: copied, at: given.length - 1 };
  for (let i = events.length - 1; i >= start; i--) {
    const event = events[i]!;
    const data = copyData(event.data, shared);
    const { seq, type, timestamp } = event;
    if (
      data === undefined || !Number.isFinite(seq) || typeof type !== "string" || typeof timestamp !== "string" ||
      keyCount(event, EVENT_KEYS) !== EVENT_KEYS.length
    ) {
      return copyOf(events.slice(start), "The events");
    }
    copies[i - start] = { seq: seq + 0, type, data, timestamp };
  }
  return copies;
}

/** A copy of JSON values: copyPlain's when they are plain data, else the JSON round trip's (its rules, its errors). */
function copyOf<T>(values: T[], what: string): T[] {
  return (copyPlain(values) ?? JSON.parse(serialize(values, what))) as T[];
}

/** The fields of an entry, in the order a run writes them (then `actor`, when set). */
const ENTRY_KEYS = ["id", "executionId", "stepId", "stepType", "action", "attempt", "durationMs", "output", "error", "timestamp", "actor"];
/** The fields of an event, in the order a run writes them. */
const EVENT_KEYS = ["seq", "type", "data", "timestamp"];

/**
 * The store's copies of a commit's entries (checkCommit has checked their fields). An entry with the run's keys in the
 * run's order is copied field by field (one object shape: several times faster than a copy key by key); any other,
 * by copyOf.
 */
function copyEntries(entries: Entry[]): Entry[] {
  const copies: Entry[] = [];
  for (const entry of entries) {
    const output = Array.isArray(entry.output)
      ? copyItems(entry.output, { given: entries, copies, at: copies.length - 1 })
      : copyPlain(entry.output);
    const { id, executionId, stepId, stepType, action, attempt, durationMs, error, timestamp, actor } = entry;
    if (output === undefined || !Number.isFinite(attempt + durationMs) || keyCount(entry, ENTRY_KEYS) < ENTRY_KEYS.length - 1) {
      return copyOf(entries, "The entries");
    }
    // `+ 0`: -0 becomes 0, as through JSON.
    const kept: Entry = {
      id,
      executionId,
      stepId,
      stepType,
      action,
      attempt: attempt + 0,
      durationMs: durationMs + 0,
      output,
      error,
      timestamp,
    };
    if (actor !== undefined) kept.actor = actor;
    copies.push(kept);
  }
  return copies;
}

/**
 * How many keys of `value` are the first of `expected`, in order; -1 when it has another (for...in, which walks a
 * cached list of an object shape's keys: Object.keys would allocate one per object).
 */
function keyCount(value: object, expected: readonly string[]): number {
  let count = 0;
  for (const key in value) if (key !== expected[count++]) return -1;
  return count;
}

/** The copy of `value`: the entry's, when it is the output of one of the few entries before `at` (which then moves past it). */
function sharedCopy(value: unknown, shared: { given: Entry[]; copies: Entry[]; at: number }): Json | undefined {
  if (value === null || typeof value !== "object") return copyPlain(value);
  for (let i = shared.at; i >= 0 && i > shared.at - 4; i--) {
    if (shared.given[i]!.output === value) {
      shared.at = i - 1;
      return shared.copies[i]!.output;
    }
  }
  return copyPlain(value);
}

/** An array output's copy, its items that are the outputs of the entries before (a loop's, its body's) sharing their copies. */
function copyItems(items: Json[], shared: Parameters<typeof sharedCopy>[1]): Json[] | undefined {
  const copy = new Array<Json>(items.length);
  for (let i = items.length - 1; i >= 0; i--) {
    const item = sharedCopy(items[i], shared);
    if (item === undefined) return undefined;
    copy[i] = item;
  }
  return copy;
}

const STEP_DATA = ["executionId", "stepId", "stepType", "output"];

/** An event's data: a step's (its output's copy shared with the entry's) field by field, any other by copyPlain. */
function copyData(data: JsonObject, shared: Parameters<typeof sharedCopy>[1]): JsonObject | undefined {
  const keys = isPlainObject(data) ? keyCount(data, STEP_DATA) : -1;
  const { executionId, stepId, stepType } = data ?? {};
  if (keys < STEP_DATA.length - 1 || typeof executionId !== "string" || typeof stepId !== "string" || typeof stepType !== "string") {
    return copyPlain(data) as JsonObject | undefined;
  }
  if (keys === 3) return { executionId, stepId, stepType };
  const output = sharedCopy(data.output, shared);
  return output === undefined ? undefined : { executionId, stepId, stepType, output };
}
