--[[
code-redeem: single-use redemption of an authorization code, atomically.

KEYS[1]  code: <prefix>oauth:code:<sha256 of the code>
         hash  g = the grant as JSON; once redeemed: f = family id, j = access token jti, e = its expiry (epoch ms);
               once replayed: r = 1
ARGV[1]  the refresh-token family id this redemption will produce
ARGV[2]  the jti of the access token it will mint   ARGV[3] that token's expiry (epoch ms)

Returns  {'ok', grant JSON}                     first redemption; the code is now used (it stays until its TTL,
                                                to catch replays)
         {'used', family id, jti, expiry}       a replay: the code is marked replayed, and the caller revokes
                                                what the first redemption produced
         {'unknown'}                            no such code (never issued, or expired)
--]]
local grant = redis.call('HGET', KEYS[1], 'g')
if not grant then return {'unknown'} end
local first = redis.call('HMGET', KEYS[1], 'f', 'j', 'e')
if first[1] then
  redis.call('HSET', KEYS[1], 'r', '1')
  return {'used', first[1], first[2], first[3]}
end
redis.call('HSET', KEYS[1], 'f', ARGV[1], 'j', ARGV[2], 'e', ARGV[3])
return {'ok', grant}
