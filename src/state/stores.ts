import type { AuthorizationStore } from './authorization-store.js';
import type { CartStore } from './cart-store.js';
import type { EventLog } from './event-log.js';
import { createKeySpace } from './keys.js';
import { MemoryAuthorizationStore } from './memory-authorization-store.js';
import { MemoryEventLog } from './memory-event-log.js';
import { MemoryRateLimiter } from './memory-rate-limiter.js';
import { RedisEventLog } from './redis-event-log.js';
import { MemoryCartStore } from './memory-cart-store.js';
import { MemoryPreferenceStore } from './memory-preference-store.js';
import { MemoryRevocationStore } from './memory-revocation-store.js';
import { MemorySessionBus } from './memory-session-bus.js';
import { MemorySessionStore } from './memory-session-store.js';
import type { PreferenceStore } from './preference-store.js';
import type { RateLimiter } from './rate-limiter.js';
import { RedisAuthorizationStore } from './redis-authorization-store.js';
import { RedisCartStore } from './redis-cart-store.js';
import { RedisRateLimiter } from './redis-rate-limiter.js';
import {
  assertShardedPubSub,
  closeRedisClient,
  connectRedisClient,
  createRedisClient,
  createRedisCluster,
  isRedisCluster,
  parseClusterNodes,
  pingRedis,
  redactRedisUrl,
  RedisUnavailableError,
  type StateRedis,
} from './redis-client.js';
import { RedisPreferenceStore } from './redis-preference-store.js';
import { RedisRevocationStore } from './redis-revocation-store.js';
import { RedisSessionBus } from './redis-session-bus.js';
import { RedisSessionStore } from './redis-session-store.js';
import { MemoryVersionStore } from './memory-version-store.js';
import { RedisVersionStore } from './redis-version-store.js';
import type { VersionStore } from './version-store.js';
import type { RevocationStore } from './revocation-store.js';
import type { SessionBus } from './session-bus.js';
import type { SessionStore } from './session-store.js';
import { preferenceTtl, validateCartOptions, validateSessionOptions } from './store-support.js';

export interface CreateStoresOptions {
  /** With it, everything lives in Redis (required for more than one instance); without it, in process memory. */
  redisUrl?: string;
  /**
   * Instead of redisUrl: seed nodes of a Redis Cluster (7.0+) as redis:// or rediss:// URLs, whose credentials and
   * TLS apply to every node. Everything then lives in the cluster, the session bus on sharded pub/sub.
   */
  redisClusterNodes?: string[];
  keyPrefix: string;
  sessionIdleTtlMs: number;
  cartTtlMs: number;
  maxLineQuantity: number;
  maxLines: number;
  preferenceTtlMs: number;
  /** SSE events kept per session stream for resumption (count and age); their TTL is the session idle TTL. */
  eventMaxEvents?: number;
  eventMaxAgeMs?: number;
  /** How long start-up waits for Redis before failing. Default 5000 ms. */
  startupTimeoutMs?: number;
  /** Connection errors (each failed reconnect attempt). Default: a console.warn when lost and when restored. */
  onRedisError?: (err: Error) => void;
  /** Exceptions thrown by bus subscribers. Default: console.error. */
  onBusSubscriberError?: (err: unknown) => void;
}

export interface Stores {
  kind: 'memory' | 'redis';
  sessions: SessionStore;
  carts: CartStore;
  preferences: PreferenceStore;
  /** Rate-limit buckets (shared by every instance when in Redis). */
  rateLimiter: RateLimiter;
  bus: SessionBus;
  /** The same bus keyed by user id (ids are percent-encoded by the caller): events for all of a user's sessions. */
  userBus: SessionBus;
  events: EventLog;
  /** Revoked access tokens (by jti), until they expire. */
  revocations: RevocationStore;
  /** The OAuth authorization server's pending sign-ins, codes and refresh-token families. */
  authorizations: AuthorizationStore;
  /** Version counters of what instances cache (catalog per business, memberships per user). */
  versions: VersionStore;
  /** Resolves when the backing store answers (Redis PING); rejects (isRedisUnavailableError) when it does not. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

export async function createStores(opts: CreateStoresOptions): Promise<Stores> {
  // Every option is checked before anything is started, so a bad one leaves no connection or timer behind.
  const keys = createKeySpace(opts.keyPrefix);
  const sessionOpts = validateSessionOptions({ idleTtlMs: opts.sessionIdleTtlMs });
  const cartOpts = validateCartOptions({ ttlMs: opts.cartTtlMs, maxLineQuantity: opts.maxLineQuantity, maxLines: opts.maxLines });
  const eventOpts = { ttlMs: opts.sessionIdleTtlMs, maxEvents: opts.eventMaxEvents ?? 1000, maxAgeMs: opts.eventMaxAgeMs ?? 15 * 60_000 };
  const preferenceOpts = { ttlMs: preferenceTtl({ ttlMs: opts.preferenceTtlMs }) };
  const clusterNodes = opts.redisClusterNodes?.length ? opts.redisClusterNodes : undefined;
  if (clusterNodes && opts.redisUrl) throw new TypeError('createStores: redisUrl and redisClusterNodes are mutually exclusive');
  if (clusterNodes) parseClusterNodes(clusterNodes);

  if (!opts.redisUrl && !clusterNodes) {
    const sessions = new MemorySessionStore(sessionOpts);
    const carts = new MemoryCartStore(cartOpts);
    const rateLimiter = new MemoryRateLimiter();
    const preferences = new MemoryPreferenceStore(preferenceOpts);
    const bus = new MemorySessionBus({ onError: opts.onBusSubscriberError });
    const events = new MemoryEventLog(eventOpts);
    const userBus = new MemorySessionBus({ onError: opts.onBusSubscriberError });
    const revocations = new MemoryRevocationStore();
    const authorizations = new MemoryAuthorizationStore();
    return {
      kind: 'memory',
      sessions,
      carts,
      rateLimiter,
      preferences,
      bus,
      userBus,
      events,
      revocations,
      authorizations,
      versions: new MemoryVersionStore(),
      ping: async () => {},
      close: async () => {
        sessions.close();
        carts.close();
        rateLimiter.close();
        preferences.close();
        events.close();
        revocations.close();
        authorizations.close();
        await bus.close();
        await userBus.close();
      },
    };
  }

  const startupTimeoutMs = opts.startupTimeoutMs ?? 5000;
  const where = clusterNodes
    ? `REDIS_CLUSTER_NODES=${clusterNodes.map(redactRedisUrl).join(',')}`
    : `REDIS_URL=${redactRedisUrl(opts.redisUrl!)}`;
  const client: StateRedis = clusterNodes
    ? createRedisCluster({ nodes: clusterNodes, name: 'flowpos-mcp', onError: opts.onRedisError })
    : createRedisClient({ url: opts.redisUrl!, name: 'flowpos-mcp', onError: opts.onRedisError });
  await connectRedisClient(client, startupTimeoutMs, `cannot connect to Redis at ${where}`);
  if (isRedisCluster(client)) {
    await assertShardedPubSub(client).catch(async (err: unknown) => {
      await closeRedisClient(client);
      throw err;
    });
  }
  const sessions = new RedisSessionStore(client, keys, sessionOpts);
  const carts = new RedisCartStore(client, keys, cartOpts);
  const preferences = new RedisPreferenceStore(client, keys, preferenceOpts);
  let bus: RedisSessionBus;
  let userBus: RedisSessionBus;
  try {
    const busOpts = { connectTimeoutMs: startupTimeoutMs, onConnectionError: opts.onRedisError, onError: opts.onBusSubscriberError };
    bus = await RedisSessionBus.connect(client, keys, busOpts);
    userBus = await RedisSessionBus.connect(client, { ...keys, sessionChannel: (userId) => keys.userChannel(userId) }, busOpts).catch(async (err: unknown) => {
      await bus.close();
      throw err;
    });
  } catch (err) {
    await closeRedisClient(client);
    if (err instanceof RedisUnavailableError) {
      throw new RedisUnavailableError(`cannot connect to Redis at ${where}: ${err.message}`, { cause: err });
    }
    throw err;
  }
  return {
    kind: 'redis',
    sessions,
    carts,
    rateLimiter: new RedisRateLimiter(client, keys),
    preferences,
    bus,
    userBus,
    // Appends also announce the event on the session bus, in the same script (one round trip, see event-append.lua).
    events: new RedisEventLog(client, keys, eventOpts, {
      bus,
      channel: (sessionId) => keys.sessionChannel(sessionId),
      command: isRedisCluster(client) ? 'SPUBLISH' : 'PUBLISH',
    }),
    revocations: new RedisRevocationStore(client, keys),
    authorizations: new RedisAuthorizationStore(client, keys),
    versions: new RedisVersionStore(client, keys),
    ping: () => pingRedis(client),
    close: async () => {
      await bus.close();
      await userBus.close();
      await closeRedisClient(client);
    },
  };
}
