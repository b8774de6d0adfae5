--[[
  Frees a GPU slot and charges the job that held it to the jobs it passed: every model whose oldest
  waiting job is older than the released one gets [released job's submission time, time held] appended
  to its pass log (the scheduling policy's budget, shared/src/scheduling/policy.ts). Entries no older than
  that model's oldest waiting job are dropped: they passed none of its jobs still waiting.

  KEYS[1] holders  zset  worker id -> lease expiry (ms)
  KEYS[2] waiters  hash  worker id -> what it waits with (JSON: model, since, ...)
  KEYS[3] passes   hash  model -> pass log (JSON array of [since, held ms])
  ARGV[1] worker id
  ARGV[2] submission time of the job it ran (ms)
  ARGV[3] time it held the slot (ms)
  ARGV[4] channel to publish "changed" on

  Reply: the number of models charged
]]
redis.call('ZREM', KEYS[1], ARGV[1])
local since = tonumber(ARGV[2])
local held = tonumber(ARGV[3])

-- Oldest waiting job per model: a model's later jobs were waiting too, behind it.
local oldest = {}
local waiters = redis.call('HGETALL', KEYS[2])
for i = 2, #waiters, 2 do
  local w = cjson.decode(waiters[i])
  if w.since < since and (oldest[w.model] == nil or w.since < oldest[w.model]) then oldest[w.model] = w.since end
end

local charged = 0
for model, head in pairs(oldest) do
  local log = {}
  local raw = redis.call('HGET', KEYS[3], model)
  if raw then
    for _, e in ipairs(cjson.decode(raw)) do
      if e[1] > head then log[#log + 1] = e end
    end
  end
  log[#log + 1] = { since, held }
  redis.call('HSET', KEYS[3], model, cjson.encode(log))
  charged = charged + 1
end

redis.call('PUBLISH', ARGV[4], 'changed')
return charged
