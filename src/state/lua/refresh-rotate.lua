--[[
refresh-rotate: use a refresh token once, atomically; a rotated-away token revokes its whole family.

KEYS[1]  family: <prefix>oauth:rt:{<familyId>}         hash (see refresh-create.lua)
KEYS[2]  used:   <prefix>oauth:rt:{<familyId>}:used    set of the hashes of rotated-away tokens
ARGV[1]  hash of the presented token   ARGV[2] hash of its successor   ARGV[3] client id presenting it
ARGV[4]  jti of the access token minted with the successor   ARGV[5] its expiry (epoch ms)   ARGV[6] idle TTL in ms
         (both keys get it, capped by the family's absolute expiry `x`)

Returns  {'ok', family JSON}
         {'reused', family JSON, last access jti, its expiry}   the family is deleted
         {'wrong_client'}                                        nothing changed
         {'unknown'}                                             no such family, or a token it never issued
--]]
local current = redis.call('HGET', KEYS[1], 'c')
if not current then return {'unknown'} end
if current == ARGV[1] then
  if redis.call('HGET', KEYS[1], 'k') ~= ARGV[3] then return {'wrong_client'} end
  redis.call('SADD', KEYS[2], ARGV[1])
  redis.call('HSET', KEYS[1], 'c', ARGV[2], 'j', ARGV[4], 'e', ARGV[5])
  local cap = redis.call('HGET', KEYS[1], 'x')
  for _, key in ipairs(KEYS) do
    redis.call('PEXPIRE', key, ARGV[6])
    redis.call('PEXPIREAT', key, cap, 'LT')
  end
  return {'ok', redis.call('HGET', KEYS[1], 'f')}
end
if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then
  local fields = redis.call('HMGET', KEYS[1], 'f', 'j', 'e')
  redis.call('DEL', KEYS[1], KEYS[2])
  return {'reused', fields[1], fields[2] or '', fields[3] or ''}
end
return {'unknown'}
