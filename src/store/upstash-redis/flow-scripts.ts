/**
 * Flow control in Redis (issue 20): one script per admission decision, the same rules as FlowBook
 * (src/store/flow.ts). Per workflow and key: `flow:h:<wf>:<key>` (sorted set: holder id → time it acquired),
 * `flow:q:<wf>:<key>` (sorted set: waiter id → order), `flow:r:<wf>:<key>` (sorted set: counted start → time,
 * expiring with the window), and `flow:keys:<wf>` (hash: `c:<key>` → limit, `r:<key>` → `limit:periodMs`), written
 * only when it changes. ARGV[1] is the prefix, ARGV[2] the workflow id. These keys are never touched by COMMIT.
 */
import { EXECUTION_STATUSES, isTerminal } from "../../types.ts";
import { luaKeyFunctions } from "./keys.ts";

const FLOW_PRELUDE = `
local prefix = ARGV[1]
local wf = ARGV[2]
${luaKeyFunctions()}
local function fk(kind, key) return prefix .. ':flow:' .. kind .. ':' .. wf .. ':' .. key end
local function terminal(s) return ${EXECUTION_STATUSES.filter(isTerminal).map((s) => `s == '${s}'`).join(" or ")} end
local function status(id) return redis.call('HGET', k_execution(id), 'status') end
local function note(field, value)
  local keys = prefix .. ':flow:keys:' .. wf
  if redis.call('HGET', keys, field) ~= value then redis.call('HSET', keys, field, value) end
end
local function purge(hk, now, stale)
  local hs = redis.call('ZRANGE', hk, 0, -1, 'WITHSCORES')
  for i = 1, #hs, 2 do
    local s = status(hs[i])
    if not s or terminal(s) or (s == 'halted' and tonumber(hs[i + 1]) < now - stale) then redis.call('ZREM', hk, hs[i]) end
  end
end
local function next_waiters(qk, free, id)
  local out, found = {}, false
  if free <= 0 then return out, found end
  for _, w in ipairs(redis.call('ZRANGE', qk, 0, free + 31)) do
    local s = status(w)
    if not s or terminal(s) then
      redis.call('ZREM', qk, w)
    else
      out[#out + 1] = w
      if w == id then found = true end
      if #out >= free then break end
    end
  end
  return out, found
end
`;

/**
 * ARGV: prefix, workflowId, execution id, now ms, order, stale ms, concurrency key ("" = none), its limit, rate key
 * ("" = none), its limit, its period ms, the rate member. Returns {1} (admitted), {0, 1, holders, limit, position}
 * (waiting for a slot) or {0, 2, retryAt ms} (over the rate).
 */
export const FLOW_ACQUIRE = `${FLOW_PRELUDE}
local id, now, order, stale = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), tonumber(ARGV[6])
local ckey, climit = ARGV[7], tonumber(ARGV[8])
local rkey, rlimit, rperiod, member = ARGV[9], tonumber(ARGV[10]), tonumber(ARGV[11]), ARGV[12]
local hk, qk
if ckey ~= '' then
  hk, qk = fk('h', ckey), fk('q', ckey)
  note('c:' .. ckey, ARGV[8])
  if redis.call('ZSCORE', hk, id) then
    redis.call('ZADD', hk, now, id)
    return {1}
  end
  purge(hk, now, stale)
  redis.call('ZADD', qk, 'NX', order, id)
  local holders = redis.call('ZCARD', hk)
  local _, found = next_waiters(qk, climit - holders, id)
  if not found then return {0, 1, holders, climit, (redis.call('ZRANK', qk, id) or 0) + 1} end
end
if rkey ~= '' then
  local rk = fk('r', rkey)
  note('r:' .. rkey, ARGV[10] .. ':' .. ARGV[11])
  redis.call('ZREMRANGEBYSCORE', rk, '-inf', now - rperiod)
  if not redis.call('ZSCORE', rk, member) then
    if redis.call('ZCARD', rk) >= rlimit then
      local first = redis.call('ZRANGE', rk, 0, 0, 'WITHSCORES')
      return {0, 2, tonumber(first[2]) + rperiod}
    end
    redis.call('ZADD', rk, now, member)
    redis.call('PEXPIRE', rk, rperiod)
  end
end
if hk then
  redis.call('ZADD', hk, now, id)
  redis.call('ZREM', qk, id)
end
return {1}
`;

/** ARGV: prefix, workflowId, execution id, now ms, stale ms, concurrency key, its limit. Returns the waiters to start ("#"-prefixed ids). */
export const FLOW_RELEASE = `${FLOW_PRELUDE}
local id, now, stale, ckey, climit = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5]), ARGV[6], tonumber(ARGV[7])
local hk, qk = fk('h', ckey), fk('q', ckey)
redis.call('ZREM', hk, id)
redis.call('ZREM', qk, id)
purge(hk, now, stale)
local out = next_waiters(qk, climit - redis.call('ZCARD', hk), '')
for i, w in ipairs(out) do out[i] = '#' .. w end
return out
`;

/**
 * ARGV: prefix, workflowId, now ms. Returns, per key the workflow used: "#c" or "#r", "#<key>", limit, period ms
 * (0 for concurrency), waiting count, holder count, then the holders ("#"-prefixed).
 */
export const FLOW_STATE = `${FLOW_PRELUDE}
local now = tonumber(ARGV[3])
local out = {}
local fields = redis.call('HGETALL', prefix .. ':flow:keys:' .. wf)
for i = 1, #fields, 2 do
  local kind, key = string.sub(fields[i], 1, 1), string.sub(fields[i], 3)
  local limit, period = string.match(fields[i + 1], '^(%d+):?(%d*)$')
  local holders, waiting = {}, 0
  if kind == 'c' then
    holders = redis.call('ZRANGE', fk('h', key), 0, -1)
    waiting = redis.call('ZCARD', fk('q', key))
  else
    holders = redis.call('ZRANGEBYSCORE', fk('r', key), '(' .. (now - tonumber(period)), '+inf')
  end
  out[#out + 1] = '#' .. kind
  out[#out + 1] = '#' .. key
  out[#out + 1] = tonumber(limit)
  out[#out + 1] = tonumber(period) or 0
  out[#out + 1] = waiting
  out[#out + 1] = #holders
  for _, h in ipairs(holders) do out[#out + 1] = '#' .. h end
end
return out
`;

/** ARGV: prefix, workflowId, key, execution id, expected id ("" = none set). Returns the id that is set ("#"-prefixed). */
export const FLOW_DEBOUNCE = `${FLOW_PRELUDE}
local k = prefix .. ':flow:d:' .. wf
local current = redis.call('HGET', k, ARGV[3]) or ''
if current ~= ARGV[5] then return '#' .. current end
redis.call('HSET', k, ARGV[3], ARGV[4])
return '#' .. ARGV[4]
`;
