--[[
  The live reservations (after ledger-expire.lua has freed the expired ones), for every view of the
  ledger: a killed worker's memory shows as free once its lease has run out, not at the next grant.

  KEYS[1..3] as ledger-expire.lua

  Reply: HGETALL of the reservations (holder, bytes, ...)
]]
return redis.call('HGETALL', KEYS[1])
