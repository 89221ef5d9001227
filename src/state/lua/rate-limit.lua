--[[
rate-limit: one hit against every given bucket of one subject, or against none (a sliding-window log per bucket).

KEYS[i]      bucket i: <prefix>rl:{<subject>}:<bucket>; all keys of one call share the hash tag (one cluster slot)
ARGV[1]      a member id unique to this hit
ARGV[2i]     limit of bucket i: hits allowed within the window (>= 1)
ARGV[2i+1]   window of bucket i in ms

A bucket is a sorted set of the hits it admitted, scored by the Redis server's clock in microseconds (TIME), so
instances whose clocks disagree still share one window. Hits older than the window are dropped first; a bucket
that still holds `limit` hits refuses. A refused hit charges no bucket: a client that keeps knocking while refused
does not push its own wait further out, and a refused write leaves the request bucket as it was.

Each key expires one window after its last admitted hit.

Returns  { 1, remaining }          admitted; remaining = the least room any bucket has left after this hit
         { 0, i, retryAfterMs }    refused by bucket i (1-based), the one that frees up last; nothing charged
--]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local refused, retry, remaining = 0, 0, -1
for i = 1, #KEYS do
  local limit = tonumber(ARGV[2 * i])
  local window = tonumber(ARGV[2 * i + 1]) * 1000
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  local count = redis.call('ZCARD', KEYS[i])
  if count >= limit then
    -- One more fits once the hit at rank (count - limit) has left the window.
    local hit = redis.call('ZRANGE', KEYS[i], count - limit, count - limit, 'WITHSCORES')
    local wait = tonumber(hit[2]) + window - now
    if refused == 0 or wait > retry then
      refused, retry = i, wait
    end
  else
    local left = limit - count - 1
    if remaining < 0 or left < remaining then remaining = left end
  end
end
if refused > 0 then
  return { 0, refused, math.max(1, math.ceil(retry / 1000)) }
end
for i = 1, #KEYS do
  redis.call('ZADD', KEYS[i], now, ARGV[1])
  redis.call('PEXPIRE', KEYS[i], ARGV[2 * i + 1])
end
return { 1, remaining }
