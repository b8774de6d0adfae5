--[[
  Extends a GPU slot holder's lease, on the server's clock (workers on other hosts may drift).

  KEYS[1] holders   zset  worker id -> lease expiry (ms)
  ARGV[1] worker id
  ARGV[2] lease in ms

  Reply: 1 renewed, 0 the worker holds no slot (its lease ran out, or it never had one)
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local expiry = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '0')
if expiry <= now then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
return 1
