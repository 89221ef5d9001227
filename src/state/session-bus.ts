/**
 * Carries server→client messages for a session to whichever instance holds its GET stream.
 * `close` tells every holder to end the session's streams (the session was deleted).
 */
export type BusMessage = { kind: 'message'; message: Record<string, unknown> } | { kind: 'close' };

export interface SessionBus {
  publish(sessionId: string, message: BusMessage): Promise<void>;
  /** Resolves once the subscription is live, so nothing published after it is missed. */
  subscribe(sessionId: string, onMessage: (message: BusMessage) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
