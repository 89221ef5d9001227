import type { EventStore, JSONRPCMessage } from '@modelcontextprotocol/server';
import { isEntryId, type EventLog } from '../state/event-log.js';
import type { SessionBus } from '../state/session-bus.js';

/** The standalone GET stream of a session; POST response streams are named by the SDK transport (UUIDs). */
export const STANDALONE_STREAM = 'g';

const STREAM_ID = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * SSE event ids are `<streamId>/<entryId>`: the entry id is the Redis stream id of the logged event, and the
 * stream id in front says which of the session's streams it belongs to, so a Last-Event-ID is resumed on its
 * own stream and no other (the spec forbids replaying another stream's events).
 */
export function formatEventId(streamId: string, entryId: string): string {
  return `${streamId}/${entryId}`;
}

export function parseEventId(eventId: string): { streamId: string; entryId: string } | null {
  const slash = eventId.lastIndexOf('/');
  if (slash <= 0) return null;
  const streamId = eventId.slice(0, slash);
  const entryId = eventId.slice(slash + 1);
  return STREAM_ID.test(streamId) && isEntryId(entryId) ? { streamId, entryId } : null;
}

/** Logs every SSE event of a session (for resumption on any instance) and fans it out to live holders. */
export class SessionEvents {
  constructor(
    readonly log: EventLog,
    readonly bus: SessionBus,
  ) {}

  /** Logs and delivers one message of a session stream; resolves with its SSE event id. */
  async publish(sessionId: string, streamId: string, message: Record<string, unknown>): Promise<string> {
    if (this.log.appendAndAnnounce && this.log.announcesOn === this.bus) {
      // Logged and published by one script (Redis): one round trip. A failed publish fails the append too,
      // which callers already tolerate (delivery is best effort, and an event that was not logged was not sent).
      return formatEventId(streamId, await this.log.appendAndAnnounce(sessionId, streamId, message));
    }
    const eventId = formatEventId(streamId, await this.log.append(sessionId, streamId, message));
    // Delivery is best effort: a holder that misses it finds it in the log when its client resumes.
    await this.bus.publish(sessionId, { kind: 'message', streamId, eventId, message }).catch(() => {});
    return eventId;
  }

  /** The SDK's EventStore seen through one session: what a per-request transport writes lands in our log. */
  eventStoreFor(sessionId: string): EventStore {
    return {
      storeEvent: (streamId: string, message: JSONRPCMessage) => this.publish(sessionId, streamId, message as unknown as Record<string, unknown>),
      getStreamIdForEventId: async (eventId: string) => parseEventId(eventId)?.streamId,
      replayEventsAfter: async (lastEventId, { send }) => {
        const parsed = parseEventId(lastEventId);
        if (!parsed) throw new Error('unknown event id');
        for (const e of await this.log.readAfter(sessionId, parsed.streamId, parsed.entryId)) {
          if (Object.keys(e.message).length) await send(formatEventId(parsed.streamId, e.id), e.message as unknown as JSONRPCMessage);
        }
        return parsed.streamId;
      },
    };
  }
}
