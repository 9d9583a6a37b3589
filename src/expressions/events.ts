/**
 * Events that move runs from outside: their names, how a waiting run's `match` is indexed, and how a payload is
 * matched. An equality on `event.<path>` with a scalar value is indexed under `<path>=<JSON value>`; the sender
 * lists the same keys for every scalar leaf of its payload, so the store finds the waiters without a scan.
 */
import { z } from "zod";
import { ValidationError } from "../errors.ts";
import { isPlainObject } from "../json.ts";
import type { Json } from "../types.ts";
import { type Condition, conditionSchema, evaluateCondition } from "./conditions.ts";

export const EVENT_NAME_PATTERN = /^[A-Za-z0-9_\-.:]{1,100}$/;
export const EVENT_NAME_RULE = "must be 1 to 100 letters, digits and _ - . :";
export const eventNameSchema: z.ZodString = z.string().regex(EVENT_NAME_PATTERN, EVENT_NAME_RULE);

/** Event ids (deduplication): the execution id rules without `[ ]`, up to 200 characters. */
export const EVENT_ID_PATTERN = /^[A-Za-z0-9_\-.:]{1,200}$/;
export const EVENT_ID_RULE = "must be 1 to 200 letters, digits and _ - . :";

/** A `match` condition: its `field` is `event` or a path under it. */
export const eventMatchSchema = conditionSchema.refine((c) => c.field === "event" || c.field.startsWith("event."), {
  message: "a match's field must be `event` or start with `event.` (the arriving payload)",
  path: ["field"],
});

/** The key of waiters whose match is not indexed (evaluated when an event of their name arrives). */
export const UNINDEXED = "*";
/** Payload leaves deeper than this are not indexed (a match on one is evaluated instead). */
const MAX_INDEXED_DEPTH = 4;
/** A value whose JSON is longer is not indexed. */
const MAX_INDEXED_VALUE = 200;
/** Most scalar leaves (up to MAX_INDEXED_DEPTH) an event payload may have. */
const MAX_PAYLOAD_LEAVES = 1000;

/** An event as the store keeps it and a waiting run receives it. */
export interface SentEvent {
  name: string;
  id: string;
  payload: Json;
  /** ISO time it was sent: its lookback window counts from here. */
  sentAt: string;
  /** Who sent it (an API token's name), when known. */
  actor?: string;
}

function isScalar(value: Json): boolean {
  return value === null || typeof value !== "object";
}

function indexKey(path: string, value: Json): string | null {
  const text = JSON.stringify(value);
  return text.length > MAX_INDEXED_VALUE ? null : `${path}=${text}`;
}

/** The index key of a (resolved) match, or UNINDEXED. */
export function matchKey(match: Condition | null | undefined): string {
  if (!match || (match.op ?? "eq") !== "eq" || match.value === undefined || !isScalar(match.value as Json)) return UNINDEXED;
  const path = match.field === "event" ? "" : match.field.slice("event.".length);
  const segments = path === "" ? [] : path.split(".");
  if (segments.length > MAX_INDEXED_DEPTH || segments.some((s) => s === "" || /^\d+$/.test(s))) return UNINDEXED;
  return indexKey(path, match.value as Json) ?? UNINDEXED;
}

/** The index keys of a payload: one per scalar leaf reachable through plain objects, up to MAX_INDEXED_DEPTH. */
export function payloadKeys(payload: Json): string[] {
  const keys: string[] = [];
  let leaves = 0;
  const walk = (value: Json, path: string, depth: number) => {
    if (isScalar(value)) {
      if (++leaves > MAX_PAYLOAD_LEAVES) throw new RangeError(`more than ${MAX_PAYLOAD_LEAVES} fields`);
      const key = indexKey(path, value);
      if (key) keys.push(key);
    } else if (isPlainObject(value) && depth < MAX_INDEXED_DEPTH) {
      for (const [name, child] of Object.entries(value)) {
        if (name !== "" && !name.includes(".") && !/^\d+$/.test(name)) walk(child, path === "" ? name : `${path}.${name}`, depth + 1);
      }
    }
  };
  walk(payload, "", 0);
  return keys;
}

/** Does the payload satisfy the match (a resolved condition on `event`)? No match: every payload does. */
export function eventMatches(match: Condition | null | undefined, payload: Json): boolean {
  if (!match) return true;
  return evaluateCondition(match, { input: {}, ctx: { event: payload }, now: () => new Date(0) });
}

/** Throws a ValidationError unless the event has a valid name, id and send time (stores check at their boundary). */
export function assertSentEvent(event: SentEvent): void {
  if (!EVENT_NAME_PATTERN.test(event?.name)) {
    throw new ValidationError(`Invalid event name ${JSON.stringify(event?.name)}: it ${EVENT_NAME_RULE}`);
  }
  if (!EVENT_ID_PATTERN.test(event.id)) throw new ValidationError(`Invalid event id ${JSON.stringify(event.id)}: it ${EVENT_ID_RULE}`);
  if (!Number.isFinite(Date.parse(event.sentAt))) throw new ValidationError(`Invalid event time ${JSON.stringify(event.sentAt)}`);
}
