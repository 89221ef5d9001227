import { readFileSync } from 'node:fs';
import {
  ClientClosedError,
  ClientOfflineError,
  ConnectionTimeoutError,
  createClient,
  defineScript,
  DisconnectsClientError,
  ErrorReply,
  ReconnectStrategyError,
  SocketClosedUnexpectedlyError,
  SocketTimeoutError,
  TimeoutError,
  type CommandParser,
} from 'redis';

/**
 * The Redis connection every store shares, and the Lua scripts they run.
 *
 * Behaviour during an outage: the offline queue is disabled, so a command issued while the connection is down
 * rejects at once (ClientOfflineError) instead of waiting for a reconnect, and every command has a timeout, so a
 * connection that hangs without closing cannot hold a request either. The HTTP layer turns any error for which
 * `isRedisUnavailableError` is true into a 503. The client keeps reconnecting forever in the background with a
 * capped exponential backoff, and commands succeed again as soon as it is back; nothing has to be recreated.
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
      parseCommand(parser: CommandParser, key: string, now: string, idleTtlMs: string) {
        parser.pushKey(key);
        parser.push(now, idleTtlMs);
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
      parseCommand(parser: CommandParser, key: string, json: string, maxEvents: string, minId: string, ttlMs: string) {
        parser.pushKey(key);
        parser.push(json, maxEvents, minId, ttlMs);
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

function buildClient(config: RedisClientConfig) {
  const maxDelay = config.maxReconnectDelayMs ?? DEFAULT_MAX_RECONNECT_DELAY_MS;
  return createClient({
    url: config.url,
    name: config.name,
    disableOfflineQueue: true,
    commandOptions: { timeout: config.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS },
    socket: {
      connectTimeout: config.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      // Never gives up (a number, never false or an Error): 50 ms doubling up to maxDelay, with jitter so many
      // instances do not reconnect in lockstep after a Redis restart.
      reconnectStrategy: (retries: number) => {
        const base = Math.min(50 * 2 ** Math.min(retries, 16), maxDelay);
        return Math.round(base / 2 + Math.random() * (base / 2));
      },
    },
    scripts: stateScripts(),
  });
}

export type StateRedisClient = ReturnType<typeof buildClient>;

function defaultErrorReporter(client: StateRedisClient, label: string): (err: Error) => void {
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

/**
 * Creates (does not connect) a client with the state scripts registered. Call `connectRedisClient` or
 * `client.connect()` next. `client.duplicate()` keeps all of these settings (and the error listener must be added
 * again: use `attachErrorListener`).
 */
export function createRedisClient(config: RedisClientConfig): StateRedisClient {
  if (!config.url) throw new TypeError('createRedisClient: url is required');
  const client = buildClient(config);
  attachErrorListener(client, config.onError, config.name);
  return client;
}

/** An 'error' listener that never lets a connection error become an uncaught exception. */
export function attachErrorListener(client: StateRedisClient, onError?: (err: Error) => void, label = 'redis'): void {
  const report = onError ?? defaultErrorReporter(client, label);
  client.on('error', (err: unknown) => {
    try {
      report(err instanceof Error ? err : new Error(String(err)));
    } catch {
      // A throwing reporter must not turn into an unhandled 'error' either.
    }
  });
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

/**
 * Connects, giving up after `timeoutMs` (the client would otherwise retry forever) with a RedisUnavailableError
 * whose message starts with `what`. On failure the client is destroyed.
 */
export async function connectRedisClient(client: StateRedisClient, timeoutMs: number, what: string): Promise<void> {
  let lastError: unknown;
  const onError = (err: unknown) => {
    lastError = err;
  };
  client.on('error', onError);
  let timer: NodeJS.Timeout | undefined;
  const connecting = client.connect();
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  try {
    const outcome = await Promise.race([connecting, timedOut]);
    if (outcome === 'timeout') {
      client.destroy();
      connecting.catch(() => {});
      const cause = lastError instanceof Error ? `: ${lastError.message || lastError.name}` : '';
      throw new RedisUnavailableError(`${what}: no connection within ${timeoutMs} ms${cause}`, { cause: lastError });
    }
  } catch (err) {
    if (err instanceof RedisUnavailableError) throw err;
    client.destroy();
    throw new RedisUnavailableError(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  } finally {
    clearTimeout(timer);
    client.off('error', onError);
  }
}

/** Closes gracefully (pending replies first); destroys the socket if that takes longer than `timeoutMs`. */
export async function closeRedisClient(client: StateRedisClient, timeoutMs = 2000): Promise<void> {
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
const UNAVAILABLE_REPLIES = /^(LOADING|BUSY|MASTERDOWN|CLUSTERDOWN|TRYAGAIN|READONLY)\b/;

/**
 * True for errors that mean Redis is (momentarily) unreachable or not serving: connection down or closed,
 * command timed out, reconnecting, server loading. The HTTP layer should answer 503 (with Retry-After) for these
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
      e instanceof TimeoutError
    ) {
      return true;
    }
    if (e instanceof ErrorReply) return UNAVAILABLE_REPLIES.test(e.message);
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && UNAVAILABLE_CODES.has(code)) return true;
  }
  return false;
}
