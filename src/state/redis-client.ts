import { readFileSync } from 'node:fs';
import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  createClient,
  createCluster,
  defineScript,
  DisconnectsClientError,
  ErrorReply,
  MaxCommandRedirectionsError,
  ReconnectStrategyError,
  RootNodesUnavailableError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
  type CommandParser,
} from 'redis';

/**
 * The Redis connection every store shares, and the Lua scripts they run.
 *
 * Behaviour during an outage: the offline queue is disabled, so a command issued while the connection is down
 * rejects at once (ClientOfflineError) instead of waiting for a reconnect, and every command has a deadline (one
 * watchdog per client, see CommandWatchdog), so a connection that hangs without closing cannot hold a request
 * either. The HTTP layer turns any error for which
 * `isRedisUnavailableError` is true into a 503. The client keeps reconnecting forever in the background with a
 * capped exponential backoff, and commands succeed again as soon as it is back; nothing has to be recreated.
 *
 * With REDIS_CLUSTER_NODES the same holds for a Redis Cluster (createRedisCluster): every node connection gets
 * these settings, a command for a slot whose node is down rejects at once, and the client follows MOVED/ASK
 * redirections and refreshes the slot map by itself. Every script and command of the stores touches one key (see
 * keys.ts), so each runs on exactly one node.
 */

export interface RedisClientConfig {
  url: string;
  /** CLIENT SETNAME, shown by CLIENT LIST; handy to tell instances apart. */
  name?: string;
  /** Limit for one TCP connect + handshake attempt. Default 2000 ms. */
  connectTimeoutMs?: number;
  /** Limit for one command's reply. Default 2000 ms. */
  commandTimeoutMs?: number;
  /** Longest wait between reconnect attempts. Default 2000 ms. */
  maxReconnectDelayMs?: number;
  /**
   * Receives connection errors (the client reports every failed reconnect attempt). They are never rethrown.
   * Default: one console.warn when the connection is lost and one when it is back.
   */
  onError?: (err: Error) => void;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 2000;
export const DEFAULT_COMMAND_TIMEOUT_MS = 2000;
export const DEFAULT_MAX_RECONNECT_DELAY_MS = 2000;

// ---------------------------------------------------------------------------------------------------------------
// Lua scripts: one file per atomic operation in ./lua/, read at run time (the build copies the folder to dist).
// The client sends EVALSHA and falls back to EVAL on NOSCRIPT (e.g. after a server restart or failover).

const LUA_DIR = new URL('./lua/', import.meta.url);

function readLua(name: string): string {
  const url = new URL(`${name}.lua`, LUA_DIR);
  try {
    return readFileSync(url, 'utf8');
  } catch (err) {
    throw new Error(`cannot read Lua script ${url.pathname} (is src/state/lua copied next to the compiled code?)`, {
      cause: err,
    });
  }
}

/** Script replies are parsed by the stores, which know their shape. */
const rawReply = (reply: unknown): unknown => reply;

function loadScripts() {
  return {
    sessionCreate: defineScript({
      SCRIPT: readLua('session-create'),
      NUMBER_OF_KEYS: 1,
      parseCommand(
        parser: CommandParser,
        key: string,
        recordJson: string,
        activeBusinessId: string,
        expiresAt: string,
        now: string,
        idleTtlMs: string,
      ) {
        parser.pushKey(key);
        parser.push(recordJson, activeBusinessId, expiresAt, now, idleTtlMs);
      },
      transformReply: rawReply,
    }),
    sessionTouch: defineScript({
      SCRIPT: readLua('session-touch'),
      NUMBER_OF_KEYS: 1,
      parseCommand(parser: CommandParser, key: string, now: string, idleTtlMs: string, renewUid: string, renewExpiresAt: string) {
        parser.pushKey(key);
        parser.push(now, idleTtlMs, renewUid, renewExpiresAt);
      },
      transformReply: rawReply,
    }),
    sessionSetActiveBusiness: defineScript({
      SCRIPT: readLua('session-set-active-business'),
      NUMBER_OF_KEYS: 1,
      parseCommand(parser: CommandParser, key: string, businessId: string) {
        parser.pushKey(key);
        parser.push(businessId);
      },
      transformReply: rawReply,
    }),
    cartAdd: defineScript({
      SCRIPT: readLua('cart-add'),
      NUMBER_OF_KEYS: 1,
      parseCommand(parser: CommandParser, key: string, ...args: [string, string, string, string, string, string]) {
        parser.pushKey(key);
        parser.push(...args);
      },
      transformReply: rawReply,
    }),
    cartSet: defineScript({
      SCRIPT: readLua('cart-set'),
      NUMBER_OF_KEYS: 1,
      parseCommand(parser: CommandParser, key: string, ...args: [string, string, string, string, string, string]) {
        parser.pushKey(key);
        parser.push(...args);
      },
      transformReply: rawReply,
    }),
    cartRemove: defineScript({
      SCRIPT: readLua('cart-remove'),
      NUMBER_OF_KEYS: 1,
      parseCommand(parser: CommandParser, key: string, field: string, ttlMs: string) {
        parser.pushKey(key);
        parser.push(field, ttlMs);
      },
      transformReply: rawReply,
    }),
    eventAppend: defineScript({
      SCRIPT: readLua('event-append'),
      NUMBER_OF_KEYS: 1,
      parseCommand(
        parser: CommandParser,
        key: string,
        json: string,
        maxEvents: string,
        minId: string,
        ttlMs: string,
        ...announce: [] | [command: 'PUBLISH' | 'SPUBLISH', channel: string, head: string, middle: string, tail: string]
      ) {
        parser.pushKey(key);
        parser.push(json, maxEvents, minId, ttlMs, ...announce);
      },
      transformReply: rawReply,
    }),
    cartClear: defineScript({
      SCRIPT: readLua('cart-clear'),
      NUMBER_OF_KEYS: 1,
      parseCommand(parser: CommandParser, key: string, expectedVersion: string, ttlMs: string) {
        parser.pushKey(key);
        parser.push(expectedVersion, ttlMs);
      },
      transformReply: rawReply,
    }),
    pendingBind: defineScript({
      SCRIPT: readLua('pending-bind'),
      NUMBER_OF_KEYS: 1,
      parseCommand(parser: CommandParser, key: string, expectedBinding: string, json: string) {
        parser.pushKey(key);
        parser.push(expectedBinding, json);
      },
      transformReply: rawReply,
    }),
    codeRedeem: defineScript({
      SCRIPT: readLua('code-redeem'),
      NUMBER_OF_KEYS: 1,
      parseCommand(parser: CommandParser, key: string, familyId: string, jti: string, expiresAt: string) {
        parser.pushKey(key);
        parser.push(familyId, jti, expiresAt);
      },
      transformReply: rawReply,
    }),
    refreshCreate: defineScript({
      SCRIPT: readLua('refresh-create'),
      NUMBER_OF_KEYS: 1,
      parseCommand(parser: CommandParser, key: string, ...args: string[]) {
        parser.pushKey(key);
        parser.push(...args);
      },
      transformReply: rawReply,
    }),
    refreshRotate: defineScript({
      SCRIPT: readLua('refresh-rotate'),
      NUMBER_OF_KEYS: 2,
      parseCommand(parser: CommandParser, familyKey: string, usedKey: string, ...args: string[]) {
        parser.pushKeys([familyKey, usedKey]);
        parser.push(...args);
      },
      transformReply: rawReply,
    }),
    refreshRevoke: defineScript({
      SCRIPT: readLua('refresh-revoke'),
      NUMBER_OF_KEYS: 2,
      parseCommand(parser: CommandParser, familyKey: string, usedKey: string) {
        parser.pushKeys([familyKey, usedKey]);
      },
      transformReply: rawReply,
    }),
    // Variable key count (one key per rule): the count is pushed with the keys.
    rateLimit: defineScript({
      SCRIPT: readLua('rate-limit'),
      parseCommand(parser: CommandParser, keys: string[], member: string, ...limitsAndWindows: string[]) {
        parser.pushKeysLength(keys);
        parser.push(member, ...limitsAndWindows);
      },
      transformReply: rawReply,
    }),
  };
}

export type StateScripts = ReturnType<typeof loadScripts>;
let scripts: StateScripts | undefined;

/** Every script of src/state/lua, read once per process. */
export function stateScripts(): StateScripts {
  scripts ??= loadScripts();
  return scripts;
}

// ---------------------------------------------------------------------------------------------------------------

/**
 * Never gives up (a number, never false or an Error): 50 ms doubling up to maxDelay, with jitter so many
 * instances do not reconnect in lockstep after a Redis restart.
 */
function reconnectStrategy(maxDelay: number): (retries: number) => number {
  return (retries) => {
    const base = Math.min(50 * 2 ** Math.min(retries, 16), maxDelay);
    return Math.round(base / 2 + Math.random() * (base / 2));
  };
}

/**
 * The command deadline, one timer per client instead of one per command.
 *
 * node-redis' own `commandOptions.timeout` (5 s unless set) creates an `AbortSignal.timeout` for every command —
 * a timer, an event listener, and two seconds later, long after the reply, a `DOMException` when the timer fires
 * anyway; and it only bounds the wait for the command to be *written*, not for its reply. The watchdog instead
 * notes when each command was sent (a Set in issue order); a timer, armed while commands are pending and firing
 * every quarter of the timeout, rejects every command older than the timeout with a RedisUnavailableError
 * (→ 503). So a command is answered, or fails, within 1.25 × the timeout; the late reply, if it ever comes, is
 * dropped. Per command this costs one entry and one promise, and no timer.
 */
export class CommandWatchdog {
  readonly #timeoutMs: number;
  readonly #tickMs: number;
  readonly #pending = new Set<{ at: number; reject: (err: Error) => void }>();
  #timer: NodeJS.Timeout | undefined;

  constructor(timeoutMs: number) {
    if (!(timeoutMs > 0)) throw new TypeError('command timeout must be > 0 ms');
    this.#timeoutMs = timeoutMs;
    this.#tickMs = Math.max(1, Math.floor(timeoutMs / 4));
  }

  /** Commands sent and not yet answered. */
  get pending(): number {
    return this.#pending.size;
  }

  watch<T>(command: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry = { at: Date.now(), reject };
      this.#pending.add(entry);
      this.#timer ??= setTimeout(this.#tick, this.#tickMs).unref();
      command.then(
        (value) => {
          this.#pending.delete(entry);
          resolve(value);
        },
        (err: unknown) => {
          this.#pending.delete(entry);
          reject(err);
        },
      );
    });
  }

  readonly #tick = (): void => {
    this.#timer = undefined;
    const expired = Date.now() - this.#timeoutMs;
    for (const entry of this.#pending) {
      // Issue order: the first one still in time ends the scan.
      if (entry.at > expired) break;
      this.#pending.delete(entry);
      entry.reject(new RedisUnavailableError(`no reply from Redis within ${this.#timeoutMs} ms`));
    }
    if (this.#pending.size > 0) this.#timer = setTimeout(this.#tick, this.#tickMs).unref();
  };

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

const watchdogs = new WeakMap<object, CommandWatchdog>();

/** The watchdog guarding a client's commands (undefined for clients not made here). */
export function commandWatchdog(client: StateRedis): CommandWatchdog | undefined {
  return watchdogs.get(client);
}

/**
 * Routes every command of `client` through a watchdog: node-redis sends each command of a single client through
 * `sendCommand` (scripts and typed commands alike), and each command of a cluster through `_execute` (which picks
 * the node, follows redirections and retries), on the client's `_self`, which its proxies inherit from.
 */
function installWatchdog<C extends object>(client: C, method: 'sendCommand' | '_execute', timeoutMs: number): C {
  const watchdog = new CommandWatchdog(timeoutMs);
  const self = (client as { _self?: Record<string, unknown> })._self ?? (client as Record<string, unknown>);
  const original = self[method];
  if (typeof original !== 'function') throw new Error(`redis client has no ${method}(): cannot guard its commands`);
  self[method] = function watched(this: unknown, ...args: unknown[]) {
    return watchdog.watch((original as (...a: unknown[]) => Promise<unknown>).apply(this, args));
  };
  watchdogs.set(client, watchdog);
  return client;
}

function buildClient(config: RedisClientConfig) {
  return createClient({
    url: config.url,
    name: config.name,
    disableOfflineQueue: true,
    // No per-command AbortSignal timer (node-redis would add one with 5 s by default): see CommandWatchdog.
    commandOptions: { timeout: 0 },
    socket: {
      connectTimeout: config.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      reconnectStrategy: reconnectStrategy(config.maxReconnectDelayMs ?? DEFAULT_MAX_RECONNECT_DELAY_MS),
    },
    scripts: stateScripts(),
  });
}

export type StateRedisClient = ReturnType<typeof buildClient>;

// ---------------------------------------------------------------------------------------------------------------
// Redis Cluster (REDIS_CLUSTER_NODES).

export interface RedisClusterConfig extends Omit<RedisClientConfig, 'url'> {
  /**
   * Seed nodes as `redis://` or `rediss://` URLs; the client discovers the other nodes from them. Their
   * credentials and TLS apply to every node of the cluster, so all seeds must agree on them.
   */
  nodes: string[];
}

interface ClusterSeeds {
  seeds: { host: string; port: number }[];
  tls: boolean;
  username?: string;
  password?: string;
}

/** Validates cluster seed URLs; throws a TypeError naming the first problem (never echoing a password). */
export function parseClusterNodes(nodes: readonly string[]): ClusterSeeds {
  if (!Array.isArray(nodes) || nodes.length === 0) throw new TypeError('Redis Cluster: at least one seed node is required');
  let first: { tls: boolean; username: string; password: string } | undefined;
  const seeds = nodes.map((node, i) => {
    let url: URL;
    try {
      url = new URL(node);
    } catch {
      throw new TypeError(`Redis Cluster seed node ${i + 1} is not a URL`);
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
      throw new TypeError(`Redis Cluster seed node ${i + 1} must be a redis:// or rediss:// URL`);
    }
    if (!url.hostname) throw new TypeError(`Redis Cluster seed node ${i + 1} has no host`);
    if (url.pathname !== '' && url.pathname !== '/' && url.pathname !== '/0') {
      throw new TypeError(`Redis Cluster seed node ${i + 1}: a cluster has only database 0`);
    }
    const own = {
      tls: url.protocol === 'rediss:',
      username: decodeURIComponent(url.username),
      password: decodeURIComponent(url.password),
    };
    first ??= own;
    if (own.tls !== first.tls || own.username !== first.username || own.password !== first.password) {
      throw new TypeError('Redis Cluster seed nodes must all use the same scheme (redis:// or rediss://) and credentials');
    }
    // WHATWG URLs keep IPv6 literals in brackets; sockets want them bare.
    return { host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(url.port || 6379) };
  });
  return {
    seeds,
    tls: first!.tls,
    ...(first!.username ? { username: first!.username } : {}),
    ...(first!.password ? { password: first!.password } : {}),
  };
}

function buildCluster(config: RedisClusterConfig) {
  const { seeds, tls, username, password } = parseClusterNodes(config.nodes);
  return createCluster({
    // Used only to discover the topology; every connection, to seeds and discovered nodes alike, takes `defaults`.
    rootNodes: seeds.map((socket) => ({ socket })),
    defaults: {
      ...(username ? { username } : {}),
      ...(password ? { password } : {}),
      name: config.name,
      // The same fail-fast settings as the single-node client, on every node connection.
      disableOfflineQueue: true,
      socket: {
        connectTimeout: config.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
        reconnectStrategy: reconnectStrategy(config.maxReconnectDelayMs ?? DEFAULT_MAX_RECONNECT_DELAY_MS),
        ...(tls ? { tls: true as const } : {}),
      },
    },
    // Passed with every command to whichever node serves it: no per-command timer (see CommandWatchdog).
    commandOptions: { timeout: 0 },
    // Reads go to masters too: a replica may lag, and a session or cart must read what was just written.
    useReplicas: false,
    scripts: stateScripts(),
  });
}

export type StateRedisCluster = ReturnType<typeof buildCluster>;

/** The connection the stores run their commands and scripts on: one Redis server, or a Redis Cluster. */
export type StateRedis = StateRedisClient | StateRedisCluster;

export function isRedisCluster(client: StateRedis): client is StateRedisCluster {
  return typeof (client as Partial<StateRedisCluster>).getNodeClientForKey === 'function';
}

/**
 * Creates (does not connect) a cluster client with the state scripts registered. Call `connectRedisClient` next.
 * `cluster.duplicate()` keeps these settings (add the error listener again with `attachErrorListener`).
 */
export function createRedisCluster(config: RedisClusterConfig): StateRedisCluster {
  const cluster = installWatchdog(buildCluster(config), '_execute', config.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
  attachErrorListener(cluster, config.onError, config.name);
  return cluster;
}

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    table[i] = crc & 0xffff;
  }
  return table;
})();

/** The Redis Cluster hash slot of a key or sharded channel (CRC16 of its hash tag, or of all of it, mod 16384). */
export function clusterKeySlot(key: string): number {
  let bytes = new TextEncoder().encode(key);
  const open = bytes.indexOf(0x7b); // {
  if (open !== -1) {
    const close = bytes.indexOf(0x7d, open + 1); // }
    if (close > open + 1) bytes = bytes.subarray(open + 1, close);
  }
  let crc = 0;
  for (const byte of bytes) crc = ((crc << 8) & 0xffff) ^ CRC16_TABLE[((crc >> 8) ^ byte) & 0xff]!;
  return crc & 0x3fff;
}

/**
 * Resolves when Redis answers: PING for one server; for a cluster, every master known to the client must answer
 * CLUSTER INFO with `cluster_state:ok` (a master that is down, or a cluster with uncovered slots, cannot serve
 * every key). Rejects with an error isRedisUnavailableError recognises, within `timeoutMs`.
 */
export async function pingRedis(client: StateRedis, timeoutMs = DEFAULT_COMMAND_TIMEOUT_MS): Promise<void> {
  if (!isRedisCluster(client)) {
    await client.ping();
    return;
  }
  if (!client.isOpen) throw new ClientClosedError();
  if (!client.isReady) throw new ClientOfflineError();
  const masters = client.masters;
  if (masters.length === 0) throw new RedisUnavailableError('Redis Cluster: no master known');
  let timer: NodeJS.Timeout | undefined;
  const checks = Promise.all(
    masters.map(async (master) => {
      // nodeClient waits for a connection still being made; the deadline below bounds that.
      const node = await client.nodeClient(master);
      const info = String(await node.sendCommand(['CLUSTER', 'INFO']));
      if (!/^cluster_state:ok\b/m.test(info)) {
        throw new RedisUnavailableError(`Redis Cluster node ${master.address} reports ${/^cluster_state:\w+/m.exec(info)?.[0] ?? 'no cluster_state'}`);
      }
    }),
  );
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new RedisUnavailableError(`Redis Cluster: no answer from every master within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    await Promise.race([checks, deadline]);
  } finally {
    clearTimeout(timer);
    checks.catch(() => {});
  }
}

/**
 * Fails unless every master supports sharded pub/sub (Redis 7.0 or later), which the session bus uses in cluster
 * mode; better to say so at start-up than to fail on the first SSE stream.
 */
export async function assertShardedPubSub(cluster: StateRedisCluster): Promise<void> {
  await Promise.all(
    cluster.masters.map(async (master) => {
      const node = await cluster.nodeClient(master);
      try {
        await node.sendCommand(['PUBSUB', 'SHARDNUMSUB']);
      } catch (err) {
        if (err instanceof ErrorReply && /unknown (sub)?command/i.test(err.message)) {
          throw new Error(`Redis Cluster node ${master.address} lacks sharded pub/sub (SSUBSCRIBE): Redis 7.0 or later is required`, {
            cause: err,
          });
        }
        throw err;
      }
    }),
  );
}

// ---------------------------------------------------------------------------------------------------------------

interface NodeInfo {
  host?: string;
  port?: number;
}

function defaultErrorReporter(client: StateRedis, label: string): (err: Error, node?: NodeInfo) => void {
  if (isRedisCluster(client)) return defaultClusterErrorReporter(client, label);
  let down = false;
  client.on('ready', () => {
    if (down) console.warn(`[${label}] redis connection restored`);
    down = false;
  });
  return (err) => {
    if (down) return;
    down = true;
    console.warn(`[${label}] redis unavailable, retrying in the background: ${err.message}`);
  };
}

/** Like the single-node reporter, per cluster node: one warning when a node is lost and one when it is back. */
function defaultClusterErrorReporter(cluster: StateRedisCluster, label: string): (err: Error, node?: NodeInfo) => void {
  const down = new Set<string>();
  cluster.on('node-ready', (node: NodeInfo) => {
    const address = `${node?.host}:${node?.port}`;
    down.delete('cluster');
    if (down.delete(address)) console.warn(`[${label}] redis cluster node ${address} restored`);
  });
  return (err, node) => {
    const address = node ? `${node.host}:${node.port}` : 'cluster';
    if (down.has(address)) return;
    down.add(address);
    console.warn(`[${label}] redis cluster ${node ? `node ${address}` : 'topology'} unavailable, retrying in the background: ${err.message}`);
  };
}

/**
 * Creates (does not connect) a client with the state scripts registered. Call `connectRedisClient` or
 * `client.connect()` next. `client.duplicate()` keeps all of these settings (and the error listener must be added
 * again: use `attachErrorListener`).
 */
export function createRedisClient(config: RedisClientConfig): StateRedisClient {
  if (!config.url) throw new TypeError('createRedisClient: url is required');
  const client = installWatchdog(buildClient(config), 'sendCommand', config.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS);
  attachErrorListener(client, config.onError, config.name);
  return client;
}

/**
 * An 'error' listener that never lets a connection error become an uncaught exception. A cluster reports errors
 * of its node connections as 'node-error' (and of topology discovery as 'error'): both are reported.
 */
export function attachErrorListener(client: StateRedis, onError?: (err: Error) => void, label = 'redis'): void {
  const report: (err: Error, node?: NodeInfo) => void = onError ?? defaultErrorReporter(client, label);
  const listener = (err: unknown, node?: NodeInfo) => {
    try {
      report(err instanceof Error ? err : new Error(String(err)), node);
    } catch {
      // A throwing reporter must not turn into an unhandled 'error' either.
    }
  };
  client.on('error', listener);
  if (isRedisCluster(client)) {
    client.on('node-error', listener);
    // A subscription that could not follow its slot to another shard: (err, channel, listeners).
    client.on('sharded-channel-moved-error', (err: unknown) => listener(err));
  }
}

/** Raised when Redis cannot be reached; recognised by isRedisUnavailableError. */
export class RedisUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RedisUnavailableError';
  }
}

/** `redis://user:secret@host` → `redis://user:***@host`, for messages. */
export function redactRedisUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparsable URL)';
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * A cluster's connect() fails at once when no seed answers (unlike a single client, which keeps retrying), so it
 * is tried again until `stopped()`; that way a cluster still starting up gets the same start-up grace.
 */
async function connectCluster(cluster: StateRedisCluster, stopped: () => boolean, onError: (err: unknown) => void): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await cluster.connect();
      return;
    } catch (err) {
      // The 'error' event already carried why each seed failed (refused, WRONGPASS…); keep that over this summary.
      if (!(err instanceof RootNodesUnavailableError)) onError(err);
      if (stopped()) throw err;
      await sleep(Math.min(100 * 2 ** attempt, 1000));
      if (stopped()) throw err;
    }
  }
}

/**
 * Connects, giving up after `timeoutMs` (the client would otherwise retry forever) with a RedisUnavailableError
 * whose message starts with `what`. On failure the client is destroyed. For a cluster, "connected" means the
 * topology is known and every master is connected.
 */
export async function connectRedisClient(client: StateRedis, timeoutMs: number, what: string): Promise<void> {
  let lastError: unknown;
  const onError = (err: unknown) => {
    lastError = err;
  };
  const cluster = isRedisCluster(client);
  client.on('error', onError);
  if (cluster) client.on('node-error', onError);
  let timer: NodeJS.Timeout | undefined;
  let gaveUp = false;
  const connecting = cluster ? connectCluster(client, () => gaveUp, onError) : client.connect();
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const outcome = await Promise.race([connecting, timedOut]);
    if (outcome === 'timeout') {
      gaveUp = true;
      client.destroy();
      connecting.catch(() => {});
      const cause = lastError instanceof Error ? `: ${lastError.message || lastError.name}` : '';
      throw new RedisUnavailableError(`${what}: no connection within ${timeoutMs} ms${cause}`, { cause: lastError });
    }
  } catch (err) {
    if (err instanceof RedisUnavailableError) throw err;
    gaveUp = true;
    client.destroy();
    throw new RedisUnavailableError(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  } finally {
    clearTimeout(timer);
    client.off('error', onError);
    if (cluster) client.off('node-error', onError);
  }
}

/** Closes gracefully (pending replies first); destroys the socket if that takes longer than `timeoutMs`. */
export async function closeRedisClient(client: StateRedis, timeoutMs = 2000): Promise<void> {
  watchdogs.get(client)?.stop();
  if (!client.isOpen) return;
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const outcome = await Promise.race([client.close().then(() => 'closed' as const), timedOut]);
    if (outcome === 'timeout') client.destroy();
  } catch {
    client.destroy();
  } finally {
    clearTimeout(timer);
  }
}

const UNAVAILABLE_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** Server replies that mean "not now" rather than "wrong request". */
// MOVED/ASK only reach a caller when the slot map keeps changing under a resharding or failover: transient too.
const UNAVAILABLE_REPLIES = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY|MOVED|ASK)\b/;

/**
 * True for errors that mean Redis is (momentarily) unreachable or not serving: connection down or closed,
 * command timed out, reconnecting, server loading; for a cluster also no seed node reachable, cluster down
 * (CLUSTERDOWN, TRYAGAIN) and redirections that never settle (MOVED/ASK past the redirection limit). The HTTP layer should answer 503 (with Retry-After) for these
 * and 500 for anything else.
 */
export function isRedisUnavailableError(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (
      e instanceof RedisUnavailableError ||
      e instanceof ClientOfflineError ||
      e instanceof ClientClosedError ||
      e instanceof ConnectionTimeoutError ||
      e instanceof SocketClosedUnexpectedlyError ||
      e instanceof SocketTimeoutError ||
      e instanceof DisconnectsClientError ||
      e instanceof ReconnectStrategyError ||
      e instanceof TimeoutError ||
      e instanceof RootNodesUnavailableError ||
      e instanceof MaxCommandRedirectionsError
    ) {
      return true;
    }
    if (e instanceof ErrorReply) return UNAVAILABLE_REPLIES.test(e.message);
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
  }
  return false;
}
