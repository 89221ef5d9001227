--[[
cart-clear: empty a cart, optionally only if its version is still the one the caller saw.

KEYS[1]  cart hash: <prefix>cart:{<businessId>:<userId>}:<handle>
ARGV[1]  expected version as a decimal integer, or '' to clear unconditionally (an absent cart has version 0)
ARGV[2]  cart TTL in ms, applied on change

Clearing a cart that has lines removes them, bumps the version and resets the TTL; the version is kept (not
reset to 0) so a later cart never repeats a version an earlier checkout was keyed on. Clearing a cart that has no
lines changes nothing.

Returns  1 when the cart is now empty, 0 when the version did not match (nothing changed).
--]]
local key = KEYS[1]
local version = redis.call('HGET', key, 'v') or '0'
if ARGV[1] ~= '' and ARGV[1] ~= version then
  return 0
end
local lines = redis.call('HLEN', key) - redis.call('HEXISTS', key, 'v')
if lines <= 0 then
  return 1
end
redis.call('DEL', key)
redis.call('HSET', key, 'v', version)
redis.call('HINCRBY', key, 'v', 1)
redis.call('PEXPIRE', key, ARGV[2])
return 1
