-- acquire.lua: check every limit, then reserve on all of them or on none.
-- The sliding log of limits/backend.py; limits/memory.py is the same algorithm in Python.
-- Time is Redis TIME (one clock for every replica) plus ARGV[1], a test-only offset (0).
--
-- KEYS[1]          lease key of the reservation (value: lease expiry in microseconds)
-- KEYS[3i-1..3i+1] per limit i: log zset (id -> timestamp) or slot zset (id -> lease
--                  expiry) or session end (string, microseconds), amount hash
--                  (id -> amount; for sessions, token amounts only), running sum (string)
-- ARGV             offset_us, lease_us, reservation id, dry ("1": peek, reserve nothing),
--                  n, then per limit: limit, window_us (0: concurrency), amount,
--                  session ("-": sliding or concurrency, "r": requests, "t": tokens)
-- Returns          {admitted, now_us, lease_expiry_us, then per limit: used, reset_us, retry_us}
--                  retry_us: 0 fits, -1 never fits (amount > limit), else wait until it fits

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local rid = ARGV[3]
local dry = ARGV[4] == '1'
local n = tonumber(ARGV[5])
local CHUNK = 500
local MARGIN_MS = 1000

-- Lua numbers are doubles: format integers by hand, tostring() would print 1.7e+15
local function int(x)
  return string.format('%d', x)
end

local function ttl_ms(us)
  return math.ceil(us / 1000) + MARGIN_MS
end

-- only ever lengthen a TTL: replicas may run with different lease lengths
local function extend_ttl(key, ms)
  if redis.call('PTTL', key) < ms then
    redis.call('PEXPIRE', key, ms)
  end
end

-- drop log entries at or before cutoff, keeping the running sum in step
local function purge_log(kz, ka, ks, cutoff)
  while true do
    local old = redis.call('ZRANGEBYSCORE', kz, '-inf', int(cutoff), 'LIMIT', 0, CHUNK)
    if #old == 0 then
      break
    end
    local amounts = redis.call('HMGET', ka, unpack(old))
    local freed = 0
    for j = 1, #old do
      freed = freed + (tonumber(amounts[j]) or 0)
    end
    redis.call('ZREM', kz, unpack(old))
    redis.call('HDEL', ka, unpack(old))
    redis.call('DECRBY', ks, int(freed))
    if #old < CHUNK then
      break
    end
  end
  -- an empty log has a zero sum: resynchronise if a key was lost (eviction, FLUSH)
  if redis.call('ZCARD', kz) == 0 then
    redis.call('DEL', ka, ks)
  end
end

-- time until the oldest entries free `need` units (ties share a timestamp, so order
-- among them does not change the answer)
local function log_wait(kz, ka, need, window)
  local start, freed = 0, 0
  while true do
    local rows = redis.call('ZRANGE', kz, start, start + CHUNK - 1, 'WITHSCORES')
    if #rows == 0 then
      return window
    end
    local ids = {}
    for j = 1, #rows, 2 do
      ids[#ids + 1] = rows[j]
    end
    local amounts = redis.call('HMGET', ka, unpack(ids))
    for j = 1, #ids do
      freed = freed + (tonumber(amounts[j]) or 0)
      if freed >= need then
        return tonumber(rows[2 * j]) + window - now
      end
    end
    start = start + CHUNK
  end
end

local function newest(kz)
  local last = redis.call('ZRANGE', kz, -1, -1, 'WITHSCORES')
  if #last == 0 then
    return nil
  end
  return tonumber(last[2])
end

-- the end of a limit's current session, or nil (an ended session is deleted here)
local function session_end(kz, ka, ks)
  local stop = tonumber(redis.call('GET', kz) or '')
  if stop == nil or stop <= now then
    redis.call('DEL', kz, ka, ks)
    return nil
  end
  return stop
end

local STRIDE = 4
local out = {}
local ends = {}
local admitted = true
for i = 1, n do
  local a = 5 + (i - 1) * STRIDE
  local limit, window, amount = tonumber(ARGV[a + 1]), tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local session = ARGV[a + 4] ~= '-'
  local k = 1 + (i - 1) * 3
  local kz, ka, ks = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
  local used, reset, retry = 0, 0, 0
  if session then
    local stop = session_end(kz, ka, ks)
    ends[i] = stop
    if stop then
      used = tonumber(redis.call('GET', ks) or '0')
      reset = stop - now
    end
    if amount > limit then
      retry = -1
    elseif used + amount > limit then
      retry = reset
    end
  elseif window > 0 then
    purge_log(kz, ka, ks, now - window)
    used = tonumber(redis.call('GET', ks) or '0')
    local last = newest(kz)
    if last then
      reset = last + window - now
    end
    if amount > limit then
      retry = -1
    elseif used + amount > limit then
      retry = log_wait(kz, ka, used + amount - limit, window)
    end
  else
    redis.call('ZREMRANGEBYSCORE', kz, '-inf', int(now))
    used = redis.call('ZCARD', kz)
    local last = newest(kz)
    if last then
      reset = last - now
    end
    local over = used + amount - limit
    if over > 0 then
      local row = redis.call('ZRANGE', kz, over - 1, over - 1, 'WITHSCORES')
      retry = tonumber(row[2]) - now
    end
  end
  if retry ~= 0 then
    admitted = false
  end
  out[i] = {used, reset, retry}
end

if dry then
  admitted = false
end
local expires = now + lease
if admitted then
  redis.call('SET', KEYS[1], int(expires), 'PX', ttl_ms(lease))
  for i = 1, n do
    local a = 5 + (i - 1) * STRIDE
    local window, amount = tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
    local session = ARGV[a + 4]
    local k = 1 + (i - 1) * 3
    local kz, ka, ks = KEYS[k + 1], KEYS[k + 2], KEYS[k + 3]
    if session ~= '-' then
      local stop = ends[i]
      if not stop then
        stop = now + window
        redis.call('SET', kz, int(stop))
      end
      redis.call('INCRBY', ks, int(amount))
      -- per reservation, so a true-up (tokens) or a cancel (any) can find it
      redis.call('HSET', ka, rid, int(amount))
      -- the keys live as long as the session (plus the margin)
      local ms = ttl_ms(stop - now)
      redis.call('PEXPIRE', kz, ms)
      redis.call('PEXPIRE', ka, ms)
      redis.call('PEXPIRE', ks, ms)
      out[i][1] = out[i][1] + amount
      out[i][2] = stop - now
    elseif window > 0 then
      redis.call('ZADD', kz, int(now), rid)
      redis.call('HSET', ka, rid, int(amount))
      redis.call('INCRBY', ks, int(amount))
      -- every entry is at most `window` old, so the keys outlive their last entry
      local ms = ttl_ms(window)
      redis.call('PEXPIRE', kz, ms)
      redis.call('PEXPIRE', ka, ms)
      redis.call('PEXPIRE', ks, ms)
      out[i][1] = out[i][1] + amount
      out[i][2] = window
    else
      redis.call('ZADD', kz, int(expires), rid)
      extend_ttl(kz, ttl_ms(lease))
      out[i][1] = out[i][1] + amount
      out[i][2] = math.max(out[i][2], lease)
    end
  end
end

local reply = {admitted and 1 or 0, now, expires}
for i = 1, n do
  reply[#reply + 1] = out[i][1]
  reply[#reply + 1] = out[i][2]
  reply[#reply + 1] = out[i][3]
end
return reply
