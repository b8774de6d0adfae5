--[[
  Releases a holder's reservation, if the caller still holds the current grant.

  KEYS[1] reservations  hash   holder -> bytes
  KEYS[2] leases        zset   holder -> lease expiry (ms)
  KEYS[3] tokens        hash   holder -> fencing token
  ARGV[1] holder id
  ARGV[2] fencing token of the caller's grant

  (after ledger-expire.lua: a grant whose lease ran out is no longer held)

  Reply: bytes released, or -1 when the caller no longer holds it (nothing changed)
]]
local holder = ARGV[1]
if redis.call('HGET', KEYS[3], holder) ~= ARGV[2] then
  return -1
end
local bytes = tonumber(redis.call('HGET', KEYS[1], holder) or '0')
redis.call('HDEL', KEYS[1], holder)
redis.call('HDEL', KEYS[3], holder)
redis.call('ZREM', KEYS[2], holder)
return bytes
