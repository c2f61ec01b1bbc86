-- renew.lua: push a live lease, and its concurrency slots, out to now + lease.
--
-- KEYS[1]     lease key of the reservation
-- KEYS[2..]   slot zsets of the concurrency limits it holds
-- ARGV        offset_us, reservation id, lease_us
-- Returns     the new lease expiry in microseconds, or -1 when the lease was lost

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2]) + tonumber(ARGV[1])
local rid, lease = ARGV[2], tonumber(ARGV[3])

local expires = redis.call('GET', KEYS[1])
if not expires or tonumber(expires) <= now then
  return -1
end
local new = now + lease
local ms = math.ceil(lease / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%d', new), 'PX', ms)
for i = 2, #KEYS do
  if redis.call('ZADD', KEYS[i], 'XX', 'CH', string.format('%d', new), rid) == 1 then
    if redis.call('PTTL', KEYS[i]) < ms then
      redis.call('PEXPIRE', KEYS[i], ms)
    end
  end
end
return new
