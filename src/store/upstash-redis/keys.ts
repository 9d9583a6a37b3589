/**
 * The key layout of the Redis store, in one table: the TypeScript key functions and the Lua ones the scripts
 * use are both generated from it. `P` (the prefix) comes first; `{name}` is a variable segment. Ids, workflow
 * ids and hashes are always the last segment, after fixed segments, so no two keys can collide.
 */
const KEY_LAYOUT = {
  /** hash: revision, status, workflowId, hash, score, head, snapshot, snapshotBytes, logBytes, leaseEnd, queue, due, dueMs, qscore. */
  execution: "exec:{id}",
  /** list: the deltas written after the snapshot, JSON text each. */
  log: "log:{id}",
  entries: "entries:{id}",
  events: "events:{id}",
  all: "idx:all",
  byWorkflow: "idx:wf:{workflowId}",
  byStatus: "idx:st:{status}",
  byStatusAndWorkflow: "idx:ws:{status}:{workflowId}",
  /** Executions carrying the label name = value (written when the execution is created; names hold no ":"). */
  byLabel: "idx:lb:{name}:{value}",
  /** hash: an execution's labels (name → value); outlives the execution until the retention sweep removes its index rows. */
  labels: "labels:{id}",
  /** halted and pending executions per definition hash, counted by definitionVersions. */
  byStatusAndHash: "idx:hs:{status}:{hash}",
  expiry: "expiry",
  /** Recovery queues: running executions by lease expiry; pending (and expiring halted) ones by wake time. */
  lease: "recover:lease",
  wake: "recover:wake",
  definition: "def:{hash}",
  /** sorted set: the workflow's definition hashes, score = the order they were stored in. */
  versions: "defs:{workflowId}",
  /** hash: workflowId → current definition hash. */
  current: "current",
  /** Events (names have no `|`; keys are `<path>=<JSON>` or `*`). string: an event id already sent. */
  eventSeen: "evseen:{id}",
  /** string: the event's JSON, kept for its lookback. */
  eventBody: "ev:{id}",
  /** sorted set: ids of the events of a name satisfying a key, score = when the lookback ends. */
  eventBuffer: "evbuf:{name}|{key}",
  /** set: executions waiting on a name with a key. */
  eventWaiters: "evwait:{name}|{key}",
  /** hash: an execution's registered wait (wait, wf, rev, names, key, match). */
  eventWaiter: "evwaiter:{id}",
  /** set: ids of the events an execution received (kept as long as they can be buffered). */
  eventsReceived: "evgot:{id}",
  /** string: `<waitId>\n<event JSON>` handed to a wait and not applied yet. */
  eventDelivery: "evdeliver:{id}",
  /** string: a trigger's cursor (epoch ms of its last started occurrence). */
  triggerCursor: "cursor:{name}",
} as const;

type Layout = typeof KEY_LAYOUT;
type Args<T extends string> = T extends `${string}{${string}}${infer Rest}` ? [string, ...Args<Rest>] : [];
export type RedisKeys = { [K in keyof Layout]: Args<Layout[K]> extends [] ? string : (...args: Args<Layout[K]>) => string };

const VARIABLE = /\{\w+\}/g;

/** The key names of one prefix. */
export function redisKeys(prefix: string): RedisKeys {
  const keys: Record<string, string | ((...args: string[]) => string)> = {};
  for (const [name, layout] of Object.entries(KEY_LAYOUT)) {
    // The fixed parts around the variables, split once: a checkpoint builds four keys, and a regex replace each
    // time was ~6 % of a commit's client-side work.
    const parts = `${prefix}:${layout}`.split(VARIABLE);
    keys[name] = parts.length > 1
      ? (...args: string[]) => {
        let key = parts[0]!;
        for (let i = 1; i < parts.length; i++) key += args[i - 1]! + parts[i]!;
        return key;
      }
      : parts[0]!;
  }
  return keys as RedisKeys;
}

/** `local function k_<name>(<variables>) return prefix .. ':…' end` for every key; `prefix` is a Lua local. */
export function luaKeyFunctions(): string {
  return Object.entries(KEY_LAYOUT).map(([name, layout]) => {
    const params = [...layout.matchAll(VARIABLE)].map((match) => match[0].slice(1, -1));
    const parts = layout.split(/(\{\w+\})/).filter(Boolean)
      .map((part) => (part.startsWith("{") ? part.slice(1, -1) : `'${part}'`));
    return `local function k_${name}(${params.join(", ")}) return prefix .. ':' .. ${parts.join(" .. ")} end`;
  }).join("\n");
}
