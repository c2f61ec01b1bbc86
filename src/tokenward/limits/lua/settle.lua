-- settle.lua: end a reservation, by commit (true-up), release (return the tokens) or
-- cancel (return everything, request entries too: refused by a later stage).
-- No-op returning 0 when the lease is gone: already settled, or expired (then the
-- token entries stay at the estimate; see limits/backend.py).
--
-- KEYS[1]          lease key of the reservation
-- KEYS[3i-1..3i+1] per held limit i: log or slot zset, amount hash, running sum
-- ARGV             offset_us, reservation id, mode ("commit" | "release" | "cancel"),
--                  actual tokens, n, then per limit: kind ("t" tokens log, "r" requests
--                  log, "c" slots, "u" tokens session, "s" requests session: a
--                  session's first key holds the session end)
-- Returns          1 when settled here, 0 otherwise

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[1])
local rid, mode, actual, n = ARGV[2], ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])

local expires = redis.call('GET', KEYS[1])
if not expires or tonumber(expires) <= now then
  return 0
end
redis.call('DEL', KEYS[1])

for i = 1, n do
  local kind = ARGV[5 + i]
  local k = 1 + (i - 1) * 3
  local kz, ka, ks = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  if kind == 'c' then
    redis.call('ZREM', kz, rid)
  elseif kind == 'u' or (kind == 's' and mode == 'cancel') then
    -- only the current session: an ended one's entries are not this session's usage
    local stop = tonumber(redis.call('GET', kz) or '')
    local old = redis.call('HGET', ka, rid)
    if stop and stop > now and old then
      if mode == 'commit' then
        redis.call('HSET', ka, rid, string.format('%d', actual))
        redis.call('INCRBY', ks, string.format('%d', actual - tonumber(old)))
      else
        redis.call('HDEL', ka, rid)
        redis.call('DECRBY', ks, old)
      end
    end
  elseif kind == 't' or (kind == 'r' and mode == 'cancel') then
    local old = redis.call('HGET', ka, rid)
    if old then
      if mode == 'commit' then
        redis.call('HSET', ka, rid, string.format('%d', actual))
        redis.call('INCRBY', ks, string.format('%d', actual - tonumber(old)))
      else
        redis.call('ZREM', kz, rid)
        redis.call('HDEL', ka, rid)
        redis.call('DECRBY', ks, old)
      end
    end
  end
end
return 1
