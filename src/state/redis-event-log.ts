import { type EventLog, type EventLogOptions, type LoggedEvent } from './event-log.js';
import type { KeySpace } from './keys.js';
import type { StateRedis } from './redis-client.js';

/** The event log as one Redis Stream per (session, stream); appends are one script (add, trim, TTL). */
export class RedisEventLog implements EventLog {
  constructor(
    private readonly client: StateRedis,
    private readonly keys: KeySpace,
    private readonly opts: EventLogOptions,
  ) {}

  async append(sessionId: string, streamId: string, message: Record<string, unknown>): Promise<string> {
    const minId = `${Math.max(0, Date.now() - this.opts.maxAgeMs)}-0`;
    const id = await this.client.eventAppend(
      this.keys.eventStream(sessionId, streamId),
      JSON.stringify(message),
      String(this.opts.maxEvents),
      minId,
      String(this.opts.ttlMs),
    );
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
