import type { SessionBus } from './session-bus.js';

/**
 * Every SSE event of a 2025-era session, kept per (session, stream) so a client that lost its stream can
 * reconnect to any instance and be sent exactly what it missed — from its own session and stream only.
 */
export interface LoggedEvent {
  /** Entry id, ordered within its stream: "<ms>-<seq>" (a Redis stream id). */
  id: string;
  message: Record<string, unknown>;
}

export interface EventLogOptions {
  /** A stream untouched this long is dropped (the session's idle TTL is a good value). */
  ttlMs: number;
  /** At most about this many events are kept per stream; older ones are trimmed. */
  maxEvents: number;
  /** Events older than this are trimmed. */
  maxAgeMs: number;
}

export interface EventLog {
  append(sessionId: string, streamId: string, message: Record<string, unknown>): Promise<string>;
  /** Entries after `afterId` (exclusive), oldest first, at most `limit`. */
  readAfter(sessionId: string, streamId: string, afterId: string, limit?: number): Promise<LoggedEvent[]>;
  /** A log that can also publish what it appends names the bus it publishes on (see appendAndAnnounce). */
  readonly announcesOn?: SessionBus | undefined;
  /**
   * Appends and publishes `{ kind: 'message', streamId, eventId: '<streamId>/<entry id>', message }` on
   * `announcesOn` in one step (one Redis round trip); resolves with the entry id.
   */
  appendAndAnnounce?(sessionId: string, streamId: string, message: Record<string, unknown>): Promise<string>;
}

const ENTRY_ID = /^(\d{1,20})-(\d{1,20})$/;

export function isEntryId(id: string): boolean {
  return ENTRY_ID.test(id);
}

/** Orders two entry ids numerically ("10-0" after "9-5"). */
export function compareEntryIds(a: string, b: string): number {
  const [, am = '0', as = '0'] = ENTRY_ID.exec(a) ?? [];
  const [, bm = '0', bs = '0'] = ENTRY_ID.exec(b) ?? [];
  const ms = BigInt(am) - BigInt(bm);
  if (ms !== 0n) return ms < 0n ? -1 : 1;
  const seq = BigInt(as) - BigInt(bs);
  return seq === 0n ? 0 : seq < 0n ? -1 : 1;
}
