--[[
cart-remove: remove one line from a cart.

KEYS[1]  cart hash: <prefix>cart:{<businessId>:<userId>}:<handle>
ARGV[1]  line field: 's:' .. sku
ARGV[2]  cart TTL in ms, applied on change

Removing a line bumps the version and resets the TTL; the (possibly empty) cart keeps its version.

Returns  { status, version, sku1, quantity1, ... } after the call; status is 'ok', or 'not_in_cart' (nothing
         changed) when the line was absent. Lines are unordered; the caller sorts.
--]]
local key = KEYS[1]
local field = ARGV[1]

local function snapshot(status)
  local all = redis.call('HGETALL', key)
  local out = { status, 0 }
  for i = 1, #all, 2 do
    local name = all[i]
    if name == 'v' then
      out[2] = tonumber(all[i + 1])
    elseif string.sub(name, 1, 2) == 's:' then
      out[#out + 1] = string.sub(name, 3)
      out[#out + 1] = tonumber(all[i + 1])
    end
  end
  return out
end

if redis.call('HDEL', key, field) == 0 then
  return snapshot('not_in_cart')
end
redis.call('HINCRBY', key, 'v', 1)
redis.call('PEXPIRE', key, ARGV[2])
return snapshot('ok')
