--[[
  Grants (or resizes) a memory reservation on one host, never letting the sum pass the budget.

  KEYS[1] reservations  hash   holder -> bytes
  KEYS[2] leases        zset   holder -> lease expiry (ms, server clock)
  KEYS[3] tokens        hash   holder -> fencing token of its current grant
  KEYS[4] fence         string monotonically increasing token counter
  KEYS[5] high_water    string largest sum of reservations ever granted
  ARGV[1] holder id
  ARGV[2] bytes wanted
  ARGV[3] budget in bytes
  ARGV[4] lease in ms
  (after ledger-expire.lua: expired reservations are already freed, `now` is set)

  Reply: { 1, token, sum_after }   granted (a new token: any earlier grant of this holder is fenced off)
         { 0, sum_of_others, 0 }   refused: sum_of_others + bytes would pass the budget
]]
local holder = ARGV[1]
local wanted = tonumber(ARGV[2])
local budget = tonumber(ARGV[3])

local others = 0
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if all[i] ~= holder then others = others + tonumber(all[i + 1]) end
end

if others + wanted > budget then
  return { 0, others, 0 }
end

local token = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[1], holder, wanted)
redis.call('HSET', KEYS[3], holder, token)
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[4]), holder)
local sum = others + wanted
local high = tonumber(redis.call('GET', KEYS[5]) or '0')
if sum > high then redis.call('SET', KEYS[5], sum) end
return { 1, token, sum }
