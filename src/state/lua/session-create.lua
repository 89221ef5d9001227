--[[
session-create: store a new session record with its TTL capped by the credential's expiry.

KEYS[1]  session hash: <prefix>session:<sessionId>
ARGV[1]  the SessionRecord as JSON, without activeBusinessId      (hash field r)
ARGV[2]  activeBusinessId, or '' for none                         (hash field b)
ARGV[3]  principal.expiresAt in epoch ms, or '' when it never expires (hash field x)
ARGV[4]  now, epoch ms (the caller's clock, the one expiresAt is measured against)
ARGV[5]  idle TTL in ms

Any previous record under the same id is replaced. The TTL is min(idle TTL, expiresAt - now); when that is not
positive the credential has already expired and nothing is stored.

Returns  the TTL applied in ms (integer > 0), or 0 when nothing was stored.
--]]
local key = KEYS[1]
local now = tonumber(ARGV[4])
local ttl = tonumber(ARGV[5])
if ARGV[3] ~= '' then
  local remaining = tonumber(ARGV[3]) - now
  if remaining < ttl then ttl = remaining end
end
ttl = math.floor(ttl)
redis.call('DEL', key)
if ttl <= 0 then
  return 0
end
redis.call('HSET', key, 'r', ARGV[1], 'x', ARGV[3])
if ARGV[2] ~= '' then
  redis.call('HSET', key, 'b', ARGV[2])
end
redis.call('PEXPIRE', key, ttl)
return ttl
