--[[
session-touch: load a session record and push its expiry out, in one round trip.

KEYS[1]  session hash: <prefix>session:<sessionId>
ARGV[1]  now, epoch ms (the caller's clock, the one expiresAt is measured against)
ARGV[2]  idle TTL in ms

The new TTL is min(idle TTL, expiresAt - now). When the credential has expired meanwhile the record is deleted.

Returns  nil when the session is unknown, expired or was just deleted;
         otherwise { recordJson, activeBusinessId or '' }.
--]]
local key = KEYS[1]
local fields = redis.call('HMGET', key, 'r', 'b', 'x')
if not fields[1] then
  return nil
end
local ttl = tonumber(ARGV[2])
if fields[3] and fields[3] ~= '' then
  local remaining = tonumber(fields[3]) - tonumber(ARGV[1])
  if remaining < ttl then ttl = remaining end
end
ttl = math.floor(ttl)
if ttl <= 0 then
  redis.call('DEL', key)
  return nil
end
redis.call('PEXPIRE', key, ttl)
return { fields[1], fields[2] or '' }
