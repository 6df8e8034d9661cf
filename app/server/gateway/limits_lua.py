"""The Lua scripts of :class:`~app.server.gateway.limits_redis.RedisLimits`, one per operation.

Every script takes the same four keys of one API key (one hash tag, so a cluster keeps them
on one shard) and runs atomically in Redis, so replicas never interleave inside a check:

1. ``requests`` — sorted set of admitted requests (score: time; member ``1:<seq>``);
2. ``tokens`` — sorted set of charged tokens (score: time; member ``<tokens>:<seq>``);
3. ``holds`` — sorted set of reservations (score: lease end; member ``<tokens>:<usd>:<seq>``);
4. ``account`` — hash: ``requests`` and ``tokens`` (the windows' running totals), ``held_tokens``,
   ``held_usd``, ``spent`` (USD), ``seq``.

A window is exact, like the in-process deque: entries older than the window are dropped and
subtracted from the running total, so a check costs the entries that aged out, not the window.
A window or holds set Redis expired while idle resets its totals. A reservation whose lease ends
(its replica died mid-call) is released by the next script that looks. Times are seconds; the
first argument is the clock (``""`` = Redis ``TIME``, the one clock every replica shares).
Replies carry numbers as strings (Lua numbers would be truncated to integers).
"""

from __future__ import annotations

__all__ = ["ADMIT", "ADMIT_RESERVE", "RESERVE", "SCRIPTS", "SETTLE", "USAGE"]

_COMMON = """
local requests, tokens, holds, account = KEYS[1], KEYS[2], KEYS[3], KEYS[4]

local function clock(arg)
  if arg ~= '' then return tonumber(arg) end
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local function number(field)
  return tonumber(redis.call('HGET', account, field) or '0')
end

local function amount_of(member)
  return tonumber(string.match(member, '^([^:]+):'))
end

-- drop the window's entries at or before now - seconds; its running total after that
local function expire(window, field, now, seconds)
  if redis.call('EXISTS', window) == 0 then
    redis.call('HSET', account, field, 0)
    return 0
  end
  local total = number(field)
  local old = redis.call('ZRANGEBYSCORE', window, '-inf', now - seconds)
  if #old > 0 then
    for _, member in ipairs(old) do total = total - amount_of(member) end
    redis.call('ZREMRANGEBYSCORE', window, '-inf', now - seconds)
    redis.call('HSET', account, field, total)
  end
  return total
end

-- nil while total is under limit, else the seconds until enough ages out to get under it
local function retry_after(window, total, limit, now, seconds)
  local excess = total - limit + 1
  if excess <= 0 then return nil end
  local entries = redis.call('ZRANGE', window, 0, -1, 'WITHSCORES')
  for i = 1, #entries, 2 do
    excess = excess - amount_of(entries[i])
    if excess <= 0 then return tonumber(entries[i + 1]) + seconds - now end
  end
  return seconds
end

local function add(window, field, now, seconds, amount)
  local seq = redis.call('HINCRBY', account, 'seq', 1)
  redis.call('ZADD', window, now, amount .. ':' .. seq)
  redis.call('HINCRBY', account, field, amount)
  redis.call('PEXPIRE', window, math.ceil(seconds * 1000) + 1000)
end

local function release(member)
  local held_tokens, held_usd = string.match(member, '^([^:]+):([^:]+):')
  redis.call('HINCRBY', account, 'held_tokens', -tonumber(held_tokens))
  redis.call('HINCRBYFLOAT', account, 'held_usd', -tonumber(held_usd))
end

-- release the holds whose lease ended; the tokens and USD still held
local function expire_holds(now)
  local ended = redis.call('ZRANGEBYSCORE', holds, '-inf', now)
  for _, member in ipairs(ended) do release(member) end
  if #ended > 0 then redis.call('ZREMRANGEBYSCORE', holds, '-inf', now) end
  if redis.call('EXISTS', holds) == 0 then
    redis.call('HSET', account, 'held_tokens', 0, 'held_usd', 0)
    return 0, 0
  end
  return number('held_tokens'), number('held_usd')
end

-- the spend, starting from the persisted one the first time this account is seen
local function spent(persisted)
  redis.call('HSETNX', account, 'spent', persisted)
  redis.call('EXPIRE', account, 86400)
  return number('spent')
end
"""

_CHECKS = """
-- a: now, rpm (0 none), tpm (0 none), budget ('' none), persisted spend, window seconds
-- nil when admitted (the request is counted), else {'budget', spent} | {'rpm', wait} | {'tpm', wait, used}
local function admit(a)
  local now, rpm, tpm, budget = clock(a[1]), tonumber(a[2]), tonumber(a[3]), a[4]
  local seconds = tonumber(a[6])
  local used_usd = spent(a[5])
  if budget ~= '' and used_usd >= tonumber(budget) then return {'budget', tostring(used_usd)} end
  if rpm > 0 then
    local wait = retry_after(requests, expire(requests, 'requests', now, seconds), rpm, now, seconds)
    if wait then return {'rpm', tostring(wait)} end
  end
  if tpm > 0 then
    local used = expire(tokens, 'tokens', now, seconds)
    local wait = retry_after(tokens, used, tpm, now, seconds)
    if wait then return {'tpm', tostring(wait), tostring(used)} end
  end
  if rpm > 0 then add(requests, 'requests', now, seconds, 1) end
  return nil
end

-- a: now, tpm (0 none), budget ('' none), persisted spend, tokens, usd, lease seconds, window seconds
-- {'ok', hold} | {'budget', spent, held_usd} | {'tpm', wait, used, held_tokens}
local function reserve(a)
  local now, tpm, budget = clock(a[1]), tonumber(a[2]), a[3]
  local seconds = tonumber(a[8])
  local used_usd = spent(a[4])
  local held_tokens, held_usd = expire_holds(now)
  if budget ~= '' and used_usd + held_usd >= tonumber(budget) then
    return {'budget', tostring(used_usd), tostring(held_usd)}
  end
  if tpm > 0 then
    local used = expire(tokens, 'tokens', now, seconds)
    if used + held_tokens >= tpm then
      local wait = retry_after(tokens, used, tpm, now, seconds) or 1
      return {'tpm', tostring(wait), tostring(used), tostring(held_tokens)}
    end
  end
  local seq = redis.call('HINCRBY', account, 'seq', 1)
  local hold = a[5] .. ':' .. a[6] .. ':' .. seq
  local lease = tonumber(a[7])
  redis.call('ZADD', holds, now + lease, hold)
  redis.call('HINCRBY', account, 'held_tokens', tonumber(a[5]))
  redis.call('HINCRBYFLOAT', account, 'held_usd', a[6])
  redis.call('PEXPIRE', holds, math.ceil(lease * 1000) + 1000)
  return {'ok', hold}
end
"""

ADMIT = (
    _COMMON
    + _CHECKS
    + """
-- ARGV: admit's; reply: {'ok'} | admit's refusal
return admit(ARGV) or {'ok'}
"""
)

RESERVE = (
    _COMMON
    + _CHECKS
    + """
-- ARGV: reserve's
return reserve(ARGV)
"""
)

ADMIT_RESERVE = (
    _COMMON
    + _CHECKS
    + """
-- ARGV: admit's six, then reserve's eight: a chat request's admission and its hold in one round-trip
-- reply: reserve's, or {'admit', <admit's refusal>...}
local refused = admit({ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]})
if refused then return {'admit', unpack(refused)} end
return reserve({ARGV[7], ARGV[8], ARGV[9], ARGV[10], ARGV[11], ARGV[12], ARGV[13], ARGV[14]})
"""
)

SETTLE = (
    _COMMON
    + """
-- ARGV: now, hold ('' none), tokens, usd, tpm (0 none), persisted spend, window seconds
local now, hold, used_tokens = clock(ARGV[1]), ARGV[2], tonumber(ARGV[3])
if hold ~= '' and redis.call('ZREM', holds, hold) == 1 then release(hold) end
if tonumber(ARGV[5]) > 0 and used_tokens > 0 then
  expire(tokens, 'tokens', now, tonumber(ARGV[7]))
  add(tokens, 'tokens', now, tonumber(ARGV[7]), used_tokens)
end
spent(ARGV[6])
if tonumber(ARGV[4]) > 0 then redis.call('HINCRBYFLOAT', account, 'spent', ARGV[4]) end
return 'ok'
"""
)

USAGE = (
    _COMMON
    + """
-- ARGV: now, persisted spend, window seconds; reply: {requests, tokens, spent}
local now, seconds = clock(ARGV[1]), tonumber(ARGV[3])
local used_usd = spent(ARGV[2])
local used_requests = expire(requests, 'requests', now, seconds)
local used_tokens = expire(tokens, 'tokens', now, seconds)
return {tostring(used_requests), tostring(used_tokens), tostring(used_usd)}
"""
)

SCRIPTS = {"admit": ADMIT, "reserve": RESERVE, "admit_reserve": ADMIT_RESERVE, "settle": SETTLE, "usage": USAGE}
"""Every script by the name :class:`~app.server.gateway.limits_redis.RedisLimits` calls it."""
