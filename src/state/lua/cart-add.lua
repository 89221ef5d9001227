--[[
cart-add: add to one line of a cart (read-modify-write in one step), refusing without any change past the limits.

KEYS[1]  cart hash: <prefix>cart:{<businessId>:<userId>}:<handle>
ARGV[1]  line field: 's:' .. sku
ARGV[2]  quantity to add, integer >= 1
ARGV[3]  maxLineQuantity: a line may never hold more
ARGV[4]  maxLines: a cart may never hold more distinct lines
ARGV[5]  cart TTL in ms, applied on change
ARGV[6]  now, epoch ms: the version of a cart that did not exist yet

On change the version goes up by one (a new cart starts at `now`, so a cart that expired and is started again
never repeats an earlier version) and the TTL is reset.

Returns  { status, version, sku1, quantity1, sku2, quantity2, ... } describing the cart after the call, where
         status is 'ok', 'line_quantity_exceeded' or 'too_many_lines'. Lines are unordered; the caller sorts.
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

if not quantity or quantity < 1 or quantity ~= math.floor(quantity) then
  return redis.error_reply('ERR cart-add: quantity must be a positive integer')
end

local exists = redis.call('EXISTS', key) == 1
local current = tonumber(redis.call('HGET', key, field) or '0')
if current + quantity > maxQuantity then
  return snapshot('line_quantity_exceeded')
end
if current == 0 then
  local lines = redis.call('HLEN', key) - redis.call('HEXISTS', key, 'v')
  if lines >= maxLines then
    return snapshot('too_many_lines')
  end
end

redis.call('HINCRBY', key, field, quantity)
if exists then
  redis.call('HINCRBY', key, 'v', 1)
else
  redis.call('HSET', key, 'v', ARGV[6])
end
redis.call('PEXPIRE', key, ARGV[5])
return snapshot('ok')
