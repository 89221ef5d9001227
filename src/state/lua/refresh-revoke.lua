--[[
refresh-revoke: delete a refresh-token family, returning what it was.

KEYS[1]  family: <prefix>oauth:rt:{<familyId>}
KEYS[2]  used:   <prefix>oauth:rt:{<familyId>}:used

Returns  {family JSON, last access jti, its expiry}, or {} when there was no such family
--]]
local fields = redis.call('HMGET', KEYS[1], 'f', 'j', 'e')
if not fields[1] then return {} end
redis.call('DEL', KEYS[1], KEYS[2])
return {fields[1], fields[2] or '', fields[3] or ''}
