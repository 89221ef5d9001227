--[[
event-append: log one SSE event of a session stream, trim the stream and refresh its TTL, and (optionally) announce
it on the session's bus channel with the id it got, atomically and in one round trip.

KEYS[1]  stream: <prefix>events:{<sessionId>}:<streamId>
ARGV[1]  the message as JSON
ARGV[2]  keep about this many entries (MAXLEN ~)
ARGV[3]  drop entries older than this entry id (MINID ~), "<ms>-0"
ARGV[4]  TTL of the stream in ms
ARGV[5]  '' (do not announce), 'PUBLISH' (one server) or 'SPUBLISH' (Redis Cluster: sharded pub/sub)
ARGV[6]  the session channel: <prefix>bus:session:{<sessionId>} (same hash tag as KEYS[1], so on a cluster it
         belongs to this script's slot, the only slot a script may SPUBLISH to)
ARGV[7]  the bus message up to the message (`{"kind":"message","message":`)
ARGV[8]  the bus message between the message and the entry id (`,"streamId":"<streamId>","eventId":"<streamId>/`)
ARGV[9]  the rest of the bus message (`"}`)

The announcement is ARGV[7] .. ARGV[1] .. ARGV[8] .. <entry id> .. ARGV[9]: exactly what encodeBusMessage
(bus-support.ts) writes for { kind: 'message', message, streamId, eventId: '<streamId>/<entry id>' }.

Returns  the new entry id ("<ms>-<seq>"), which is also what the SSE event id is made of.
--]]
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[1])
redis.call('XTRIM', KEYS[1], 'MINID', '~', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if ARGV[5] == 'PUBLISH' or ARGV[5] == 'SPUBLISH' then
  redis.call(ARGV[5], ARGV[6], ARGV[7] .. ARGV[1] .. ARGV[8] .. id .. ARGV[9])
end
return id
