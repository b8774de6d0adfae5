--[[
  Prelude of every ledger script (ledger.ts puts it in front of each): reservations whose lease ran
  out belong to dead holders and free their memory before anything reads or changes the ledger.

  KEYS[1] reservations  hash   holder -> bytes
  KEYS[2] leases        zset   holder -> lease expiry (ms, server clock)
  KEYS[3] tokens        hash   holder -> fencing token of its current grant

  Leaves `now` (ms, server clock) for the script that follows.
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for _, holder in ipairs(redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)) do
  redis.call('HDEL', KEYS[1], holder)
  redis.call('HDEL', KEYS[3], holder)
  redis.call('ZREM', KEYS[2], holder)
end
