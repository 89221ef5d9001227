--[[
session-touch: load a session record and push its expiry out, in one round trip.

KEYS[1]  session hash: <prefix>session:<sessionId>
ARGV[1]  now, epoch ms (the caller's clock, the one expiresAt is measured against)
ARGV[2]  idle TTL in ms
ARGV[3]  the uid of the credential presented with this request ('' to renew nothing)
ARGV[4]  that credential's expiry in epoch ms ('' when it never expires)

A session's cap (x) is the expiry of its credential. When the session's own principal (the record's principal.uid)
presents a credential that lasts longer — a refreshed access token — the cap moves to it, so refreshing keeps the
session. Another principal's credential changes nothing (and is refused by the caller). The record is decoded only
when a later expiry is presented, which happens once per refresh, not per request. The new TTL is min(idle TTL, cap - now).
When the credential has expired meanwhile the record is deleted.

Returns  nil when the session is unknown, expired or was just deleted;
         otherwise { recordJson, activeBusinessId or '' }.
--]]
local key = KEYS[1]
local fields = redis.call('HMGET', key, 'r', 'b', 'x')
if not fields[1] then
  return nil
end
if ARGV[3] ~= '' and fields[3] and fields[3] ~= '' and (ARGV[4] == '' or tonumber(ARGV[4]) > tonumber(fields[3])) then
  local ok, record = pcall(cjson.decode, fields[1])
  if ok and type(record) == 'table' and type(record.principal) == 'table' and record.principal.uid == ARGV[3] then
    redis.call('HSET', key, 'x', ARGV[4])
    fields[3] = ARGV[4]
  end
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
