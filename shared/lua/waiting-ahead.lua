--[[
  Counts a queue's waiting jobs as a user sees them: a job cancelled while queued stays in BullMQ's wait
  list until a worker reaches it and records the cancellation, but it is no longer ahead of anyone.

  KEYS[1] wait   list  BullMQ's waiting jobs (workers take from the tail)
  ARGV[1] a job id: count the jobs ahead of it; "": count the whole list
  ARGV[2] prefix of the cancellation keys (<prefix><job id> exists while a cancellation is pending or done)

  Reply: the count, or false when ARGV[1] is not in the list
]]
local from = 0
if ARGV[1] ~= '' then
  local at = redis.call('LPOS', KEYS[1], ARGV[1])
  if not at then
    return false
  end
  from = at + 1
end
local n = 0
for _, id in ipairs(redis.call('LRANGE', KEYS[1], from, -1)) do
  if redis.call('EXISTS', ARGV[2] .. id) == 0 then
    n = n + 1
  end
end
return n
