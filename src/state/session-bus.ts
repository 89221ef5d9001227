/**
 * Carries a session's traffic between instances:
 * - `message`: a server→client message for an SSE stream of the session (`streamId`/`eventId` name the stream
 *   and the logged event, when it was logged for resumption), delivered by whichever instance holds that stream;
 * - `reply`: a client's answer to a server→client request, delivered to the instance that sent the request;
 * - `close`: the session was deleted; every holder ends its streams.
 */
export type BusMessage =
  | { kind: 'message'; message: Record<string, unknown>; streamId?: string; eventId?: string }
  | { kind: 'reply'; message: Record<string, unknown> }
  | { kind: 'close' };

export interface SessionBus {
  publish(sessionId: string, message: BusMessage): Promise<void>;
  /** Resolves once the subscription is live, so nothing published after it is missed. */
  subscribe(sessionId: string, onMessage: (message: BusMessage) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}
