--[[
  Admits one submission to a model's queue, or says why not, in one step: the submitting key's token
  bucket, then the cap on the model's jobs that have not started. An admitted submission holds a token
  in the admissions set until the API has added the job and removed it (or until it expires, should the
  API die in between), so concurrent submissions can never pass the cap together. A refused submission
  changes nothing: it neither spends a bucket token nor holds a place.

  KEYS[1] admissions    zset  admission token -> expiry (ms)
  KEYS[2] wait          list  BullMQ's waiting jobs
  KEYS[3] paused        list  BullMQ's waiting jobs of a paused queue
  KEYS[4] prioritized   zset  BullMQ's waiting jobs with a priority
  KEYS[5] delayed       zset  BullMQ's delayed jobs (including retries in backoff)
  KEYS[6] bucket        hash  tokens, at (ms): the key's submissions
  ARGV[1] admission token, unique per submission
  ARGV[2] admission lifetime (ms)
  ARGV[3] cap on jobs not started (0 = no cap: KEYS[1] to KEYS[5] are then never touched)
  ARGV[4] bucket refill, tokens per minute (0 = no rate limit)
  ARGV[5] bucket size (the burst)
  ARGV[6] prefix of the cancellation keys: a job cancelled while queued (<prefix><job id> exists) waits
          only for a worker to record it and holds no place

  Reply: {0, 0}                                   admitted
         {1, ms until the bucket holds a token}   rate limited
         {2, jobs not started, in-flight included} queue full
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[3])
local rate = tonumber(ARGV[4])
local burst = tonumber(ARGV[5])

local tokens = burst
if rate > 0 then
  local bucket = redis.call('HMGET', KEYS[6], 'tokens', 'at')
  if bucket[1] then
    tokens = math.min(burst, tonumber(bucket[1]) + math.max(0, now - tonumber(bucket[2])) * rate / 60000)
  end
  if tokens < 1 then
    return {1, math.ceil((1 - tokens) * 60000 / rate)}
  end
end

if cap > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
  local function pending(ids)
    local n = 0
    for _, id in ipairs(ids) do
      if redis.call('EXISTS', ARGV[6] .. id) == 0 then
        n = n + 1
      end
    end
    return n
  end
  local queued = pending(redis.call('LRANGE', KEYS[2], 0, -1)) + pending(redis.call('LRANGE', KEYS[3], 0, -1))
    + pending(redis.call('ZRANGE', KEYS[4], 0, -1)) + pending(redis.call('ZRANGE', KEYS[5], 0, -1))
    + redis.call('ZCARD', KEYS[1])
  if queued >= cap then
    return {2, queued}
  end
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]))
end

if rate > 0 then
  redis.call('HSET', KEYS[6], 'tokens', tostring(tokens - 1), 'at', now)
  redis.call('PEXPIRE', KEYS[6], math.ceil(burst * 60000 / rate) + 1000)
end
return {0, 0}
