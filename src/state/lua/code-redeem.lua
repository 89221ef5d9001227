--[[
code-redeem: single-use redemption of an authorization code, atomically.

KEYS[1]  code: <prefix>oauth:code:<sha256 of the code>   hash  g = the grant as JSON, f = family id once redeemed
ARGV[1]  the refresh-token family id this redemption will produce

Returns  {'ok', grant JSON}      first redemption; the code is now used (it stays until its TTL, to catch replays)
         {'used', family id}     a replay: the caller revokes that family
         {'unknown'}             no such code (never issued, or expired)
--]]
local grant = redis.call('HGET', KEYS[1], 'g')
if not grant then return {'unknown'} end
local family = redis.call('HGET', KEYS[1], 'f')
if family then return {'used', family} end
redis.call('HSET', KEYS[1], 'f', ARGV[1])
return {'ok', grant}
