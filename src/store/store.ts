import { ConflictError, ValidationError } from "../errors.ts";
import { assertExecutionId, checkLabels, EXECUTION_ID_PATTERN } from "../ids.ts";
import type { SentEvent } from "../expressions/events.ts";
export { EXECUTION_STATUSES } from "../types.ts";
import {
  type Entry,
  type Execution,
  EXECUTION_STATUSES,
  type ExecutionDelta,
  type ExecutionHead,
  type ExecutionStatus,
  type JsonObject,
  type StoredEvent,
} from "../types.ts";

/**
 * One atomic checkpoint: the head of the execution, what its body changed, and the entries and events it
 * produced. Stores write the head whole (it is small) and append `delta` to the execution's log; they write
 * the whole body (a snapshot) only when the execution is created, when no delta is given, or to compact the log
 * once it has grown as large as the snapshot. So a step costs what it changed, not the whole history.
 */
export interface Commit {
  /** The execution after this commit. Its head fields are written; its body is read only to write a snapshot. */
  execution: Execution;
  /**
   * Compare-and-set on `revision`: 0 creates (ConflictError if the id exists), n succeeds only if the
   * stored revision is n (ConflictError otherwise, nothing written). Omitted: unconditional.
   */
  expectedRevision?: number;
  /** What the body changed since the stored revision. Omitted: the body is written whole. */
  delta?: ExecutionDelta;
  entries?: Entry[];
  events?: StoredEvent[];
  /** A definition to keep under its hash (pinning), written only if that hash is not stored yet. */
  definition?: StoredDefinition;
  /**
   * Compare-and-set on the workflow's current version: the commit is refused (CurrentVersionChangedError, nothing
   * written) unless the hash the store has as the current version of `execution.workflowId` is this one. So a new run
   * is saved on the version its caller last knew to be current without reading it first.
   */
  currentHash?: string;
  /**
   * The lease a `running` execution is claimed for (ms): the store keeps when it ends by its own clock (Redis: the
   * server's time), for `takeover`. Omitted: no lease by the store's clock (only `leaseUntil`).
   */
  leaseMs?: number;
  /**
   * A takeover of a `running` execution: refused (ConflictError, nothing written) while its lease is live by the
   * store's clock — the Redis server's time; the MemoryStore, whose process has one clock, compares the stored
   * `leaseUntil` with the committed `updatedAt` — never by comparing two machines' clocks.
   */
  takeover?: boolean;
  /**
   * The execution halts waiting for events: in the same atomic step the store looks for one already sent (within
   * its lookback, not received by this execution yet) and, finding none, registers the execution as a waiter.
   */
  wait?: EventWait;
}

/** A commit refused by its `currentHash`: another version of the workflow is current now (nothing was written). */
export class CurrentVersionChangedError extends ConflictError {
  override name = "CurrentVersionChangedError";
  constructor(workflowId: string, expected: string) {
    super(`The current version of workflow "${workflowId}" is no longer ${expected.slice(0, 12)}`);
  }
}

/** A run waiting for events (a `wait_for_event` halt). */
export interface EventWait {
  /** Tells this wait apart from the execution's other waits (kept when the same halt is stored again). */
  waitId: string;
  events: string[];
  /** `matchKey(match)`: where the waiter is indexed (the same for every name). */
  key: string;
  /** The resolved match, evaluated by the caller for unindexed waiters. */
  match: JsonObject | null;
}

/** What a commit came to. */
export interface CommitResult {
  revision: number;
  /** With `wait`: an event already sent that matches (indexed), now received by this execution (not registered). */
  event?: SentEvent;
  /** With an unindexed `wait`: the events sent within their lookback that the caller must evaluate (registered). */
  candidates?: SentEvent[];
}

/** A waiting execution that received an event: resume it at `revision` with the event. */
export interface EventDelivery {
  executionId: string;
  workflowId: string;
  revision: number;
}

/** A waiting execution whose match the store does not index: deliver with `claimEvent` if the match holds. */
export interface EventCandidate extends EventDelivery {
  waitId: string;
  match: JsonObject | null;
}

export interface SendEventOptions {
  /** `payloadKeys(payload)`: the index keys the event satisfies. */
  keys: string[];
  /** How long the event is kept for runs that start waiting later, from `event.sentAt`. */
  lookbackMs: number;
  /** How long its id is remembered (a second send with it delivers nothing). */
  dedupMs: number;
}

export interface SendEventResult {
  /** The id was sent before: nothing was done. */
  duplicate: boolean;
  /** Indexed waiters that received it (each removed from the waiters, atomically). */
  delivered: EventDelivery[];
  /** Unindexed waiters of its name. */
  candidates: EventCandidate[];
}

/**
 * A claim made with the load (Store.claim): taken only when the execution is `pending` with nothing to wait for
 * (no `wakeAt`, no flow-control mark, no compensation) and runs on `workflowHash`, a definition the caller knows to
 * need no admission; the claim is then what a first checkpoint's would be: `running` at the next revision, `updatedAt`
 * = `at`, `leaseUntil`, and the lease's end by the store's clock (`leaseMs`).
 */
export interface ClaimRequest {
  workflowHash: string;
  /** ISO-8601: the caller's time now. */
  at: string;
  /** ISO-8601: `at` + `leaseMs`. */
  leaseUntil: string;
  leaseMs: number;
}

/** What Store.claim read: the execution as it was before the claim, and the revision of the claim when it was taken. */
export interface Claimed {
  execution: Execution;
  revision?: number;
}

/** `execution`, as claimed by the store with `request` (the fields Store.claim writes, its revision `revision`). */
export function claimedAs(execution: Execution, request: ClaimRequest, revision: number): Execution {
  return { ...execution, status: "running", revision, updatedAt: request.at, leaseUntil: request.leaseUntil, wakeAt: null };
}

/** Store.claim's rule: the execution may be claimed with its load (see ClaimRequest). */
export function claimable(execution: Execution, request: ClaimRequest): boolean {
  return execution.status === "pending" && execution.workflowHash === request.workflowHash && !execution.wakeAt &&
    !execution.compensating && !execution.flow;
}

/** What a heartbeat renews: the claim (the revision it was made at) and the lease's new end. */
export interface Lease {
  revision: number;
  /** The lease's length (ms), counted by the store's clock from when the renewal arrives. */
  leaseMs: number;
  /** ISO-8601. */
  leaseUntil: string;
}

export interface FindQuery {
  workflowId?: string;
  status?: ExecutionStatus;
  /** Executions carrying every one of these labels (name → value). */
  labels?: Record<string, string>;
  /** ISO times: `createdAt` / `updatedAt` at or after `…From` and before `…To`. */
  createdFrom?: string;
  createdTo?: string;
  updatedFrom?: string;
  updatedTo?: string;
  /** Default 50, at most 1000; applied after filtering. */
  limit?: number;
  /** Opaque cursor from a previous page. */
  cursor?: string;
}

export interface FindResult {
  /** The heads of the executions (no input, ctx, result, halt data or loop cursor). */
  executions: ExecutionHead[];
  /** Present when there may be more results. */
  cursor?: string;
}

/** An execution the sweeper should hand to a worker again (see `Store.recoverable`). */
export interface Recoverable {
  id: string;
  workflowId: string;
  status: "pending" | "running" | "halted";
  revision: number;
  /** The time that made it due: the lease's expiry (running), or `wakeAt` / the last checkpoint (pending, halted). */
  dueAt: string;
}

export interface RecoverableQuery {
  /** The store's notion of now (the engine's clock). */
  now: Date;
  /** A `pending` execution is due once `wakeAt` (or, without one, its last checkpoint) is this much in the past;
   *  a `halted` one once its `wakeAt` (approval expiry) is. */
  graceMs: number;
  /** Each returned execution is not returned again for this long (so overlapping sweeps enqueue it once). */
  claimMs: number;
  /** Default 100, at most 1000. */
  limit?: number;
}

/** A workflow definition kept in the store under its content hash. */
export interface StoredDefinition {
  workflowId: string;
  version: string;
  hash: string;
  /** The source it was loaded from (YAML or JSON text); `loadWorkflow(source)` gives back the same hash. */
  source: string;
  /** ISO time it was first stored. */
  storedAt: string;
  /** Who stored it with `PUT /workflows/:id` (an API token's name); absent for a definition given in code. */
  storedBy?: string;
}

/** One stored version of a workflow, for `GET /workflows/:id/versions`. */
export interface DefinitionVersion {
  workflowId: string;
  version: string;
  hash: string;
  storedAt: string;
  storedBy?: string;
  current: boolean;
  /** Executions halted or pending on this version now. */
  halted: number;
  pending: number;
}

/**
 * Where executions and definitions live. Every method hands out copies, never shared objects.
 * Every commit stores revision = previous + 1 (a new record gets 1).
 */
export interface Store {
  /** Writes the head, appends the delta, entries and events, and moves index rows, all or nothing. */
  commit(commit: Commit): Promise<CommitResult>;
  /**
   * A worker's heartbeat: moves the lease of a `running` execution to `leaseUntil`, without a new revision, only
   * while it is still `running` at `revision` (else ConflictError, nothing written: another worker took it over,
   * or it was cancelled). One request.
   */
  renew(id: string, lease: Lease): Promise<void>;
  /** `commit({ execution, expectedRevision })` (a whole snapshot); returns the stored copy. */
  save(execution: Execution, options?: { expectedRevision?: number }): Promise<Execution>;
  /** One request: the snapshot and the deltas after it, folded. Executions stored by older versions load too. */
  load(id: string): Promise<Execution | null>;
  /**
   * `load`, and in the same atomic request the claim of a `pending` execution that `request` allows (see ClaimRequest):
   * a compare-and-set on what it reads. Null when there is no such execution. Optional: without it, a worker loads,
   * then claims with its first checkpoint.
   */
  claim?(id: string, request: ClaimRequest): Promise<Claimed | null>;
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
  /**
   * One request per page: `running` executions whose lease has expired, `pending` ones whose `wakeAt` (else last
   * checkpoint) is older than `graceMs`, and `halted` ones whose `wakeAt` is older than `graceMs`; each is
   * claimed for `claimMs` (not returned again meanwhile). Most overdue first.
   */
  recoverable(query: RecoverableQuery): Promise<Recoverable[]>;
  /**
   * Keeps a definition under its hash (if that hash is not stored yet) and, with `current: true`, makes it the
   * workflow's current version. `stored`: the hash was new; `current`: it is the current version now.
   */
  putDefinition(definition: StoredDefinition, options?: { current?: boolean }): Promise<{ stored: boolean; current: boolean }>;
  /** The definition stored under this hash, or null. */
  definition(hash: string): Promise<StoredDefinition | null>;
  /** The workflow's current version, or null when none was made current. */
  currentDefinition(workflowId: string): Promise<StoredDefinition | null>;
  /** Every stored version of a workflow, oldest first, with how many executions wait on each. */
  definitionVersions(workflowId: string): Promise<DefinitionVersion[]>;
  /** Ids of the workflows that have a current version, sorted. */
  workflowIds(): Promise<string[]>;
  /**
   * Sends an event, in one atomic step: remembers its id, keeps it for the lookback, and hands it to every indexed
   * waiter whose key it satisfies (each at most once: it is removed from the waiters, its execution is put in the
   * recovery queue as due, and `eventDelivery` gives the event to the wait's next halt). Unindexed waiters are listed.
   */
  sendEvent(event: SentEvent, options: SendEventOptions): Promise<SendEventResult>;
  /** Hands an event to one waiter (an unindexed one whose match held): null when it is no longer waiting for this wait. */
  claimEvent(executionId: string, waitId: string, event: SentEvent): Promise<EventDelivery | null>;
  /**
   * The cursor of a trigger (epoch ms of its last started occurrence) moves to `at` if it is behind, atomically:
   * `moved` tells the one caller that moved it; `previous` is where it was (null: never set). Kept beyond retention.
   */
  advanceCursor(name: string, at: number): Promise<{ moved: boolean; previous: number | null }>;
}

/** How an execution's body is stored now (both stores have `footprint(id)`; not part of Store). */
export interface StoreFootprint {
  /** UTF-8 bytes of the snapshot, and of the deltas logged after it. */
  snapshotBytes: number;
  logBytes: number;
  deltas: number;
}

/** Most events kept per execution; older ones are dropped first. */
export const MAX_EVENTS_PER_EXECUTION = 1000;

export { assertExecutionId, EXECUTION_ID_PATTERN } from "../ids.ts";

// ---- Helpers shared by the store implementations (validation at the boundary, cursor format) ----

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
interface CursorPosition {
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

/** A find's filters, checked (ValidationError naming the bad one), with the time bounds in ms and as ISO text. */
export interface FindFilters {
  status?: ExecutionStatus;
  labels: [string, string][];
  /** createdAt bounds in ms: from inclusive, to exclusive (-Infinity / Infinity when absent). */
  createdFrom: number;
  createdTo: number;
  /** updatedAt bounds as ISO text (toISOString: compared as text), "" when absent. */
  updatedFrom: string;
  updatedTo: string;
}

export function findFilters(query: FindQuery): FindFilters {
  if (query.status !== undefined) assertStatus(query.status);
  const time = (name: "createdFrom" | "createdTo" | "updatedFrom" | "updatedTo") => {
    const value = query[name];
    if (value === undefined) return undefined;
    const ms = typeof value === "string" ? Date.parse(value) : NaN;
    if (!Number.isFinite(ms)) {
      throw new ValidationError(`Invalid ${name}`, [{ path: name, message: `must be an ISO 8601 time, got ${JSON.stringify(value)}` }]);
    }
    return ms;
  };
  const iso = (ms: number | undefined) => (ms === undefined ? "" : new Date(ms).toISOString());
  return {
    ...(query.status !== undefined ? { status: query.status } : {}),
    labels: Object.entries(query.labels === undefined ? {} : checkLabels(query.labels, "label filter")),
    createdFrom: time("createdFrom") ?? -Infinity,
    createdTo: time("createdTo") ?? Infinity,
    updatedFrom: iso(time("updatedFrom")),
    updatedTo: iso(time("updatedTo")),
  };
}

/** True when a head passes the filters other than workflow and status. */
export function matchesFilters(head: ExecutionHead, score: number, filters: FindFilters): boolean {
  return score >= filters.createdFrom && score < filters.createdTo &&
    (!filters.updatedFrom || head.updatedAt >= filters.updatedFrom) &&
    (!filters.updatedTo || head.updatedAt < filters.updatedTo) &&
    filters.labels.every(([name, value]) => Object.hasOwn(head.labels ?? {}, name) && head.labels[name] === value);
}

export function assertStatus(status: unknown): asserts status is ExecutionStatus {
  if (!EXECUTION_STATUSES.includes(status as ExecutionStatus)) {
    throw new ValidationError(`Invalid execution status ${JSON.stringify(status)}: use one of ${EXECUTION_STATUSES.join(", ")}`);
  }
}

/** Definition hashes: what a content hash is made of (they become the last segment of a key). */
const DEFINITION_HASH_PATTERN = /^[A-Za-z0-9_\-.:]{1,200}$/;

export function assertDefinitionHash(hash: unknown): asserts hash is string {
  if (typeof hash !== "string" || !DEFINITION_HASH_PATTERN.test(hash)) {
    throw new ValidationError(`Invalid definition hash ${JSON.stringify(hash)}: use 1 to 200 letters, digits and _ - . :`);
  }
}

/** Throws a ValidationError unless the definition has a workflowId, a version, a valid hash, its source and storedAt. */
export function assertDefinition(definition: StoredDefinition): void {
  const { workflowId, version, hash, source, storedAt } = definition ?? ({} as StoredDefinition);
  assertDefinitionHash(hash);
  for (const [name, value] of [["workflowId", workflowId], ["version", version], ["source", source]] as const) {
    if (typeof value !== "string" || (name !== "source" && value === "")) {
      throw new ValidationError(`Definition ${hash} has an invalid ${name}`);
    }
  }
  if (typeof storedAt !== "string" || !Number.isFinite(Date.parse(storedAt))) {
    throw new ValidationError(`Definition ${hash} has an invalid storedAt ${JSON.stringify(storedAt)}`);
  }
}

/** One row of `definitionVersions`: the stored definition's facts, whether it is current, and the runs waiting on it. */
export function definitionVersion(
  stored: StoredDefinition,
  currentHash: string | undefined,
  waiting: { halted: number; pending: number },
): DefinitionVersion {
  const { workflowId, version, hash, storedAt, storedBy } = stored;
  return { workflowId, version, hash, storedAt, ...(storedBy ? { storedBy } : {}), current: hash === currentHash, ...waiting };
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

/** Throws a ValidationError unless the lease names a revision ≥ 1 and a valid time. */
export function assertLease(id: string, lease: Lease): void {
  assertExecutionId(id);
  if (
    !Number.isSafeInteger(lease?.revision) || lease.revision < 1 || !Number.isFinite(Date.parse(lease.leaseUntil)) ||
    !(lease.leaseMs > 0)
  ) {
    throw new ValidationError(
      `Invalid lease ${JSON.stringify(lease)} for execution ${JSON.stringify(id)}: { revision ≥ 1, leaseUntil: ISO time, leaseMs > 0 }`,
    );
  }
}

/** The ConflictError of a refused renewal: the execution moved on (another revision) or is no longer running. */
export function renewRefused(id: string, expected: number, actual: number, status: string | undefined): ConflictError {
  if (actual !== expected) return conflictError(id, expected, actual);
  return new ConflictError(`Execution ${JSON.stringify(id)} is ${status ?? "gone"}, not running: its lease cannot be renewed`);
}

/** The ConflictError of a takeover refused because the lease is still live by the store's clock. */
export function liveLease(id: string, msLeft: number): ConflictError {
  return new ConflictError(
    `Execution ${JSON.stringify(id)} is running under a live lease for ${Math.ceil(msLeft)} ms more (by the store's clock)`,
  );
}

/** The ConflictError of a lost compare-and-set: names the execution and both revisions. */
export function conflictError(id: string, expected: number, actual: number): ConflictError {
  const why = actual === 0 ? " (it does not exist)" : expected === 0 ? " (it already exists)" : "";
  return new ConflictError(
    `Execution ${JSON.stringify(id)} was changed by someone else: expected revision ${expected}, actual revision ${actual}${why}`,
  );
}
