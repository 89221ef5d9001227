--[[
refresh-create: start a refresh-token family.

KEYS[1]  family: <prefix>oauth:rt:{<familyId>}   hash  f = family JSON, k = client id, c = current token hash,
                                                       j = last access token jti, e = its expiry (epoch ms),
                                                       x = the family's absolute expiry (epoch ms)
ARGV[1]  family JSON   ARGV[2] client id   ARGV[3] token hash   ARGV[4] access jti   ARGV[5] access expiry
ARGV[6]  idle TTL in ms   ARGV[7] the family's absolute expiry (epoch ms): no TTL ever reaches past it

Returns  1
--]]
redis.call('HSET', KEYS[1], 'f', ARGV[1], 'k', ARGV[2], 'c', ARGV[3], 'j', ARGV[4], 'e', ARGV[5], 'x', ARGV[7])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('PEXPIREAT', KEYS[1], ARGV[7], 'LT')
return 1
