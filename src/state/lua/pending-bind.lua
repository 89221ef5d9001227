--[[
pending-bind: record who signed in to a pending authorization, only if no other browser did so meanwhile.

KEYS[1]  pending authorization: <prefix>oauth:authz:<id>   string: the PendingAuthorization as JSON
ARGV[1]  the browser binding the caller saw when it read the record ('' when none)
ARGV[2]  the new record as JSON (its expiry is kept)

Returns  'ok'      replaced
         'gone'    no such pending authorization (expired, or consent already took it)
         'taken'   another browser signed in between the caller's read and this write: nothing changed
--]]
local current = redis.call('GET', KEYS[1])
if not current then return 'gone' end
local ok, record = pcall(cjson.decode, current)
local binding = ''
if ok and type(record) == 'table' and type(record.browserBinding) == 'string' then binding = record.browserBinding end
if binding ~= ARGV[1] then return 'taken' end
redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
return 'ok'
