--[[
  Frees a GPU slot and charges the job that held it to the jobs it passed: every model whose oldest
  waiting job is older than the released one gets [released job's submission time, time held] appended
  to its pass log (the scheduling policy's budget, shared/src/scheduling/policy.ts). Entries submitted no
  later than that model's oldest waiting job are dropped: they passed none of its jobs still waiting.
  A caller that no longer held a slot (its lease ran out) charges nobody.

  KEYS[1] holders  zset  worker id -> lease expiry (ms)
  KEYS[2] waiters  hash  worker id -> what it waits with (JSON: model, since, ...)
  KEYS[3] passes   hash  model -> pass log (JSON array of [since, held ms])
  ARGV[1] worker id
  ARGV[2] submission time of the job it ran (ms)
  ARGV[3] time it held the slot (ms)
  ARGV[4] channel to publish "changed" on
  ARGV[5] expiry of the passes hash in ms (renewed by every charge)

  Reply: the number of models charged
]]
local since = tonumber(ARGV[2])
local held = tonumber(ARGV[3])

-- Everything is read and decoded before the first write: a malformed entry is skipped, never an
-- error that would leave the slot freed and the charges half made.
local function decode(raw)
  local ok, value = pcall(cjson.decode, raw)
  if ok then return value end
  return nil
end

-- Oldest waiting job per model: a model's later jobs were waiting too, behind it.
local oldest = {}
local waiters = redis.call('HGETALL', KEYS[2])
for i = 2, #waiters, 2 do
  local w = decode(waiters[i])
  if type(w) == 'table' and type(w.since) == 'number' and type(w.model) == 'string' and w.since < since
    and (oldest[w.model] == nil or w.since < oldest[w.model]) then
    oldest[w.model] = w.since
  end
end

local logs = {}
for model, head in pairs(oldest) do
  local log = {}
  local entries = decode(redis.call('HGET', KEYS[3], model) or '[]')
  if type(entries) == 'table' then
    for _, e in ipairs(entries) do
      if type(e) == 'table' and type(e[1]) == 'number' and e[1] > head then log[#log + 1] = e end
    end
  end
  log[#log + 1] = { since, held }
  logs[model] = log
end

if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end

local charged = 0
for model, log in pairs(logs) do
  redis.call('HSET', KEYS[3], model, cjson.encode(log))
  charged = charged + 1
end
if charged > 0 then redis.call('PEXPIRE', KEYS[3], ARGV[5]) end

redis.call('PUBLISH', ARGV[4], 'changed')
return charged
