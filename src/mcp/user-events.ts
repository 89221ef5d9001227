import type { ServerEvent, ServerEventBus } from '@modelcontextprotocol/server';
import { encodeKeyPart } from '../state/keys.js';
import type { SessionBus } from '../state/session-bus.js';

/** A change a user's other sessions and 2026-07-28 listeners should hear about. */
export interface UserNotification {
  method: 'notifications/resources/updated' | 'notifications/resources/list_changed' | 'notifications/tools/list_changed';
  params?: { uri?: string };
}

interface WireEvent extends UserNotification {
  /** The 2025-era session that caused it; that session already has it on its own logged stream. */
  origin?: string;
}

function toServerEvent(n: UserNotification): ServerEvent | null {
  switch (n.method) {
    case 'notifications/resources/updated':
      return n.params?.uri ? { kind: 'resource_updated', uri: n.params.uri } : null;
    case 'notifications/resources/list_changed':
      return { kind: 'resources_list_changed' };
    case 'notifications/tools/list_changed':
      return { kind: 'tools_list_changed' };
  }
}

/**
 * Events scoped to one user, across instances: published on the user's channel, heard by that user's GET
 * streams (any session, any instance) and `subscriptions/listen` streams — and by no one else's.
 */
export class UserEvents {
  constructor(private readonly bus: SessionBus) {}

  async publish(userId: string, notification: UserNotification, originSessionId?: string): Promise<void> {
    const event: WireEvent = { ...notification, ...(originSessionId ? { origin: originSessionId } : {}) };
    await this.bus.publish(encodeKeyPart('user id', userId), { kind: 'message', message: { ...event } });
  }

  /** Hears the user's events except those caused by `exceptSessionId`; resolves once listening. */
  subscribe(userId: string, onNotification: (n: UserNotification) => void, exceptSessionId?: string): Promise<() => Promise<void>> {
    return this.bus.subscribe(encodeKeyPart('user id', userId), (msg) => {
      if (msg.kind !== 'message') return;
      const event = msg.message as unknown as WireEvent;
      if (typeof event.method !== 'string' || (exceptSessionId && event.origin === exceptSessionId)) return;
      onNotification({ method: event.method, ...(event.params ? { params: event.params } : {}) });
    });
  }

  /**
   * The SDK's ServerEventBus for one user's `subscriptions/listen` streams. Its interface is synchronous;
   * the Redis subscription is set up in the background and events published meanwhile are not replayed
   * (listen streams carry change hints, after which clients re-read).
   */
  serverEventBus(userId: string, onError: (err: unknown) => void): ServerEventBus {
    return {
      publish: (event: ServerEvent) => {
        const n = fromServerEvent(event);
        if (n) void this.publish(userId, n).catch(onError);
      },
      subscribe: (listener) => {
        let unsubscribe: (() => Promise<void>) | undefined;
        let done = false;
        this.subscribe(userId, (n) => {
          const event = toServerEvent(n);
          if (event && !done) listener(event);
        }).then(
          (u) => {
            if (done) void u().catch(onError);
            else unsubscribe = u;
          },
          onError,
        );
        return () => {
          done = true;
          void unsubscribe?.().catch(onError);
        };
      },
    };
  }
}

function fromServerEvent(event: ServerEvent): UserNotification | null {
  switch (event.kind) {
    case 'resource_updated':
      return { method: 'notifications/resources/updated', params: { uri: event.uri } };
    case 'resources_list_changed':
      return { method: 'notifications/resources/list_changed' };
    case 'tools_list_changed':
      return { method: 'notifications/tools/list_changed' };
    default:
      return null;
  }
}
