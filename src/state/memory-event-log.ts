import { compareEntryIds, type EventLog, type EventLogOptions, type LoggedEvent } from './event-log.js';

interface Stream {
  events: { id: string; at: number; json: string }[];
  expiresAt: number;
}

/** The event log in process memory, with the Redis log's ids, trimming and TTL. */
export class MemoryEventLog implements EventLog {
  private readonly streams = new Map<string, Stream>();
  private lastMs = 0;
  private seq = 0;
  private readonly sweep: NodeJS.Timeout;

  constructor(private readonly opts: EventLogOptions) {
    this.sweep = setInterval(() => {
      const now = Date.now();
      for (const [k, s] of this.streams) if (s.expiresAt <= now) this.streams.delete(k);
    }, 30_000);
    this.sweep.unref();
  }

  async append(sessionId: string, streamId: string, message: Record<string, unknown>): Promise<string> {
    const now = Date.now();
    if (now > this.lastMs) {
      this.lastMs = now;
      this.seq = 0;
    } else {
      this.seq++;
    }
    const id = `${this.lastMs}-${this.seq}`;
    const key = this.key(sessionId, streamId);
    const stream = this.live(key) ?? { events: [], expiresAt: 0 };
    stream.events.push({ id, at: now, json: JSON.stringify(message) });
    const minAt = now - this.opts.maxAgeMs;
    while (stream.events.length > this.opts.maxEvents || (stream.events[0] && stream.events[0].at < minAt)) stream.events.shift();
    stream.expiresAt = now + this.opts.ttlMs;
    this.streams.set(key, stream);
    return id;
  }

  async readAfter(sessionId: string, streamId: string, afterId: string, limit = 1000): Promise<LoggedEvent[]> {
    const stream = this.live(this.key(sessionId, streamId));
    if (!stream) return [];
    return stream.events
      .filter((e) => compareEntryIds(e.id, afterId) > 0)
      .slice(0, limit)
      .map((e) => ({ id: e.id, message: JSON.parse(e.json) as Record<string, unknown> }));
  }

  close(): void {
    clearInterval(this.sweep);
    this.streams.clear();
  }

  private key(sessionId: string, streamId: string): string {
    return `${sessionId}\u0000${streamId}`;
  }

  private live(key: string): Stream | undefined {
    const s = this.streams.get(key);
    if (s && s.expiresAt <= Date.now()) {
      this.streams.delete(key);
      return undefined;
    }
    return s;
  }
}
