--[[
  Gives a GPU slot of one host to a waiting worker, never more holders than slots.

  KEYS[1] holders     zset   worker id -> lease expiry (ms, server clock)
  KEYS[2] waiters     hash   worker id -> what it waits with (JSON)
  KEYS[3] high_water  string most holders ever at once
  ARGV[1] worker id
  ARGV[2] slots (GPU_CONCURRENCY)
  ARGV[3] lease in ms

  Reply: 1 granted (the worker is a holder and no longer a waiter; a worker already holding a slot
         keeps it with its lease extended), 0 no free slot
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- A holder whose lease ran out died without releasing: its slot is free again.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)

local me = ARGV[1]
if redis.call('ZSCORE', KEYS[1], me) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), me)
  return 1
end
local holders = redis.call('ZCARD', KEYS[1])
if holders >= tonumber(ARGV[2]) then return 0 end

redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), me)
redis.call('HDEL', KEYS[2], me)
local high = tonumber(redis.call('GET', KEYS[3]) or '0')
if holders + 1 > high then redis.call('SET', KEYS[3], holders + 1) end
return 1
