import { defaultBusErrorReporter, deliver, encodeBusMessage, type BusErrorReporter } from './bus-support.js';
import type { KeySpace } from './keys.js';
import {
  attachErrorListener,
  closeRedisClient,
  connectRedisClient,
  DEFAULT_COMMAND_TIMEOUT_MS,
  RedisUnavailableError,
  type StateRedisClient,
} from './redis-client.js';
import type { BusMessage, SessionBus } from './session-bus.js';

type Handler = (message: BusMessage) => void;

interface Channel {
  readonly handlers: Set<Handler>;
  /** Receives the channel's messages from the client; ignores them once the channel is no longer current. */
  readonly listener: (json: string) => void;
  ready: Promise<void>;
}

export interface RedisSessionBusOptions {
  /** Receives exceptions thrown by subscribers. Default: console.error. */
  onError?: BusErrorReporter;
  /** How long SUBSCRIBE/UNSUBSCRIBE may wait for Redis' acknowledgement. Default 2000 ms. */
  ackTimeoutMs?: number;
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisUnavailableError(`${what}: no answer from Redis within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The session bus over Redis pub/sub, channel `<prefix>bus:session:<sessionId>`. Publishing uses the shared
 * client; subscriptions live on a dedicated connection (a connection in subscriber mode can do nothing else).
 * All local subscribers of a session share one Redis subscription, which is dropped when the last one leaves.
 * After a reconnect the client subscribes again by itself; messages published while the connection was down are
 * lost (pub/sub does not store them), which the stream layer must tolerate.
 */
export class RedisSessionBus implements SessionBus {
  readonly #publisher: StateRedisClient;
  readonly #subscriber: StateRedisClient;
  readonly #keys: KeySpace;
  readonly #onError: BusErrorReporter;
  readonly #ackTimeoutMs: number;
  readonly #channels = new Map<string, Channel>();
  /** Listeners whose UNSUBSCRIBE failed (connection down); retried when the connection is ready again. */
  readonly #orphans = new Map<(json: string) => void, string>();
  #closed = false;

  /**
   * Duplicates `publisher` into a subscriber connection and connects it (within `connectTimeoutMs`, default
   * 5000 ms). The bus owns that connection and closes it in close(); the publisher stays the caller's.
   */
  static async connect(
    publisher: StateRedisClient,
    keys: KeySpace,
    opts: RedisSessionBusOptions & { connectTimeoutMs?: number; onConnectionError?: (err: Error) => void } = {},
  ): Promise<RedisSessionBus> {
    const subscriber = publisher.duplicate();
    attachErrorListener(subscriber, opts.onConnectionError, 'redis session bus');
    await connectRedisClient(subscriber, opts.connectTimeoutMs ?? 5000, 'session bus subscriber connection');
    return new RedisSessionBus(publisher, subscriber, keys, opts);
  }

  /** `subscriber` must be a connected client used for nothing else; the bus closes it in close(). */
  constructor(publisher: StateRedisClient, subscriber: StateRedisClient, keys: KeySpace, opts: RedisSessionBusOptions = {}) {
    this.#publisher = publisher;
    this.#subscriber = subscriber;
    this.#keys = keys;
    this.#onError = opts.onError ?? defaultBusErrorReporter;
    this.#ackTimeoutMs = opts.ackTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    subscriber.on('ready', () => {
      for (const [listener, name] of this.#orphans) {
        this.#orphans.delete(listener);
        void this.#unsubscribe(name, listener);
      }
    });
  }

  async publish(sessionId: string, message: BusMessage): Promise<void> {
    if (this.#closed) throw new Error('session bus is closed');
    const channel = this.#keys.sessionChannel(sessionId);
    await this.#publisher.publish(channel, encodeBusMessage(message));
  }

  async subscribe(sessionId: string, onMessage: Handler): Promise<() => Promise<void>> {
    if (this.#closed) throw new Error('session bus is closed');
    const name = this.#keys.sessionChannel(sessionId);
    if (typeof onMessage !== 'function') throw new TypeError('onMessage must be a function');
    // A subscription made while the connection is down would not be live; say so now rather than hang.
    if (!this.#subscriber.isReady) throw new RedisUnavailableError('session bus: the Redis connection is down');
    const handler: Handler = (message) => onMessage(message);
    const channel = this.#channels.get(name) ?? this.#open(name);
    channel.handlers.add(handler);
    try {
      await channel.ready;
    } catch (err) {
      channel.handlers.delete(handler);
      throw err;
    }
    let subscribed = true;
    return async () => {
      if (!subscribed) return;
      subscribed = false;
      await this.#leave(name, channel, handler);
    };
  }

  #open(name: string): Channel {
    const channel: Channel = {
      handlers: new Set(),
      listener: (json) => {
        if (this.#channels.get(name) !== channel) return;
        for (const handler of [...channel.handlers]) deliver(handler, json, this.#onError);
      },
      ready: Promise.resolve(),
    };
    this.#channels.set(name, channel);
    const subscribing = this.#subscriber.subscribe(name, channel.listener);
    channel.ready = withTimeout(subscribing, this.#ackTimeoutMs, 'SUBSCRIBE').catch((err: unknown) => {
      if (this.#channels.get(name) === channel) this.#channels.delete(name);
      // Timed out but still under way: undo it when it lands, so no orphan subscription stays behind.
      subscribing.then(() => this.#unsubscribe(name, channel.listener)).catch(() => {});
      throw err;
    });
    return channel;
  }

  /** Never rejects: whoever unsubscribes is closing a stream and has no use for an error. */
  async #leave(name: string, channel: Channel, handler: Handler): Promise<void> {
    channel.handlers.delete(handler);
    if (channel.handlers.size > 0 || this.#channels.get(name) !== channel) return;
    this.#channels.delete(name);
    await this.#unsubscribe(name, channel.listener);
  }

  /** Never rejects. On failure the listener (which already ignores its channel) is retried on the next 'ready'. */
  async #unsubscribe(name: string, listener: (json: string) => void): Promise<void> {
    if (this.#closed) return;
    if (!this.#subscriber.isReady) {
      // Sent now it would only wait for the reconnect; the client re-subscribes first, then 'ready' retries it.
      this.#orphans.set(listener, name);
      return;
    }
    try {
      await withTimeout(this.#subscriber.unsubscribe(name, listener), this.#ackTimeoutMs, 'UNSUBSCRIBE');
    } catch {
      if (!this.#closed) this.#orphans.set(listener, name);
    }
  }

  /** Drops every subscription and closes the subscriber connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#channels.clear();
    this.#orphans.clear();
    await closeRedisClient(this.#subscriber);
  }
}
