--[[
session-set-active-business: set the active business of a session that still exists.

KEYS[1]  session hash: <prefix>session:<sessionId>
ARGV[1]  business id                                              (hash field b)

Never creates the hash, so a deleted or expired session is not brought back; HSET leaves the TTL as it is.

Returns  1 when the session existed and was updated, 0 otherwise.
--]]
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'b', ARGV[1])
return 1
