import { defaultBusErrorReporter, deliver, encodeBusMessage, type BusErrorReporter } from './bus-support.js';
import type { KeySpace } from './keys.js';
import {
  attachErrorListener,
  closeRedisClient,
  clusterKeySlot,
  connectRedisClient,
  DEFAULT_COMMAND_TIMEOUT_MS,
  isRedisCluster,
  RedisUnavailableError,
  type StateRedis,
  type StateRedisClient,
  type StateRedisCluster,
} from './redis-client.js';
import type { BusMessage, SessionBus } from './session-bus.js';

type Handler = (message: BusMessage) => void;
type Listener = (json: string) => void;

/** How the bus reaches Redis pub/sub: over one server, or over a cluster. */
interface PubSubLink {
  publish(channel: string, json: string): Promise<unknown>;
  subscribe(channel: string, listener: Listener): Promise<void>;
  unsubscribe(channel: string, listener: Listener): Promise<void>;
  /** False when a (un)subscribe for `channel` sent now would only wait for a reconnect. */
  isLive(channel: string): boolean;
  /** Calls `fn` whenever a subscriber connection is ready again (it has re-subscribed by itself by then). */
  onReady(fn: () => void): void;
  close(): Promise<void>;
}

/** One server: classic PUBLISH/SUBSCRIBE, all subscriptions on the one subscriber connection. */
function nodeLink(publisher: StateRedisClient, subscriber: StateRedisClient): PubSubLink {
  return {
    publish: (channel, json) => publisher.publish(channel, json),
    subscribe: (channel, listener) => subscriber.subscribe(channel, listener),
    unsubscribe: (channel, listener) => subscriber.unsubscribe(channel, listener),
    isLive: () => subscriber.isReady,
    onReady: (fn) => void subscriber.on('ready', fn),
    close: () => closeRedisClient(subscriber),
  };
}

/**
 * Redis Cluster: sharded pub/sub (SPUBLISH/SSUBSCRIBE, Redis 7.0+), chosen over classic pub/sub on purpose.
 * A classic PUBLISH in a cluster is broadcast over the cluster bus to every node, so each message of every session
 * costs work on all nodes and bus traffic grows with the cluster, whoever listens. A sharded channel belongs to
 * the hash slot of its name like a key does, so a session's channel (`<prefix>bus:session:{<id>}`, see keys.ts)
 * lives on exactly one shard: SPUBLISH goes to that shard's master, is delivered to subscribers connected there
 * (and replicated only to that shard's replicas), and messages of one session keep their order. The client holds
 * one subscriber connection per shard that has subscriptions (on a duplicate of the cluster client, so close()
 * never touches the stores' connections), re-subscribes by itself after a reconnect, and moves subscriptions when
 * a slot migrates or fails over. As with one server, messages published while a shard is unreachable are lost.
 */
function clusterLink(publisher: StateRedisCluster, subscriber: StateRedisCluster): PubSubLink {
  return {
    publish: (channel, json) => publisher.sPublish(channel, json),
    subscribe: (channel, listener) => subscriber.sSubscribe(channel, listener),
    unsubscribe: (channel, listener) => subscriber.sUnsubscribe(channel, listener),
    isLive(channel) {
      if (!subscriber.isReady) return false;
      const slot = clusterKeySlot(channel);
      const pubSub = subscriber.slots[slot]?.master.pubSub;
      if (pubSub && !pubSub.connectPromise) return pubSub.client.isReady;
      // No subscriber connection to that shard yet: judge by the stores' connection to the same master.
      return publisher.slots[slot]?.master.client?.isReady ?? false;
    },
    onReady: (fn) => void subscriber.on('node-ready', fn),
    close: () => closeRedisClient(subscriber),
  };
}

interface Channel {
  readonly handlers: Set<Handler>;
  /** Receives the channel's messages from the client; ignores them once the channel is no longer current. */
  readonly listener: Listener;
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
 * The session bus over Redis pub/sub, channel `<prefix>bus:session:{<sessionId>}`. Publishing uses the shared
 * client; subscriptions live on a dedicated connection (a connection in subscriber mode can do nothing else).
 * All local subscribers of a session share one Redis subscription, which is dropped when the last one leaves.
 * After a reconnect the client subscribes again by itself; messages published while the connection was down are
 * lost (pub/sub does not store them), which the stream layer must tolerate. Over a Redis Cluster the same holds
 * per shard, with sharded pub/sub (see clusterLink).
 */
export class RedisSessionBus implements SessionBus {
  readonly #link: PubSubLink;
  readonly #keys: KeySpace;
  readonly #onError: BusErrorReporter;
  readonly #ackTimeoutMs: number;
  readonly #channels = new Map<string, Channel>();
  /** Listeners whose UNSUBSCRIBE failed (connection down); retried when the connection is ready again. */
  readonly #orphans = new Map<Listener, string>();
  #closed = false;

  /**
   * Duplicates `publisher` into a subscriber connection and connects it (within `connectTimeoutMs`, default
   * 5000 ms). The bus owns that connection and closes it in close(); the publisher stays the caller's. For a
   * cluster the duplicate only learns the topology here and connects to a shard when it first subscribes there.
   */
  static async connect(
    publisher: StateRedis,
    keys: KeySpace,
    opts: RedisSessionBusOptions & { connectTimeoutMs?: number; onConnectionError?: (err: Error) => void } = {},
  ): Promise<RedisSessionBus> {
    const subscriber = isRedisCluster(publisher) ? publisher.duplicate({ minimizeConnections: true }) : publisher.duplicate();
    attachErrorListener(subscriber, opts.onConnectionError, 'redis session bus');
    await connectRedisClient(subscriber, opts.connectTimeoutMs ?? 5000, 'session bus subscriber connection');
    return new RedisSessionBus(publisher, subscriber, keys, opts);
  }

  /**
   * `subscriber` must be a connected client used for nothing else; the bus closes it in close(). Both are single
   * clients or both cluster clients.
   */
  constructor(publisher: StateRedis, subscriber: StateRedis, keys: KeySpace, opts: RedisSessionBusOptions = {}) {
    if (isRedisCluster(publisher) && isRedisCluster(subscriber)) this.#link = clusterLink(publisher, subscriber);
    else if (!isRedisCluster(publisher) && !isRedisCluster(subscriber)) this.#link = nodeLink(publisher, subscriber);
    else throw new TypeError('RedisSessionBus: publisher and subscriber must both be cluster clients or both single clients');
    this.#keys = keys;
    this.#onError = opts.onError ?? defaultBusErrorReporter;
    this.#ackTimeoutMs = opts.ackTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS;
    this.#link.onReady(() => {
      for (const [listener, name] of this.#orphans) {
        this.#orphans.delete(listener);
        void this.#unsubscribe(name, listener);
      }
    });
  }

  async publish(sessionId: string, message: BusMessage): Promise<void> {
    if (this.#closed) throw new Error('session bus is closed');
    const channel = this.#keys.sessionChannel(sessionId);
    await this.#link.publish(channel, encodeBusMessage(message));
  }

  async subscribe(sessionId: string, onMessage: Handler): Promise<() => Promise<void>> {
    if (this.#closed) throw new Error('session bus is closed');
    const name = this.#keys.sessionChannel(sessionId);
    if (typeof onMessage !== 'function') throw new TypeError('onMessage must be a function');
    // A subscription made while the connection is down would not be live; say so now rather than hang.
    if (!this.#link.isLive(name)) throw new RedisUnavailableError('session bus: the Redis connection is down');
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
    const subscribing = this.#link.subscribe(name, channel.listener);
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
  async #unsubscribe(name: string, listener: Listener): Promise<void> {
    if (this.#closed) return;
    if (!this.#link.isLive(name)) {
      // Sent now it would only wait for the reconnect; the client re-subscribes first, then 'ready' retries it.
      this.#orphans.set(listener, name);
      return;
    }
    try {
      await withTimeout(this.#link.unsubscribe(name, listener), this.#ackTimeoutMs, 'UNSUBSCRIBE');
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
    await this.#link.close();
  }
}
