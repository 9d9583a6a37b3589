/**
 * Which executions the recovery sweep may hand out again, kept the same way by every store: each one sits in
 * one of two queues. `lease`: a running execution, due once its lease has expired. `wake`: due once its time
 * is `graceMs` in the past: a pending or halted execution at its due time (`dueAt`: a wait's end, an approval's
 * expiry, an answer waiting), a running one stored without a lease (its last checkpoint).
 */
import { ValidationError } from "../errors.ts";
import { dueAt, type ExecutionHead } from "../types.ts";
import { findLimit, type RecoverableQuery } from "./store.ts";

type RecoveryQueue = "lease" | "wake";

export interface RecoveryRow {
  queue: RecoveryQueue;
  /** Epoch ms of the time below, or of a claim (see `claimedScore`). */
  score: number;
  /** The time that makes it due (Recoverable.dueAt). */
  dueAt: string;
}

/** The queue an execution belongs in after a commit, or null (completed, failed, cancelled, halted with no due time). */
export function recoveryOf(head: ExecutionHead): RecoveryRow | null {
  const due = (queue: RecoveryQueue, dueAt: string): RecoveryRow => {
    const score = Date.parse(dueAt);
    if (!Number.isFinite(score)) {
      throw new ValidationError(`Execution ${JSON.stringify(head.id)} has an invalid time ${JSON.stringify(dueAt)}`);
    }
    return { queue, score, dueAt };
  };
  if (head.status === "running") return head.leaseUntil ? due("lease", head.leaseUntil) : due("wake", head.updatedAt);
  const at = dueAt(head);
  return at ? due("wake", at) : null;
}

/** The checked numbers of a sweep: `due[queue]` is the highest score that is due now. */
export function sweepBounds(query: RecoverableQuery): { due: Record<RecoveryQueue, number>; claimMs: number; limit: number } {
  const now = query?.now instanceof Date ? query.now.getTime() : NaN;
  if (!Number.isFinite(now)) throw new ValidationError("recoverable needs { now } as a valid Date");
  for (const [name, value] of [["graceMs", query.graceMs], ["claimMs", query.claimMs]] as const) {
    if (!Number.isFinite(value) || value < 0) throw new ValidationError(`Invalid ${name} ${value}: a number of milliseconds ≥ 0`);
  }
  return { due: { lease: now, wake: now - query.graceMs }, claimMs: query.claimMs, limit: findLimit(query.limit, 100) };
}

/** A claimed row is due again `claimMs` after now: its score moves to the queue's bound + claimMs. */
export function claimedScore(due: number, claimMs: number): number {
  return due + claimMs;
}

/** Most overdue first (how far the score lies below its queue's bound), then by id. */
export function byOverdue<T extends { id: string; overdue: number }>(a: T, b: T): number {
  return b.overdue - a.overdue || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
}
