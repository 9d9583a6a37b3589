/**
 * The Lua scripts of the Redis store. ARGV[1] is always the prefix. The scripts that may run under Upstash's key
 * locking (KEY_LOCKED in store.ts) take every key they touch in KEYS; the others build keys with the k_* functions
 * generated from KEY_LAYOUT. Scripts never decode JSON (cjson would round floats): values travel and are
 * stored as text, and the head's `"revision":n` is spliced in as text.
 * Strings a script returns that are not JSON objects (ids, statuses, times) carry a leading "#", which keeps
 * @upstash/redis's automatic deserialization away from ids like "123" or "[1]".
 */
import { EXECUTION_STATUSES, isTerminal } from "../../types.ts";
import { luaKeyFunctions } from "./keys.ts";
import { QUEUE_SLACK_MS } from "./sizes.ts";

const SWEEP_BATCH = 20;
const luaStatusTest = (statuses: readonly string[]) => statuses.map((s) => `s == '${s}'`).join(" or ");

/** Lua helpers that touch no key by name: the only prelude of the key-locking scripts. */
const HELPERS = `
local function terminal(s) return ${luaStatusTest(EXECUTION_STATUSES.filter(isTerminal))} end
local function waiting(s) return s == 'halted' or s == 'pending' end
local function server_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`;

const PRELUDE = `
local prefix = ARGV[1]
${luaKeyFunctions()}
local queues = { lease = k_lease(), wake = k_wake() }
${HELPERS}
local function keep_definition(hash, wf, text)
  if not redis.call('SET', k_definition(hash), text, 'NX') then return 0 end
  local versions = k_versions(wf)
  redis.call('ZADD', versions, redis.call('ZCARD', versions), hash)
  return 1
end
local function drop_labels(id)
  local key = k_labels(id)
  local labels = redis.call('HGETALL', key)
  for i = 1, #labels, 2 do redis.call('ZREM', k_byLabel(labels[i], labels[i + 1]), id) end
  if #labels > 0 then redis.call('DEL', key) end
end
-- Removes an execution (status s, workflow w) from the indexes every execution is in, and its labels with their rows.
local function unindex(id, s, w)
  redis.call('ZREM', k_all(), id)
  redis.call('ZREM', k_byWorkflow(w), id)
  redis.call('ZREM', k_byStatus(s), id)
  redis.call('ZREM', k_byStatusAndWorkflow(s, w), id)
  drop_labels(id)
end
local function sweep(now, max)
  local expiry = k_expiry()
  local due = redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'LIMIT', 0, max)
  for _, m in ipairs(due) do
    local s, id, w = string.match(m, '^(%S+) (%S+) (.*)$')
    if not s then
      redis.call('ZREM', expiry, m)
    else
      local cur = redis.call('HMGET', k_execution(id), 'status', 'workflowId')
      if not cur[1] then
        unindex(id, s, w)
        redis.call('ZREM', expiry, m)
      elseif cur[1] ~= s or cur[2] ~= w then
        if cur[1] ~= s then redis.call('ZREM', k_byStatus(s), id) end
        redis.call('ZREM', k_byStatusAndWorkflow(s, w), id)
        if cur[2] ~= w then redis.call('ZREM', k_byWorkflow(w), id) end
        redis.call('ZREM', expiry, m)
      end
    end
  end
end
`;

/**
 * ARGV: prefix, id, expectedRevision ("" = unconditional), status, workflowId, workflowHash, score (createdAt
 * ms), now ms, retention ms, expire-at ms, event cap, head JSON without revision, mode ("snapshot" | "delta"),
 * the snapshot or delta JSON, recovery queue ("lease" | "wake" | ""), its score, its due time, definition hash
 * ("" = none), its workflowId, its JSON, entry count, lease ms ("" = none: the lease's end by the server's clock
 * is then forgotten), takeover ("1": refused while the stored lease is live by the server's clock), the
 * workflow's expected current definition hash ("" = not checked), label count,
 * the labels (name, value, ...; read only when the record is new: labels never change), then the entries' JSON,
 * then the events' JSON.
 * Shared keys (indexes, recovery queues, expiry, definitions) are written only when they change: the indexes
 * when the record is new or its status, workflow, hash or score changes; the queue when the execution changes
 * queue or its score leaves [stored score, stored score + QUEUE_SLACK_MS] (a row early by at most the slack is
 * re-scored by RECOVERABLE, never handed out early). The retention sweep runs in RECOVERABLE and FIND, not here.
 * Returns {1, revision, snapshotBytes, logBytes, queue score (0 = none)}; {0, actual} on a lost compare-and-set;
 * {2, actual} when a delta was sent but the record has no snapshot to apply it to (new, or stored by an older
 * version); {3, actual, ms left} for a takeover of a live lease; {5, actual} when the workflow's current version is not
 * the expected one. Nothing is written in the last four cases.
 */
export const COMMIT = `${PRELUDE}
${commitBody(false)}
return reply
`;

/**
 * COMMIT for the common checkpoint, with key locking: KEYS are the execution's own keys (execution, log, entries,
 * events), ARGV as COMMIT's. Writes only those keys; refuses with {4, actual} (writing nothing) when the commit
 * would change a shared key (a new or terminal record, a status, workflow, hash or queue change, a definition):
 * the client then sends COMMIT.
 */
export const CHECKPOINT = `${HELPERS}
${commitBody(true)}
return reply
`;

/** The commit script's Lua: `locked` takes the own keys from KEYS and refuses any shared write. */
function commitBody(locked: boolean): string {
  return `
local id, expected, status, wf, hash = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local score, now, retention, expireAt, cap = ARGV[7], ARGV[8], ARGV[9], ARGV[10], tonumber(ARGV[11])
local head, mode, body = ARGV[12], ARGV[13], ARGV[14]
local queue, queueScore, due = ARGV[15], tonumber(ARGV[16]), ARGV[17]
local nEntries, leaseMs, nLabels = tonumber(ARGV[21]), tonumber(ARGV[22]), tonumber(ARGV[25])
local ${
    locked
      ? "exec, log, entriesKey, eventsKey = KEYS[1], KEYS[2], KEYS[3], KEYS[4]"
      : "exec, log, entriesKey, eventsKey = k_execution(id), k_log(id), k_entries(id), k_events(id)"
  }
local cur = redis.call('HMGET', exec, 'revision', 'status', 'workflowId', 'hash', 'snapshotBytes', 'logBytes', 'queue', 'leaseEnd', 'qscore', 'score')
local actual = tonumber(cur[1]) or 0
if expected ~= '' and tonumber(expected) ~= actual then return {0, actual} end
if mode == 'delta' and not cur[5] then return {2, actual} end
if ARGV[23] == '1' and cur[8] and tonumber(cur[8]) > server_ms() then return {3, actual, tonumber(cur[8]) - server_ms()} end
${
    locked
      ? "if ARGV[24] ~= '' then return {4, actual} end"
      : "if ARGV[24] ~= '' and redis.call('HGET', k_current(), wf) ~= ARGV[24] then return {5, actual} end"
  }
local os, ow, oh, oq, qscore = cur[2], cur[3], cur[4], cur[7] or '', tonumber(cur[9])
local indexed = os == status and ow == wf and oh == hash and cur[10] == score
local requeue = queue ~= '' and (oq ~= queue or not qscore or queueScore < qscore or queueScore > qscore + ${QUEUE_SLACK_MS})
if requeue then qscore = queueScore elseif queue == '' then qscore = nil end
${
    locked
      ? `if not indexed or requeue or (queue == '' and oq ~= '') or terminal(status) or terminal(os) or ARGV[18] ~= '' then return {4, actual} end`
      : ""
  }
local rev = actual + 1
local snapshotBytes, logBytes
-- One HSET and at most one HDEL of the execution's hash per commit: a script's time is mostly its commands.
local fields = {'revision', rev, 'status', status, 'workflowId', wf, 'hash', hash, 'score', score,
  'head', '{"revision":' .. rev .. ',' .. string.sub(head, 2)}
local gone = {}
if mode == 'delta' then
  snapshotBytes, logBytes = tonumber(cur[5]), tonumber(cur[6]) + string.len(body)
  redis.call('RPUSH', log, body)
else
  snapshotBytes, logBytes = string.len(body), 0
  redis.call('DEL', log)
  if os and not cur[5] then gone[#gone + 1] = 'json' end -- a record stored by an older version: its whole JSON
  fields[#fields + 1], fields[#fields + 2] = 'snapshot', body
end
for _, v in ipairs({'snapshotBytes', snapshotBytes, 'logBytes', logBytes}) do fields[#fields + 1] = v end
if status == 'running' and leaseMs then
  fields[#fields + 1], fields[#fields + 2] = 'leaseEnd', server_ms() + leaseMs
elseif cur[8] then
  gone[#gone + 1] = 'leaseEnd'
end
if queue ~= '' then
  for _, v in ipairs({'queue', queue, 'due', due, 'dueMs', queueScore, 'qscore', qscore}) do fields[#fields + 1] = v end
elseif oq ~= '' then
  for _, v in ipairs({'queue', 'due', 'dueMs', 'qscore'}) do gone[#gone + 1] = v end
end
redis.call('HSET', exec, unpack(fields))
if #gone > 0 then redis.call('HDEL', exec, unpack(gone)) end
-- Appends ARGV[from..to] in chunks (unpack's limit); returns the list's length.
local function push(key, from, to)
  local i, n = from, 0
  while i <= to do
    local j = math.min(i + 499, to)
    n = redis.call('RPUSH', key, unpack(ARGV, i, j))
    i = j + 1
  end
  return n
end
local first = 26 + 2 * nLabels
push(entriesKey, first, first + nEntries - 1)
if #ARGV >= first + nEntries and push(eventsKey, first + nEntries, #ARGV) > cap then
  redis.call('LTRIM', eventsKey, -cap, -1)
end
${locked ? "" : sharedWrites()}
local reply = {1, rev, snapshotBytes, logBytes, qscore or 0}`;
}

/** COMMIT's writes of shared keys (and of the TTLs, which change only with a terminal status). */
function sharedWrites(): string {
  return `
if os and not indexed then
  if os ~= status then redis.call('ZREM', k_byStatus(os), id) end
  if os ~= status or ow ~= wf then redis.call('ZREM', k_byStatusAndWorkflow(os, ow), id) end
  if ow ~= wf then redis.call('ZREM', k_byWorkflow(ow), id) end
  if terminal(os) then redis.call('ZREM', k_expiry(), os .. ' ' .. id .. ' ' .. ow) end
  if oh and waiting(os) then redis.call('ZREM', k_byStatusAndHash(os, oh), id) end
end
if not indexed then
  redis.call('ZADD', k_all(), score, id)
  redis.call('ZADD', k_byWorkflow(wf), score, id)
  redis.call('ZADD', k_byStatus(status), score, id)
  redis.call('ZADD', k_byStatusAndWorkflow(status, wf), score, id)
  if waiting(status) then redis.call('ZADD', k_byStatusAndHash(status, hash), score, id) end
end
if not os and nLabels > 0 then
  drop_labels(id)
  for i = 26, 25 + 2 * nLabels, 2 do
    redis.call('HSET', k_labels(id), ARGV[i], ARGV[i + 1])
    redis.call('ZADD', k_byLabel(ARGV[i], ARGV[i + 1]), score, id)
  end
end
if oq ~= '' and oq ~= queue then redis.call('ZREM', queues[oq], id) end
if requeue then redis.call('ZADD', queues[queue], queueScore, id) end
local owned = { exec, log, entriesKey, eventsKey }
if terminal(status) then
  for _, key in ipairs(owned) do redis.call('PEXPIRE', key, retention) end
  redis.call('ZADD', k_expiry(), expireAt, status .. ' ' .. id .. ' ' .. wf)
elseif not os or terminal(os) then
  for _, key in ipairs(owned) do redis.call('PERSIST', key) end
end
if ARGV[18] ~= '' then keep_definition(ARGV[18], ARGV[19], ARGV[20]) end`;
}

/**
 * ARGV: prefix, id, revision, leaseUntil (ISO), its ms, lease ms. Moves the lease of a running execution at that
 * revision (the head's text, the lease queue, and its end by the server's clock); no new revision. Returns {1}, or
 * {0, actual revision, "#" .. status}.
 */
export const RENEW = `${PRELUDE}
local id, lease = ARGV[2], ARGV[4]
local exec = k_execution(id)
local cur = redis.call('HMGET', exec, 'revision', 'status', 'head', 'queue')
local actual = tonumber(cur[1]) or 0
if actual ~= tonumber(ARGV[3]) or cur[2] ~= 'running' or not cur[3] then return {0, actual, '#' .. (cur[2] or '')} end
local field = '"leaseUntil":"' .. lease .. '"'
local head, n = string.gsub(cur[3], '"leaseUntil":"[^"]*"', field, 1)
if n == 0 then head, n = string.gsub(cur[3], '"leaseUntil":null', field, 1) end
if n == 0 then head = '{' .. field .. ',' .. string.sub(cur[3], 2) end
if cur[4] == 'wake' then redis.call('ZREM', queues.wake, id) end
redis.call('HSET', exec, 'head', head, 'queue', 'lease', 'due', lease, 'dueMs', ARGV[5], 'qscore', ARGV[5],
  'leaseEnd', server_ms() + tonumber(ARGV[6]))
redis.call('ZADD', queues.lease, ARGV[5], id)
return {1}
`;

/**
 * KEYS: execution, log. Returns {"#new", snapshotBytes, logBytes, head, snapshot, delta...}, {"#old", json} for a
 * record stored by an older version (the whole execution in the `json` field), or {} when there is none.
 */
export const LOAD = `${loadRead("KEYS[1]", "KEYS[2]", "")}
return out
`;

/**
 * LOAD's read of the hash `exec` and the list `log` (Lua expressions): `h` is the hash's head, snapshot,
 * snapshotBytes, logBytes, json, then the `more` fields; with no head the script returns `{lead, "#old", json}` or {},
 * else `out` is `{lead, "#new", snapshotBytes, logBytes, head, snapshot, delta...}` (`lead`: items before LOAD's reply).
 */
function loadRead(exec: string, log: string, lead: string, more = ""): string {
  return `
local h = redis.call('HMGET', ${exec}, 'head', 'snapshot', 'snapshotBytes', 'logBytes', 'json'${more})
if not h[1] then
  if h[5] then return {${lead}'#old', h[5]} end
  return {}
end
local out = {${lead}'#new', tonumber(h[3]), tonumber(h[4]), h[1], h[2]}
local log = redis.call('LRANGE', ${log}, 0, -1)
for i = 1, #log do out[#out + 1] = log[i] end`;
}

/**
 * ARGV: prefix, id, workflow hash, at (ISO), leaseUntil (ISO), its ms, lease ms. LOAD, and the claim of a pending
 * execution on that hash with nothing to wait for (no wakeAt, flow mark or compensation): the head's revision, status,
 * leaseUntil and updatedAt spliced (and the result decoded to check that the top-level fields were the ones
 * changed, else no claim), the status indexes and the recovery queue moved, the lease's end by the server's clock.
 * Returns {claimed revision or 0, ...LOAD's reply}: the execution as it was before the claim.
 */
export const CLAIM = `${PRELUDE}
local id, expectedHash, at, leaseUntil, leaseScore = ARGV[2], ARGV[3], ARGV[4], ARGV[5], tonumber(ARGV[6])
local exec = k_execution(id)
${loadRead("exec", "k_log(id)", "0, ", ", 'revision', 'status', 'hash', 'workflowId', 'score', 'queue'")}
if h[7] ~= 'pending' or h[8] ~= expectedHash or not h[2] then return out end
local function none(v) return v == nil or v == cjson.null end
local ok, cur = pcall(cjson.decode, h[1])
if not ok or not none(cur.wakeAt) or not none(cur.flow) or not none(cur.compensating) then return out end
local rev = tonumber(h[6]) + 1
-- Sets a top-level key to a string: of the places the key is found (a label may share its name), the one that the
-- decoded head shows at the top level; nil when none is (a head stored without it: no claim, the caller claims itself).
local function set(text, key, value)
  if not text or cur[key] == value then return text end
  local field = '"' .. key .. '":"' .. value .. '"'
  local from = 1
  while true do
    local s, e = string.find(text, '"' .. key .. '":"[^"]*"', from)
    if not s then s, e = string.find(text, '"' .. key .. '":null', from) end
    if not s then return nil end
    local spliced = string.sub(text, 1, s - 1) .. field .. string.sub(text, e + 1)
    local ok, decoded = pcall(cjson.decode, spliced)
    if ok and decoded[key] == value then return spliced end
    from = e + 1
  end
end
local head, n = string.gsub(h[1], '^{"revision":%d+,', '{"revision":' .. rev .. ',', 1)
head = set(set(set(n == 1 and head or nil, 'status', 'running'), 'leaseUntil', leaseUntil), 'updatedAt', at)
if not head then return out end
redis.call('HSET', exec, 'revision', rev, 'status', 'running', 'head', head, 'leaseEnd', server_ms() + tonumber(ARGV[7]),
  'queue', 'lease', 'due', leaseUntil, 'dueMs', leaseScore, 'qscore', leaseScore)
local wf, score, oq = h[9], h[10], h[11] or ''
if oq ~= '' and oq ~= 'lease' then redis.call('ZREM', queues[oq], id) end
redis.call('ZADD', queues.lease, leaseScore, id)
redis.call('ZREM', k_byStatus('pending'), id)
redis.call('ZREM', k_byStatusAndWorkflow('pending', wf), id)
redis.call('ZREM', k_byStatusAndHash('pending', h[8]), id)
redis.call('ZADD', k_byStatus('running'), score, id)
redis.call('ZADD', k_byStatusAndWorkflow('running', wf), score, id)
out[1] = rev
return out
`;

/** KEYS: execution, log. Returns {snapshotBytes, logBytes, deltas}, or {} when there is no such execution. */
export const FOOTPRINT = `
local h = redis.call('HMGET', KEYS[1], 'snapshotBytes', 'logBytes')
if not h[1] then return {} end
return {tonumber(h[1]), tonumber(h[2]), redis.call('LLEN', KEYS[2])}
`;

/** KEYS: execution, entries. ARGV: prefix, entry JSON. Returns 0 when the execution does not exist. */
export const RECORD = `
local exec, entries = KEYS[1], KEYS[2]
if redis.call('EXISTS', exec) == 0 then return 0 end
redis.call('RPUSH', entries, ARGV[2])
local ttl = redis.call('PTTL', exec)
if ttl > 0 then redis.call('PEXPIRE', entries, ttl) end
return 1
`;

/** ARGV: prefix, id. Removes every key and index row of the execution; returns 1 when it existed. */
export const DELETE = `${PRELUDE}
local id = ARGV[2]
local exec = k_execution(id)
local cur = redis.call('HMGET', exec, 'status', 'workflowId', 'hash', 'queue')
redis.call('DEL', k_log(id), k_entries(id), k_events(id))
if not cur[1] then return 0 end
local s, w = cur[1], cur[2]
redis.call('DEL', exec)
unindex(id, s, w)
if terminal(s) then redis.call('ZREM', k_expiry(), s .. ' ' .. id .. ' ' .. w) end
if cur[3] and waiting(s) then redis.call('ZREM', k_byStatusAndHash(s, cur[3]), id) end
if cur[4] then redis.call('ZREM', queues[cur[4]], id) end
return 1
`;

/**
 * KEYS: the index to walk. ARGV: prefix, limit, cursor score ("" = first page), cursor id, status filter
 * ("" = any), workflow filter flag ("1"/"0"), workflow filter, mode ("heads"/"ids"), now, highest score (the
 * cursor's or the createdTo bound, "(n" exclusive), lowest score, updatedAt from / to (ISO text, "" = none), then
 * label filters (name, value, ...).
 * Walks the index newest first, skipping rows at or before the cursor and rows whose hash is gone or does
 * not match the filters (removed at the end), until limit + 1 live rows are seen.
 * Returns {more (0/1), last score, "#" .. last id, item...}: items are the heads' JSON ("heads"; the whole
 * record for one stored by an older version) or "#" .. id ("ids").
 */
export const FIND = `${PRELUDE}
local limit = tonumber(ARGV[2])
local cursorScore, cursorId = tonumber(ARGV[3]), ARGV[4]
local wantStatus, wantWf, wf = ARGV[5], ARGV[6] == '1', ARGV[7]
local heads = ARGV[8] == 'heads'
local updatedFrom, updatedTo = ARGV[12], ARGV[13]
local labelNames, labelValues = {}, {}
for i = 14, #ARGV, 2 do
  labelNames[#labelNames + 1] = ARGV[i]
  labelValues[#labelValues + 1] = ARGV[i + 1]
end
local function filtered(id, head)
  if updatedFrom ~= '' or updatedTo ~= '' then
    local u = head and string.match(head, '"updatedAt":"([^"]*)"')
    if not u or (updatedFrom ~= '' and u < updatedFrom) or (updatedTo ~= '' and u >= updatedTo) then return true end
  end
  if #labelNames == 0 then return false end
  local have = redis.call('HMGET', k_labels(id), unpack(labelNames))
  for i = 1, #labelNames do
    if have[i] ~= labelValues[i] then return true end
  end
  return false
end
sweep(ARGV[9], ${SWEEP_BATCH})
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
local max, min = ARGV[10], ARGV[11]
local done = false
while not done do
  local rows = redis.call('ZREVRANGEBYSCORE', KEYS[1], max, min, 'WITHSCORES', 'LIMIT', offset, batch)
  for i = 1, #rows, 2 do
    local id, score = rows[i], tonumber(rows[i + 1])
    if not (cursorScore and score == cursorScore and not less(id, cursorId)) then
      local meta
      if heads then
        meta = redis.call('HMGET', k_execution(id), 'status', 'workflowId', 'head', 'json')
      else
        meta = redis.call('HMGET', k_execution(id), 'status', 'workflowId')
      end
      if not meta[1] then
        stale[#stale + 1] = id
      elseif (wantStatus ~= '' and meta[1] ~= wantStatus) or (wantWf and meta[2] ~= wf) then
        -- a status or workflow index holds only matching rows (so this one is stale); a label index holds every status
        if #labelNames == 0 then stale[#stale + 1] = id end
      elseif filtered(id, meta[3] or meta[4]) then
        -- not a match, but the row is right: it stays in the index
      elseif count == limit then
        out[1] = 1
        done = true
        break
      else
        count = count + 1
        out[2] = score
        out[3] = '#' .. id
        if heads then out[#out + 1] = meta[3] or meta[4] else out[#out + 1] = '#' .. id end
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
export const EVENTS = `
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

/**
 * ARGV: prefix, lease bound, wake bound (the highest due score of each queue), claimMs, limit, now ms (for the
 * retention sweep, which runs here: the sweeper's tick, not every commit).
 * Takes up to `limit` due members of each queue (lowest score first), drops members whose execution is gone
 * or has left that queue, moves members queued early (a commit leaves a row up to QUEUE_SLACK_MS early) to their
 * due time, keeps the `limit` most overdue (bound - score) and claims them: their score moves to bound + claimMs.
 * Returns {"#" .. id, "#" .. workflowId, "#" .. status, revision, "#" .. due, ...}.
 */
export const RECOVERABLE = `${PRELUDE}
sweep(ARGV[6], ${SWEEP_BATCH})
local bound = { lease = tonumber(ARGV[2]), wake = tonumber(ARGV[3]) }
local claimMs, limit = tonumber(ARGV[4]), tonumber(ARGV[5])
local found = {}
for _, queue in ipairs({'lease', 'wake'}) do
  local key, offset, taken = queues[queue], 0, 0
  while taken < limit do
    local rows = redis.call('ZRANGEBYSCORE', key, '-inf', bound[queue], 'WITHSCORES', 'LIMIT', offset, limit)
    local stale, moved = {}, 0
    for i = 1, #rows, 2 do
      if taken == limit then break end
      local id = rows[i]
      local h = redis.call('HMGET', k_execution(id), 'queue', 'workflowId', 'status', 'revision', 'due', 'dueMs')
      local dueMs = tonumber(h[6])
      if h[1] ~= queue then
        stale[#stale + 1] = id
      elseif dueMs and dueMs > bound[queue] then
        moved = moved + 1
        redis.call('ZADD', key, 'XX', dueMs, id)
        redis.call('HSET', k_execution(id), 'qscore', dueMs)
      else
        taken = taken + 1
        found[#found + 1] = { id = id, overdue = bound[queue] - tonumber(rows[i + 1]), queue = queue,
          workflowId = h[2], status = h[3], revision = tonumber(h[4]), due = h[5] }
      end
    end
    for _, id in ipairs(stale) do redis.call('ZREM', key, id) end
    if #rows < 2 * limit then break end
    offset = offset + #rows / 2 - #stale - moved
  end
end
table.sort(found, function(a, b)
  if a.overdue ~= b.overdue then return a.overdue > b.overdue end
  return a.id < b.id
end)
local out = {}
for i = 1, math.min(limit, #found) do
  local f = found[i]
  redis.call('ZADD', queues[f.queue], 'XX', bound[f.queue] + claimMs, f.id)
  redis.call('HSET', k_execution(f.id), 'qscore', bound[f.queue] + claimMs)
  out[#out + 1] = '#' .. f.id
  out[#out + 1] = '#' .. f.workflowId
  out[#out + 1] = '#' .. f.status
  out[#out + 1] = f.revision
  out[#out + 1] = '#' .. f.due
end
return out
`;

/** ARGV: prefix, hash, workflowId, definition JSON, "1" to make it current. Returns {stored, current} (0/1). */
export const PUT_DEFINITION = `${PRELUDE}
local hash, wf = ARGV[2], ARGV[3]
local stored = keep_definition(hash, wf, ARGV[4])
if ARGV[5] == '1' then redis.call('HSET', k_current(), wf, hash) end
local current = 0
if redis.call('HGET', k_current(), wf) == hash then current = 1 end
return {stored, current}
`;

/** ARGV: prefix, hash. Returns the definition's JSON or nil. */
export const DEFINITION = `${PRELUDE}
return redis.call('GET', k_definition(ARGV[2]))
`;

/** ARGV: prefix, workflowId. Returns the current definition's JSON or nil. */
export const CURRENT_DEFINITION = `${PRELUDE}
local hash = redis.call('HGET', k_current(), ARGV[2])
if not hash then return nil end
return redis.call('GET', k_definition(hash))
`;

/**
 * ARGV: prefix, workflowId. Returns {"#" .. current hash (or "#"), then per stored version, oldest first:
 * its JSON, halted count, pending count}.
 */
export const DEFINITION_VERSIONS = `${PRELUDE}
local out = {'#' .. (redis.call('HGET', k_current(), ARGV[2]) or '')}
for _, hash in ipairs(redis.call('ZRANGE', k_versions(ARGV[2]), 0, -1)) do
  out[#out + 1] = redis.call('GET', k_definition(hash))
  out[#out + 1] = redis.call('ZCARD', k_byStatusAndHash('halted', hash))
  out[#out + 1] = redis.call('ZCARD', k_byStatusAndHash('pending', hash))
end
return out
`;

/** ARGV: prefix. Returns "#" .. workflowId of every workflow with a current version. */
export const WORKFLOW_IDS = `${PRELUDE}
local out = {}
for _, wf in ipairs(redis.call('HKEYS', k_current())) do out[#out + 1] = '#' .. wf end
return out
`;

const EVENTS_PRELUDE = `${PRELUDE}
local function unregister(xid)
  local w = redis.call('HMGET', k_eventWaiter(xid), 'names', 'key')
  if not w[1] then return end
  for name in string.gmatch(w[1], '%S+') do redis.call('SREM', k_eventWaiters(name, w[2]), xid) end
  redis.call('DEL', k_eventWaiter(xid))
end
local function receive(xid, evid, keepMs)
  local got = k_eventsReceived(xid)
  redis.call('SADD', got, evid)
  if redis.call('PTTL', got) < keepMs then redis.call('PEXPIRE', got, keepMs) end
end
-- The registered wait of xid if its execution still halts at the registered revision, else nil (dropped).
local function current(xid)
  local w = redis.call('HMGET', k_eventWaiter(xid), 'wait', 'wf', 'rev', 'match')
  if not w[1] then return nil end
  local cur = redis.call('HMGET', k_execution(xid), 'revision', 'status')
  if cur[1] ~= w[3] or cur[2] ~= 'halted' then unregister(xid) return nil end
  return w
end
local function deliver(xid, w, evid, body, now, nowIso, keepMs)
  unregister(xid)
  receive(xid, evid, keepMs)
  redis.call('SET', k_eventDelivery(xid), w[1] .. '\\n' .. body)
  local due = redis.call('ZSCORE', k_wake(), xid)
  if not due or tonumber(due) > tonumber(now) then
    redis.call('HSET', k_execution(xid), 'queue', 'wake', 'due', nowIso, 'dueMs', now, 'qscore', now)
    redis.call('ZADD', k_wake(), now, xid)
  end
  return {'#' .. xid, '#' .. w[2], tonumber(w[3])}
end
`;

/**
 * COMMIT, then (when the commit halts) the wait, in one script. ARGV as COMMIT; KEYS (not keys: the wait's fields,
 * since COMMIT's ARGV ends with a variable list): waitId, key, names (space-separated), match JSON ("" = none), now ms,
 * now ISO, ms the waiter is kept ("" = until it receives an event: a wait without timeout). A buffered event found is also handed over as a delivery (so a crash before it is applied loses nothing).
 * Returns COMMIT's reply, followed by "#event", JSON (a delivery or a buffered indexed event: received, not
 * registered) or "#wait", JSON... (registered; for an unindexed key the buffered events not received yet).
 */
export const COMMIT_AND_WAIT = `${EVENTS_PRELUDE}
${commitBody(false)}
if status ~= 'halted' then return reply end
local waitId, key, names, match, at = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local function answer(kind, bodies)
  reply[#reply + 1] = kind
  for _, body in ipairs(bodies) do reply[#reply + 1] = body end
  return reply
end
local pending = redis.call('GET', k_eventDelivery(id))
if pending then
  redis.call('DEL', k_eventDelivery(id))
  local sep = string.find(pending, '\\n', 1, true)
  if string.sub(pending, 1, sep - 1) == waitId then return answer('#event', { string.sub(pending, sep + 1) }) end
end
unregister(id)
local got = k_eventsReceived(id)
local live = {}
for name in string.gmatch(names, '%S+') do
  local buf = k_eventBuffer(name, key)
  redis.call('ZREMRANGEBYSCORE', buf, '-inf', '(' .. at)
  local rows = redis.call('ZRANGEBYSCORE', buf, at, '+inf', 'WITHSCORES')
  for i = 1, #rows, 2 do
    if redis.call('SISMEMBER', got, rows[i]) == 0 then live[#live + 1] = { rows[i], tonumber(rows[i + 1]) } end
  end
end
table.sort(live, function(a, b) return a[2] < b[2] end)
local bodies = {}
for _, row in ipairs(live) do
  local body = redis.call('GET', k_eventBody(row[1]))
  if body and key ~= '*' then
    deliver(id, { waitId, wf, rev }, row[1], body, at, KEYS[6], row[2] - tonumber(at) + 60000)
    return answer('#event', { body })
  end
  if body then bodies[#bodies + 1] = body end
end
local waiter, keep = k_eventWaiter(id), KEYS[7]
redis.call('HSET', waiter, 'wait', waitId, 'wf', wf, 'rev', rev, 'names', names, 'key', key, 'match', match)
if keep == '' then redis.call('PERSIST', waiter) else redis.call('PEXPIRE', waiter, keep) end
-- An index set expires once every waiter in it has timed out (a day later); one that waits without a timeout keeps it.
for name in string.gmatch(names, '%S+') do
  local set = k_eventWaiters(name, key)
  redis.call('SADD', set, id)
  local ttl = redis.call('PTTL', set)
  if keep == '' then redis.call('PERSIST', set)
  elseif (ttl == -1 and redis.call('SCARD', set) == 1) or (ttl >= 0 and ttl < tonumber(keep)) then redis.call('PEXPIRE', set, keep) end
end
return answer('#wait', bodies)
`;

/**
 * ARGV: prefix, name, event id, event JSON, sent ms, sent ISO, lookback ms, dedup ms, then the event's index keys.
 * Returns {"#duplicate"} or {"#sent", n, delivery..., candidate...}: n deliveries as (id, workflowId, revision)
 * triples, then candidates as (id, workflowId, revision, waitId, match) quintuples.
 */
export const SEND_EVENT = `${EVENTS_PRELUDE}
local name, evid, body, sent, sentIso = ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local lookback, dedup = tonumber(ARGV[7]), ARGV[8]
if not redis.call('SET', k_eventSeen(evid), '1', 'NX', 'PX', dedup) then return {'#duplicate'} end
local keep = lookback + 60000
redis.call('SET', k_eventBody(evid), body, 'PX', keep)
local delivered, candidates = {}, {}
local keys = { '*' }
for i = 9, #ARGV do keys[#keys + 1] = ARGV[i] end
for _, key in ipairs(keys) do
  local buf = k_eventBuffer(name, key)
  redis.call('ZREMRANGEBYSCORE', buf, '-inf', '(' .. sent)
  redis.call('ZADD', buf, tonumber(sent) + lookback, evid)
  redis.call('PEXPIRE', buf, keep)
  local index = k_eventWaiters(name, key)
  for _, xid in ipairs(redis.call('SMEMBERS', index)) do
    local w = current(xid)
    if not w then
      redis.call('SREM', index, xid)
    elseif redis.call('SISMEMBER', k_eventsReceived(xid), evid) == 0 then
      if key == '*' then
        for _, v in ipairs({'#' .. xid, '#' .. w[2], tonumber(w[3]), '#' .. w[1], '#' .. w[4]}) do candidates[#candidates + 1] = v end
      else
        for _, v in ipairs(deliver(xid, w, evid, body, sent, sentIso, keep)) do delivered[#delivered + 1] = v end
      end
    end
  end
end
local out = {'#sent', #delivered / 3}
for _, v in ipairs(delivered) do out[#out + 1] = v end
for _, v in ipairs(candidates) do out[#out + 1] = v end
return out
`;

/** ARGV: prefix, execution id, waitId, event id, event JSON, now ms, now ISO. Returns {id, workflowId, revision} or {}. */
export const CLAIM_EVENT = `${EVENTS_PRELUDE}
local xid, waitId, evid = ARGV[2], ARGV[3], ARGV[4]
local w = current(xid)
if not w or w[1] ~= waitId or redis.call('SISMEMBER', k_eventsReceived(xid), evid) == 1 then return {} end
return deliver(xid, w, evid, ARGV[5], ARGV[6], ARGV[7], 24 * 3600 * 1000)
`;

/** ARGV: prefix, name, at ms. Returns {moved (0/1), "#" .. previous ("#" = none)}. */
export const ADVANCE_CURSOR = `${PRELUDE}
local key = k_triggerCursor(ARGV[2])
local previous = redis.call('GET', key)
if previous and tonumber(previous) >= tonumber(ARGV[3]) then return {0, '#' .. previous} end
redis.call('SET', key, ARGV[3])
return {1, '#' .. (previous or '')}
`;
