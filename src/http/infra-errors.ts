import { isDbUnavailableError, isFromDatabase } from '../db/errors.js';
import { AppError } from '../errors.js';
import { isRedisUnavailableError } from '../state/redis-client.js';

/** Seconds a client should wait before retrying during an outage of Redis or PostgreSQL. */
export const OUTAGE_RETRY_AFTER_SECONDS = 2;

/** Maps an outage of a backing service to its 503; anything else is not ours to translate. */
export function infraError(err: unknown): AppError | undefined {
  if (err instanceof AppError) return err.status === 503 ? err : undefined;
  const headers = { 'retry-after': String(OUTAGE_RETRY_AFTER_SECONDS) };
  // The database client's own errors first: a bare ECONNREFUSED from PostgreSQL must not be named Redis.
  if (isFromDatabase(err) && isDbUnavailableError(err)) return new AppError('unavailable_db', undefined, headers);
  if (isRedisUnavailableError(err)) return new AppError('unavailable_redis', undefined, headers);
  if (isDbUnavailableError(err)) return new AppError('unavailable_db', undefined, headers);
  return undefined;
}

/** The first outage among failures a tool reported, as the error the whole request should answer with. */
export function firstInfraFailure(failures: unknown[]): AppError | undefined {
  for (const f of failures) {
    const e = infraError(f);
    if (e) return e;
  }
  return undefined;
}
