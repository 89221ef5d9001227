--[[
cart-set: set one line of a cart to an exact quantity (0 removes it), refusing without any change past the limits.

KEYS[1]  cart hash: <prefix>cart:{<businessId>:<userId>}:<handle>
ARGV[1]  line field: 's:' .. sku
ARGV[2]  quantity, integer >= 0
ARGV[3]  maxLineQuantity
ARGV[4]  maxLines
ARGV[5]  cart TTL in ms, applied on change
ARGV[6]  now, epoch ms: the version of a cart that did not exist yet

Setting a line to the quantity it already has (or 0 for an absent line) changes nothing: no version bump, no TTL
reset. A real change bumps the version (a new cart starts at `now`) and resets the TTL.

Returns  { status, version, sku1, quantity1, ... } after the call; status is 'ok', 'line_quantity_exceeded' or
         'too_many_lines'. Lines are unordered; the caller sorts.
--]]
local key = KEYS[1]
local field = ARGV[1]
local quantity = tonumber(ARGV[2])
local maxQuantity = tonumber(ARGV[3])
local maxLines = tonumber(ARGV[4])

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

if not quantity or quantity < 0 or quantity ~= math.floor(quantity) then
  return redis.error_reply('ERR cart-set: quantity must be a non-negative integer')
end

local exists = redis.call('EXISTS', key) == 1
local current = tonumber(redis.call('HGET', key, field) or '0')
if quantity == current then
  return snapshot('ok')
end
if quantity > maxQuantity then
  return snapshot('line_quantity_exceeded')
end
if current == 0 then
  local lines = redis.call('HLEN', key) - redis.call('HEXISTS', key, 'v')
  if lines >= maxLines then
    return snapshot('too_many_lines')
  end
end

if quantity == 0 then
  redis.call('HDEL', key, field)
else
  redis.call('HSET', key, field, ARGV[2])
end
if exists then
  redis.call('HINCRBY', key, 'v', 1)
else
  redis.call('HSET', key, 'v', ARGV[6])
end
redis.call('PEXPIRE', key, ARGV[5])
return snapshot('ok')
