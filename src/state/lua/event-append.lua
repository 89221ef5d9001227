--[[
event-append: log one SSE event of a session stream, trim the stream and refresh its TTL, atomically.

KEYS[1]  stream: <prefix>events:{<sessionId>}:<streamId>
ARGV[1]  the message as JSON
ARGV[2]  keep about this many entries (MAXLEN ~)
ARGV[3]  drop entries older than this entry id (MINID ~), "<ms>-0"
ARGV[4]  TTL of the stream in ms

Returns  the new entry id ("<ms>-<seq>"), which is also what the SSE event id is made of.
--]]
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[1])
redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return id
