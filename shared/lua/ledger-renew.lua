--[[
  Extends a holder's lease, and optionally shrinks its reservation (peak load -> resident footprint).
  Only the current grant may do this: a holder whose lease expired, or whose token was superseded,
  is refused and must reserve again.

  KEYS[1] reservations  hash   holder -> bytes
  KEYS[2] leases        zset   holder -> lease expiry (ms)
  KEYS[3] tokens        hash   holder -> fencing token
  ARGV[1] holder id
  ARGV[2] fencing token of the caller's grant
  ARGV[3] lease in ms
  ARGV[4] new size in bytes, or '' to keep the size (a renewal can only shrink, never grow)
  (after ledger-expire.lua: an expired lease is already gone, `now` is set)

  Reply: 1 renewed, 0 not the current holder (lease expired or token fenced)
]]
local holder = ARGV[1]

local expiry = tonumber(redis.call('ZSCORE', KEYS[2], holder) or '0')
if expiry <= now or redis.call('HGET', KEYS[3], holder) ~= ARGV[2] then
  return 0
end

redis.call('ZADD', KEYS[2], now + tonumber(ARGV[3]), holder)
if ARGV[4] ~= '' then
  local current = tonumber(redis.call('HGET', KEYS[1], holder))
  local size = tonumber(ARGV[4])
  if size < current then redis.call('HSET', KEYS[1], holder, size) end
end
return 1
