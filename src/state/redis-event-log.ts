import { type EventLog, type EventLogOptions, type LoggedEvent } from './event-log.js';
import type { KeySpace } from './keys.js';
import type { StateRedis } from './redis-client.js';
import type { SessionBus } from './session-bus.js';

/**
 * Where appended events are also announced, in the same script (event-append.lua): the session bus whose channels
 * these are, and the command that reaches its subscribers (PUBLISH on one server, SPUBLISH on a Redis Cluster).
 */
export interface EventAnnouncer {
  bus: SessionBus;
  channel(sessionId: string): string;
  command: 'PUBLISH' | 'SPUBLISH';
}

const HEAD = '{"kind":"message","message":';

/** The event log as one Redis Stream per (session, stream); appends are one script (add, trim, TTL). */
export class RedisEventLog implements EventLog {
  constructor(
    private readonly client: StateRedis,
    private readonly keys: KeySpace,
    private readonly opts: EventLogOptions,
    private readonly announcer?: EventAnnouncer,
  ) {}

  /** The bus appendAndAnnounce publishes on (undefined: it cannot). */
  get announcesOn(): SessionBus | undefined {
    return this.announcer?.bus;
  }

  async append(sessionId: string, streamId: string, message: Record<string, unknown>): Promise<string> {
    return this.#append(sessionId, streamId, message, false);
  }

  /**
   * Appends, and publishes on the session's channel `{ kind: 'message', streamId, eventId: '<streamId>/<entry id>',
   * message }` — what `announcesOn.publish` would send — in the same script: one round trip instead of two.
   */
  async appendAndAnnounce(sessionId: string, streamId: string, message: Record<string, unknown>): Promise<string> {
    return this.#append(sessionId, streamId, message, true);
  }

  async #append(sessionId: string, streamId: string, message: Record<string, unknown>, announce: boolean): Promise<string> {
    const minId = `${Math.max(0, Date.now() - this.opts.maxAgeMs)}-0`;
    const key = this.keys.eventStream(sessionId, streamId);
    const json = JSON.stringify(message);
    const announcer = announce ? this.announcer : undefined;
    const id = announcer
      ? await this.client.eventAppend(
          key,
          json,
          String(this.opts.maxEvents),
          minId,
          String(this.opts.ttlMs),
          announcer.command,
          announcer.channel(sessionId),
          HEAD,
          // JSON.stringify escapes the stream id; the entry id ("<ms>-<seq>") needs no escaping.
          `,"streamId":${JSON.stringify(streamId)},"eventId":${JSON.stringify(`${streamId}/`).slice(0, -1)}`,
          '"}',
        )
      : await this.client.eventAppend(key, json, String(this.opts.maxEvents), minId, String(this.opts.ttlMs));
    return String(id);
  }

  async readAfter(sessionId: string, streamId: string, afterId: string, limit = 1000): Promise<LoggedEvent[]> {
    const entries = await this.client.xRange(this.keys.eventStream(sessionId, streamId), `(${afterId}`, '+', { COUNT: limit });
    const out: LoggedEvent[] = [];
    for (const entry of entries ?? []) {
      const json = (entry.message as Record<string, string>).m;
      if (json === undefined) continue;
      out.push({ id: entry.id, message: JSON.parse(json) as Record<string, unknown> });
    }
    return out;
  }
}
