/**
 * The stored form of an execution, shared by every store: a small head written whole with every commit, and
 * a body kept as a snapshot plus an append-only log of deltas. A load folds snapshot + deltas; the log is
 * compacted into a new snapshot once it has grown as large as the snapshot, so the bytes written over a run
 * stay linear in what the run produced.
 */
import { ValidationError } from "../errors.ts";
import { setOwn } from "../json.ts";
export { utf8Length } from "../json.ts";
import {
  type Entry,
  ENTRY_ACTIONS,
  type Execution,
  EXECUTION_BODY_FIELDS,
  type ExecutionBodyField,
  type ExecutionDelta,
  type ExecutionHead,
  type LoopCursor,
} from "../types.ts";
import { assertEntryOf, assertExecutionId, type Commit, createdAtScore } from "./store.ts";
import { checkShape, EntrySchema, ExecutionHeadSchema } from "../schemas.ts";

export type ExecutionBody = Pick<Execution, ExecutionBodyField>;

/**
 * Checks what every store checks before writing anything (the head's fields and the entries against their schemas;
 * the body's values are checked when they are serialized); returns the index score (createdAt in ms).
 */
export function checkCommit(commit: Commit): number {
  const { execution, expectedRevision } = commit;
  assertExecutionId(execution?.id);
  const what = `Execution ${JSON.stringify(execution.id)}`;
  checkShape(ExecutionHeadSchema, execution, what, "execution");
  if (expectedRevision !== undefined && (!Number.isSafeInteger(expectedRevision) || expectedRevision < 0)) {
    throw new ValidationError(`Invalid expectedRevision ${expectedRevision} for execution ${JSON.stringify(execution.id)}`);
  }
  for (const entry of commit.entries ?? []) {
    assertEntryOf(entry, execution.id);
    if (!plainEntry(entry)) checkShape(EntrySchema, entry, `${what}: entry ${JSON.stringify(entry.id)}`, "entry");
  }
  return createdAtScore(execution);
}

const ACTIONS: ReadonlySet<unknown> = new Set(ENTRY_ACTIONS);

/**
 * True for an entry whose fields all have the types EntrySchema asks for (anything it accepts): a run's final commit
 * carries one entry per step, and a schema pass over each cost more than the rest of the commit. Any other entry
 * goes through the schema, for its error. (`executionId` was compared with the execution's, already checked.)
 */
function plainEntry(entry: Entry): boolean {
  return typeof entry === "object" && !Array.isArray(entry) && typeof entry.id === "string" && typeof entry.stepId === "string" &&
    typeof entry.stepType === "string" && ACTIONS.has(entry.action) && Number.isSafeInteger(entry.attempt) &&
    Number.isFinite(entry.durationMs) && entry.output !== undefined && (entry.error === null || typeof entry.error === "string") &&
    typeof entry.timestamp === "string" && (entry.actor === undefined || typeof entry.actor === "string");
}

/** The head of an execution (every field but the body's), as a new object. */
export function headOf(execution: Execution): ExecutionHead {
  const head = { ...execution } as Partial<Execution>;
  for (const field of EXECUTION_BODY_FIELDS) delete head[field];
  return head as ExecutionHead;
}

export function bodyOf(execution: Execution): ExecutionBody {
  return Object.fromEntries(EXECUTION_BODY_FIELDS.map((field) => [field, execution[field]])) as ExecutionBody;
}

/** Applies one delta to a body in place (the body is the loader's own copy). */
export function applyDelta(body: ExecutionBody, delta: ExecutionDelta): void {
  if (delta.set) { for (const key of Object.keys(delta.set)) setOwn(body.ctx, key, delta.set[key]!); }
  if (delta.unset) { for (const key of delta.unset) delete body.ctx[key]; }
  if (delta.input !== undefined) body.input = delta.input;
  if (delta.result !== undefined) body.result = delta.result;
  if (delta.haltData !== undefined) body.haltData = delta.haltData;
  if (delta.loop !== undefined) {
    const loop = delta.loop;
    if (loop === null || "before" in loop) body.loop = loop as LoopCursor | null;
    else if (body.loop) {
      body.loop.index = loop.index;
      body.loop.outputs.push(...loop.append);
    }
  }
}

/** Folds a snapshot and the deltas after it into the execution, with the head's fields on top. */
export function foldExecution(head: ExecutionHead, snapshot: ExecutionBody, deltas: Iterable<ExecutionDelta>): Execution {
  for (const delta of deltas) applyDelta(snapshot, delta);
  return { ...upgradeHead(head), ...snapshot } as Execution;
}

/** True when the log has grown as large as the snapshot: the next commit rewrites the snapshot instead. */
export function compactionDue(snapshotBytes: number, logBytes: number): boolean {
  return logBytes >= snapshotBytes;
}

/**
 * Fields that executions (whole records or heads) stored by earlier versions lack: `leaseUntil`, `wakeAt` (a scheduled retry kept its
 * time as `retry.notBefore`), `answer`, `visits`, `epoch`, `pinned`, `labels`,
 * `compensations`, `compensating`, `compensated`. Applied on every load, so old records run on unchanged.
 */
export function upgradeHead<T extends Partial<Execution>>(record: T): T {
  const out = { ...record } as T & { retry?: (Execution["retry"] & { notBefore?: string }) | null };
  if (out.leaseUntil === undefined) out.leaseUntil = null;
  if (out.wakeAt === undefined) out.wakeAt = out.retry?.notBefore ?? null;
  if (out.answer === undefined) out.answer = null;
  if (out.visits === undefined) out.visits = {};
  if (out.epoch === undefined) out.epoch = 0;
  if (out.pinned === undefined) out.pinned = null;
  if (out.labels === undefined) out.labels = {};
  if (out.compensations === undefined) out.compensations = [];
  if (out.compensating === undefined) out.compensating = null;
  if (out.compensated === undefined) out.compensated = null;
  if (out.retry && "notBefore" in out.retry) {
    const { notBefore: _moved, ...retry } = out.retry;
    out.retry = retry;
  }
  return out;
}

/** JSON text of a stored value; a value that is not JSON is a ValidationError naming it. */
export function serialize(value: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new ValidationError(`${what} is not JSON-serializable: ${(error as Error).message}`);
  }
  if (typeof text !== "string") throw new ValidationError(`${what} is not JSON-serializable`);
  return text;
}
