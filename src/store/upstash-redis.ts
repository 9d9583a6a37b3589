/**
 * Upstash Redis store (@upstash/redis, HTTP). Key layout, with `P` = the prefix (default "dw"):
 *
 *   P:exec:<id>             hash   revision, status, workflowId, json (the execution as JSON text, revision
 *                                  included); the one key per execution
 *   P:entries:<id>          list   history entries, JSON text each, in order
 *   P:events:<id>           list   stored events, JSON text each, in seq order, trimmed to the newest 1000
 *   P:idx:all               zset   every execution     score = createdAt (epoch ms), member = id
 *   P:idx:wf:<workflowId>   zset   by workflow         (same score and member)
 *   P:idx:st:<status>       zset   by status
 *   P:idx:ws:<status>:<wf>  zset   by status and workflow, so a find with both filters is one range read
 *   P:expiry                zset   terminal executions: member "<status> <id> <workflowId>", score = when
 *                                  their keys expire (epoch ms, store clock)
 *
 * The id (or workflow id) is always the last segment after a fixed type segment, and execution ids cannot
 * contain a space (EXECUTION_ID_PATTERN), so no two keys or expiry members can collide.
 * Newest first = ZREVRANGEBYSCORE: createdAt desc, then member (id) desc for equal scores.
 *
 * Round trips: commit, record, delete, find, executionIds and events are one Lua script each (EVALSHA; the
 * first call after a SCRIPT FLUSH falls back to EVAL), load is one HGET, entries one LRANGE.
 *
 * Retention: no TTL while pending, running or halted (PERSIST). A commit that makes the execution
 * completed or failed sets PEXPIRE `retention` on its hash, entries and events, and puts it in P:expiry.
 * Index rows cannot expire by themselves, so every commit and every find sweeps up to 20 due members of
 * P:expiry: if the execution's hash is gone, its four index rows are removed; if it has since become
 * another execution (status or workflow differ), only the rows that no longer match are removed; if it is
 * still there (the store clock runs ahead of Redis), it is kept for a later sweep. As a second line of
 * defence, find checks every row against the hash and drops rows whose hash is gone or no longer matches
 * the index, so a stale row never shows up nor shortens a page.
 */
import type { Redis } from "@upstash/redis";
import { ConfigError, DurableWorkflowError, NotFoundError, StoreError, ValidationError } from "../errors.ts";
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
  MAX_EVENTS_PER_EXECUTION,
  type Store,
} from "./store.ts";

/** What the store needs of a client: `Redis` from "@upstash/redis" or "@upstash/redis/cloudflare". */
export type UpstashRedisClient = Pick<Redis, "createScript" | "hget" | "lrange">;

export interface UpstashRedisStoreOptions {
  redis: UpstashRedisClient;
  /** First segment of every key: letters, digits, `_ - .` (no `:`, so prefixes cannot overlap). Default "dw". */
  prefix?: string;
  /** Seconds a completed or failed execution is kept (default 30 days). */
  retention?: number;
  /** Time source for expiry bookkeeping (tests inject one). */
  clock?: () => Date;
}

export const DEFAULT_RETENTION_SECONDS = 30 * 24 * 60 * 60;
const SWEEP_BATCH = 20;
const PREFIX_PATTERN = /^[A-Za-z0-9_\-.]{1,64}$/;

/** The key names of one prefix (see the layout above; docs/redis-keys.md). */
export function redisKeys(prefix: string) {
  return {
    execution: (id: string) => `${prefix}:exec:${id}`,
    entries: (id: string) => `${prefix}:entries:${id}`,
    events: (id: string) => `${prefix}:events:${id}`,
    all: `${prefix}:idx:all`,
    byWorkflow: (workflowId: string) => `${prefix}:idx:wf:${workflowId}`,
    byStatus: (status: ExecutionStatus) => `${prefix}:idx:st:${status}`,
    byStatusAndWorkflow: (status: ExecutionStatus, workflowId: string) => `${prefix}:idx:ws:${status}:${workflowId}`,
    expiry: `${prefix}:expiry`,
    expiryMember: (status: ExecutionStatus, id: string, workflowId: string) => `${status} ${id} ${workflowId}`,
  };
}

// ---- Lua ---------------------------------------------------------------------------------------
// ARGV[1] is always the prefix. Scripts never decode JSON (cjson would round floats): the record's JSON is
// written as text, with `"revision":n` spliced in front of the fields the client sent.

const LUA_PRELUDE = `
local prefix = ARGV[1]
local function k_exec(id) return prefix .. ':exec:' .. id end
local function k_all() return prefix .. ':idx:all' end
local function k_wf(w) return prefix .. ':idx:wf:' .. w end
local function k_st(s) return prefix .. ':idx:st:' .. s end
local function k_ws(s, w) return prefix .. ':idx:ws:' .. s .. ':' .. w end
local function terminal(s) return s == 'completed' or s == 'failed' end
local function sweep(expiry, now, max)
  local due = redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'LIMIT', 0, max)
  for _, m in ipairs(due) do
    local s, id, w = string.match(m, '^(%S+) (%S+) (.*)$')
    if not s then
      redis.call('ZREM', expiry, m)
    else
      local cur = redis.call('HMGET', k_exec(id), 'status', 'workflowId')
      if not cur[1] then
        redis.call('ZREM', k_all(), id)
        redis.call('ZREM', k_wf(w), id)
        redis.call('ZREM', k_st(s), id)
        redis.call('ZREM', k_ws(s, w), id)
        redis.call('ZREM', expiry, m)
      elseif cur[1] ~= s or cur[2] ~= w then
        if cur[1] ~= s then redis.call('ZREM', k_st(s), id) end
        redis.call('ZREM', k_ws(s, w), id)
        if cur[2] ~= w then redis.call('ZREM', k_wf(w), id) end
        redis.call('ZREM', expiry, m)
      end
    end
  end
end
`;

/**
 * KEYS: exec, entries, events, expiry. ARGV: prefix, id, expectedRevision ("" = unconditional), execution
 * JSON without revision, status, workflowId, score, now, retention ms, expire-at ms, event cap,
 * entry count, then the entries' JSON, then the events' JSON.
 * Returns {1, newRevision} or {0, actualRevision} on a lost compare-and-set (nothing written).
 */
const COMMIT_LUA = `${LUA_PRELUDE}
local id, expected, body = ARGV[2], ARGV[3], ARGV[4]
local status, wf, score = ARGV[5], ARGV[6], ARGV[7]
local now, retention, expireAt = ARGV[8], ARGV[9], ARGV[10]
local cap, nEntries = tonumber(ARGV[11]), tonumber(ARGV[12])
local cur = redis.call('HMGET', KEYS[1], 'revision', 'status', 'workflowId')
local actual = tonumber(cur[1]) or 0
if expected ~= '' and tonumber(expected) ~= actual then return {0, actual} end
local rev = actual + 1
if cur[2] then
  local os, ow = cur[2], cur[3]
  if os ~= status then redis.call('ZREM', k_st(os), id) end
  if os ~= status or ow ~= wf then redis.call('ZREM', k_ws(os, ow), id) end
  if ow ~= wf then redis.call('ZREM', k_wf(ow), id) end
  if terminal(os) then redis.call('ZREM', KEYS[4], os .. ' ' .. id .. ' ' .. ow) end
end
redis.call('HSET', KEYS[1], 'revision', rev, 'status', status, 'workflowId', wf,
  'json', '{"revision":' .. rev .. ',' .. string.sub(body, 2))
redis.call('ZADD', k_all(), score, id)
redis.call('ZADD', k_wf(wf), score, id)
redis.call('ZADD', k_st(status), score, id)
redis.call('ZADD', k_ws(status, wf), score, id)
local function push(key, from, to)
  local i = from
  while i <= to do
    local j = math.min(i + 499, to)
    redis.call('RPUSH', key, unpack(ARGV, i, j))
    i = j + 1
  end
end
local first = 13
push(KEYS[2], first, first + nEntries - 1)
if #ARGV >= first + nEntries then
  push(KEYS[3], first + nEntries, #ARGV)
  redis.call('LTRIM', KEYS[3], -cap, -1)
end
if terminal(status) then
  for i = 1, 3 do redis.call('PEXPIRE', KEYS[i], retention) end
  redis.call('ZADD', KEYS[4], expireAt, status .. ' ' .. id .. ' ' .. wf)
else
  for i = 1, 3 do redis.call('PERSIST', KEYS[i]) end
end
sweep(KEYS[4], now, ${SWEEP_BATCH})
return {1, rev}
`;

/** KEYS: exec, entries. ARGV: prefix, entry JSON. Returns 0 when the execution does not exist. */
const RECORD_LUA = `${LUA_PRELUDE}
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RPUSH', KEYS[2], ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return 1
`;

/** KEYS: exec, entries, events, expiry. ARGV: prefix, id. Returns 1 when the execution existed. */
const DELETE_LUA = `${LUA_PRELUDE}
local id = ARGV[2]
local cur = redis.call('HMGET', KEYS[1], 'status', 'workflowId')
redis.call('DEL', KEYS[2], KEYS[3])
if not cur[1] then return 0 end
local s, w = cur[1], cur[2]
redis.call('DEL', KEYS[1])
redis.call('ZREM', k_all(), id)
redis.call('ZREM', k_wf(w), id)
redis.call('ZREM', k_st(s), id)
redis.call('ZREM', k_ws(s, w), id)
if terminal(s) then redis.call('ZREM', KEYS[4], s .. ' ' .. id .. ' ' .. w) end
return 1
`;

/**
 * KEYS: index, expiry. ARGV: prefix, limit, cursor score ("" = first page), cursor id, status filter
 * ("" = any), workflow filter flag ("1"/"0"), workflow filter, mode ("full"/"ids"), now.
 * Walks the index newest first, skipping rows at or before the cursor and rows whose hash is gone or
 * does not match the filters (removed at the end), until limit + 1 live rows are seen.
 * Returns {more (0/1), last score, "#" .. last id, item...}: items are the JSON texts ("full") or
 * "#" .. id ("ids"). The "#" keeps @upstash/redis's automatic deserialization away from ids like "[1]".
 */
const FIND_LUA = `${LUA_PRELUDE}
local limit = tonumber(ARGV[2])
local cursorScore, cursorId = tonumber(ARGV[3]), ARGV[4]
local wantStatus, wantWf, wf = ARGV[5], ARGV[6] == '1', ARGV[7]
local full = ARGV[8] == 'full'
sweep(KEYS[2], ARGV[9], ${SWEEP_BATCH})
local function less(a, b)
  local n = math.min(#a, #b)
  for i = 1, n do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return #a < #b
end
local out = {0, 0, '#'}
local count, stale, offset = 0, {}, 0
local batch = math.min(limit + 1, 500)
local max = '+inf'
if cursorScore then max = ARGV[3] end
local done = false
while not done do
  local rows = redis.call('ZREVRANGEBYSCORE', KEYS[1], max, '-inf', 'WITHSCORES', 'LIMIT', offset, batch)
  for i = 1, #rows, 2 do
    local id, score = rows[i], tonumber(rows[i + 1])
    if not (cursorScore and score == cursorScore and not less(id, cursorId)) then
      local meta
      if full then
        meta = redis.call('HMGET', k_exec(id), 'status', 'workflowId', 'json')
      else
        meta = redis.call('HMGET', k_exec(id), 'status', 'workflowId')
      end
      if not meta[1] or (wantStatus ~= '' and meta[1] ~= wantStatus) or (wantWf and meta[2] ~= wf) then
        stale[#stale + 1] = id
      elseif count == limit then
        out[1] = 1
        done = true
        break
      else
        count = count + 1
        out[2] = score
        out[3] = '#' .. id
        if full then out[#out + 1] = meta[3] else out[#out + 1] = '#' .. id end
      end
    end
  end
  if #rows < 2 * batch then break end
  offset = offset + batch
end
for i = 1, #stale do redis.call('ZREM', KEYS[1], stale[i]) end
return out
`;

/**
 * KEYS: events. ARGV: prefix, after (an integer; "" = the whole list). Returns the stored events from the
 * first one with seq > after on. Events are appended with strictly increasing seq and trimmed from the
 * head, so when the seqs of the first and last element span exactly the list's length they are
 * contiguous and the first wanted event sits at index after - first seq + 1: one LRANGE from there. Any
 * other list (gaps in seq, a seq the pattern does not read) is returned whole and filtered by the client.
 * The seq is read from the text (`{"seq":n,` as the engine writes it), never by decoding the JSON.
 */
const EVENTS_LUA = `
local key, after = KEYS[1], tonumber(ARGV[2])
local len = redis.call('LLEN', key)
if len == 0 then return {} end
if not after then return redis.call('LRANGE', key, 0, -1) end
local function seq(i)
  local item = redis.call('LINDEX', key, i)
  return item and tonumber(string.match(item, '^{"seq":(%d+)[,}]'))
end
local first, last = seq(0), seq(len - 1)
if not first or not last or last - first ~= len - 1 then return redis.call('LRANGE', key, 0, -1) end
if after < first then return redis.call('LRANGE', key, 0, -1) end
if after >= last then return {} end
return redis.call('LRANGE', key, after - first + 1, -1)
`;

type Script = ReturnType<UpstashRedisClient["createScript"]>;

export class UpstashRedisStore implements Store {
  readonly #prefix: string;
  readonly #keys: ReturnType<typeof redisKeys>;
  readonly #retentionMs: number;
  readonly #clock: () => Date;
  readonly #redis: UpstashRedisClient;
  readonly #scripts: { commit: Script; record: Script; delete: Script; find: Script; events: Script };

  constructor(options: UpstashRedisStoreOptions) {
    const { redis, prefix = "dw", retention = DEFAULT_RETENTION_SECONDS, clock = () => new Date() } = options ?? {};
    if (!redis || typeof redis.createScript !== "function") {
      throw new ConfigError("UpstashRedisStore needs { redis }: a Redis client from @upstash/redis");
    }
    if (!PREFIX_PATTERN.test(prefix)) {
      throw new ConfigError(`Invalid prefix ${JSON.stringify(prefix)}: use 1 to 64 letters, digits, _ - . (no ":")`);
    }
    if (!Number.isFinite(retention) || retention <= 0) {
      throw new ConfigError(`Invalid retention ${retention}: a positive number of seconds`);
    }
    this.#redis = redis;
    this.#prefix = prefix;
    this.#keys = redisKeys(prefix);
    this.#retentionMs = Math.max(1, Math.round(retention * 1000));
    this.#clock = clock;
    this.#scripts = {
      commit: redis.createScript(COMMIT_LUA),
      record: redis.createScript(RECORD_LUA),
      delete: redis.createScript(DELETE_LUA),
      find: redis.createScript(FIND_LUA),
      events: redis.createScript(EVENTS_LUA),
    };
  }

  async commit(commit: Commit): Promise<Execution> {
    const { execution, expectedRevision } = commit;
    assertExecutionId(execution?.id);
    assertStatus(execution.status);
    if (typeof execution.workflowId !== "string" || execution.workflowId === "") {
      throw new ValidationError(`Execution ${JSON.stringify(execution.id)} has no workflowId`);
    }
    if (expectedRevision !== undefined && (!Number.isSafeInteger(expectedRevision) || expectedRevision < 0)) {
      throw new ValidationError(`Invalid expectedRevision ${expectedRevision} for execution ${JSON.stringify(execution.id)}`);
    }
    const score = createdAtScore(execution);
    const { revision: _ignored, ...fields } = execution;
    const body = serialize(fields, `Execution ${JSON.stringify(execution.id)}`);
    const entries = (commit.entries ?? []).map((entry) => serialize(assertEntryOf(entry, execution.id), "An entry"));
    const events = (commit.events ?? []).map((event) => serialize(event, "An event"));
    const now = this.#clock().getTime();
    const k = this.#keys;
    const id = execution.id;

    const reply = await this.#run("commit", () =>
      this.#scripts.commit.exec(
        [k.execution(id), k.entries(id), k.events(id), k.expiry],
        [
          this.#prefix, id, expectedRevision === undefined ? "" : String(expectedRevision), body,
          execution.status, execution.workflowId, String(score), String(now), String(this.#retentionMs),
          String(now + this.#retentionMs), String(MAX_EVENTS_PER_EXECUTION), String(entries.length),
          ...entries, ...events,
        ],
      ));
    if (!Array.isArray(reply) || reply.length !== 2 || typeof reply[1] !== "number") {
      throw new StoreError(`Redis store: unexpected commit reply ${JSON.stringify(reply)}`);
    }
    const [ok, revision] = reply as [number, number];
    if (ok !== 1) throw conflictError(id, expectedRevision ?? 0, revision);
    return JSON.parse(`{"revision":${revision},${body.slice(1)}`) as Execution;
  }

  save(execution: Execution, options: { expectedRevision?: number } = {}): Promise<Execution> {
    return this.commit({ execution, expectedRevision: options.expectedRevision });
  }

  async load(id: string): Promise<Execution | null> {
    assertExecutionId(id);
    const raw = await this.#run("load", () => this.#redis.hget(this.#keys.execution(id), "json"));
    return raw === null || raw === undefined ? null : parseStored<Execution>(raw, `execution ${id}`);
  }

  async record(entry: Entry): Promise<void> {
    assertExecutionId(entry?.executionId);
    const id = entry.executionId;
    const reply = await this.#run("record", () =>
      this.#scripts.record.exec([this.#keys.execution(id), this.#keys.entries(id)], [this.#prefix, serialize(entry, "An entry")]));
    if (reply !== 1) throw new NotFoundError(`Execution ${JSON.stringify(id)} not found: cannot record an entry`);
  }

  async entries(executionId: string): Promise<Entry[]> {
    assertExecutionId(executionId);
    const raw = await this.#run("read entries", () => this.#redis.lrange<unknown>(this.#keys.entries(executionId), 0, -1));
    return raw.map((item) => parseStored<Entry>(item, `an entry of ${executionId}`));
  }

  async events(executionId: string, options: { after?: number } = {}): Promise<StoredEvent[]> {
    assertExecutionId(executionId);
    const after = options.after ?? 0;
    // seq > after is seq > floor(after); an `after` that is not a safe integer (NaN, ±Infinity, 1e300) reads
    // the whole list and leaves it to the filter below, which keeps the same answer in every case.
    const from = Math.floor(after);
    const reply = await this.#run("read events", () =>
      this.#scripts.events.exec([this.#keys.events(executionId)], [this.#prefix, Number.isSafeInteger(from) ? String(from) : ""]));
    if (!Array.isArray(reply)) throw new StoreError(`Redis store: unexpected events reply ${JSON.stringify(reply)}`);
    return (reply as unknown[]).map((item) => parseStored<StoredEvent>(item, `an event of ${executionId}`)).filter((event) => event.seq > after);
  }

  async find(query: FindQuery = {}): Promise<FindResult> {
    if (query.status !== undefined) assertStatus(query.status);
    const limit = findLimit(query.limit);
    const page = await this.#page("find", { ...query, limit, mode: "full" });
    const executions = page.items.map((item) => parseStored<Execution>(item, "a found execution"));
    return page.cursor ? { executions, cursor: page.cursor } : { executions };
  }

  async delete(id: string): Promise<boolean> {
    assertExecutionId(id);
    const k = this.#keys;
    const reply = await this.#run("delete", () =>
      this.#scripts.delete.exec([k.execution(id), k.entries(id), k.events(id), k.expiry], [this.#prefix, id]));
    return reply === 1;
  }

  async executionIds(query: { workflowId?: string; limit?: number } = {}): Promise<string[]> {
    const limit = query.limit === undefined ? Number.MAX_SAFE_INTEGER : findLimit(query.limit);
    const page = await this.#page("list execution ids", { workflowId: query.workflowId, limit, mode: "ids" });
    return page.items.map((item) => unwrapId(item));
  }

  async #page(
    what: string,
    query: { workflowId?: string; status?: ExecutionStatus; limit: number; cursor?: string; mode: "full" | "ids" },
  ): Promise<{ items: unknown[]; cursor?: string }> {
    const position = query.cursor === undefined ? undefined : decodeCursor(query.cursor);
    const k = this.#keys;
    const { workflowId, status } = query;
    const index = workflowId !== undefined && status !== undefined
      ? k.byStatusAndWorkflow(status, workflowId)
      : workflowId !== undefined
      ? k.byWorkflow(workflowId)
      : status !== undefined
      ? k.byStatus(status)
      : k.all;
    const reply = await this.#run(what, () =>
      this.#scripts.find.exec([index, k.expiry], [
        this.#prefix, String(query.limit), position ? String(position.score) : "", position?.id ?? "",
        status ?? "", workflowId === undefined ? "0" : "1", workflowId ?? "", query.mode,
        String(this.#clock().getTime()),
      ]));
    if (!Array.isArray(reply) || reply.length < 3) throw new StoreError(`Redis store: unexpected ${what} reply`);
    const [more, score, lastId, ...items] = reply as [unknown, unknown, unknown, ...unknown[]];
    const cursor = more === 1 ? encodeCursor({ score: Number(score), id: unwrapId(lastId) }) : undefined;
    return { items, cursor };
  }

  /** Runs one request; anything that is not one of our own errors becomes a StoreError with the cause. */
  async #run<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if (error instanceof DurableWorkflowError) throw error;
      const message = error instanceof Error ? error.message : String(error);
      throw new StoreError(`Redis store could not ${what}: ${message}`, { cause: error });
    }
  }
}

function serialize(value: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (error) {
    throw new ValidationError(`${what} is not JSON-serializable: ${(error as Error).message}`);
  }
  if (typeof text !== "string" || !text.startsWith("{")) throw new ValidationError(`${what} is not a JSON object`);
  return text;
}

/**
 * A stored JSON object as the client hands it back: the text itself, or (with the client's default
 * automatic deserialization) already parsed by JSON.parse of that same text, which is just as exact.
 */
function parseStored<T>(raw: unknown, what: string): T {
  if (typeof raw === "string") {
    try {
      return JSON.parse(raw) as T;
    } catch (error) {
      throw new StoreError(`Redis store: ${what} is not valid JSON`, { cause: error });
    }
  }
  if (raw !== null && typeof raw === "object" && !Array.isArray(raw)) return raw as T;
  throw new StoreError(`Redis store: ${what} is not a JSON object`);
}

function unwrapId(raw: unknown): string {
  if (typeof raw !== "string" || !raw.startsWith("#")) throw new StoreError(`Redis store: unexpected id ${JSON.stringify(raw)}`);
  return raw.slice(1);
}
