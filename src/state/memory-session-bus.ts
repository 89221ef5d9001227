import { defaultBusErrorReporter, deliver, encodeBusMessage, type BusErrorReporter } from './bus-support.js';
import { assertSessionId } from './keys.js';
import type { BusMessage, SessionBus } from './session-bus.js';

type Handler = (message: BusMessage) => void;

/**
 * The session bus within one process, with the semantics of RedisSessionBus: delivery is asynchronous (never
 * inside publish), every subscriber gets its own copy, a subscriber that threw does not affect the others.
 */
export class MemorySessionBus implements SessionBus {
  readonly #subscribers = new Map<string, Set<Handler>>();
  readonly #onError: BusErrorReporter;
  #closed = false;

  constructor(opts?: { onError?: BusErrorReporter }) {
    this.#onError = opts?.onError ?? defaultBusErrorReporter;
  }

  async publish(sessionId: string, message: BusMessage): Promise<void> {
    if (this.#closed) throw new Error('session bus is closed');
    assertSessionId(sessionId);
    const json = encodeBusMessage(message);
    const handlers = this.#subscribers.get(sessionId);
    if (!handlers) return;
    for (const handler of [...handlers]) {
      queueMicrotask(() => {
        // Unsubscribed in the meantime: like Redis, nothing arrives after unsubscribe resolved.
        if (this.#subscribers.get(sessionId)?.has(handler)) deliver(handler, json, this.#onError);
      });
    }
  }

  async subscribe(sessionId: string, onMessage: Handler): Promise<() => Promise<void>> {
    if (this.#closed) throw new Error('session bus is closed');
    assertSessionId(sessionId);
    if (typeof onMessage !== 'function') throw new TypeError('onMessage must be a function');
    // A wrapper, so subscribing the same function twice gives two independent subscriptions.
    const handler: Handler = (message) => onMessage(message);
    let handlers = this.#subscribers.get(sessionId);
    if (!handlers) {
      handlers = new Set();
      this.#subscribers.set(sessionId, handlers);
    }
    handlers.add(handler);
    return async () => {
      const current = this.#subscribers.get(sessionId);
      if (!current?.delete(handler)) return;
      if (current.size === 0) this.#subscribers.delete(sessionId);
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#subscribers.clear();
  }
}
