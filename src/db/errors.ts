/**
 * Classifies database errors. "Unavailable" means the database could not be reached or is refusing work for
 * now (the request may succeed later, so callers answer 503); anything else is a bug or a constraint and is
 * reported as such.
 */

/** Node socket / DNS error codes that mean the server could not be reached or the link dropped. */
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
]);

/**
 * SQLSTATEs that mean "not now" rather than "wrong":
 * class 08 connection exception, class 53 insufficient resources (too many connections, out of memory, disk full),
 * 57P01–57P05 shutdown / cannot connect now / idle-session timeout, 57014 statement timeout (overload),
 * 25006 read-only transaction (the server we reached is a replica after a failover).
 */
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '57P04', '57P05', '57014', '25006']);

/** Messages node-postgres and PGlite use for connection-level failures (they carry no code). */
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end on the pool',
  'Query read timeout',
  'PGlite is closed',
  'Database is closed',
];

const FROM_DATABASE = Symbol.for('flowpos.db.error');

/**
 * Marks an error as thrown by the database client. A bare network error (ECONNREFUSED, ECONNRESET…) looks the
 * same whether PostgreSQL or Redis dropped it; the mark lets an outage be named after the service that failed.
 */
export function markDbError<E>(err: E): E {
  if (typeof err === 'object' && err !== null && !Object.isFrozen(err)) Object.defineProperty(err, FROM_DATABASE, { value: true });
  return err;
}

export function isFromDatabase(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as Record<symbol, unknown>)[FROM_DATABASE] === true;
}

/** The SQLSTATE of a PostgreSQL error (from pg or PGlite), or undefined. */
export function pgErrorCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) ? code : undefined;
}

/** True for a unique-constraint violation, optionally of one named constraint. */
export function isUniqueViolation(err: unknown, constraint?: string): boolean {
  if (pgErrorCode(err) !== '23505') return false;
  return constraint === undefined || (err as { constraint?: unknown }).constraint === constraint;
}

/** True when err means the database is unreachable or temporarily refusing work (answer 503, not 500). */
export function isDbUnavailableError(err: unknown): boolean {
  return check(err, 0);
}

function check(err: unknown, depth: number): boolean {
  if (depth > 5 || typeof err !== 'object' || err === null) return false;
  const e = err as { code?: unknown; message?: unknown; errors?: unknown; cause?: unknown };

  const sqlState = pgErrorCode(err);
  if (sqlState !== undefined) {
    if (sqlState.startsWith('08') || sqlState.startsWith('53') || UNAVAILABLE_SQLSTATES.has(sqlState)) return true;
  }
  if (typeof e.code === 'string' && NETWORK_CODES.has(e.code)) return true;
  if (typeof e.message === 'string') {
    const message = e.message;
    if (UNAVAILABLE_MESSAGES.some((m) => message.startsWith(m))) return true;
  }
  // pg connecting to a host with several addresses (IPv4 + IPv6) rejects with an AggregateError.
  if (Array.isArray(e.errors) && e.errors.length > 0 && e.errors.every((inner) => check(inner, depth + 1))) return true;
  return e.cause !== undefined && check(e.cause, depth + 1);
}
