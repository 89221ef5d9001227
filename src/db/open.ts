import type { Db } from './db.js';
import { PgDb } from './pg-db.js';
import { PgliteDb } from './pglite-db.js';

export interface OpenDbOptions {
  /** `postgres://…`: use that server through a connection pool. Absent: embedded PGlite in `dataDir`. */
  databaseUrl?: string;
  /** Where embedded PGlite keeps its files (created if missing); `memory://` keeps nothing (tests). */
  dataDir: string;
  /** Connections per process (Postgres only); default 10. */
  poolMax?: number;
  /** statement_timeout for every connection (Postgres only). */
  statementTimeoutMs?: number;
  /** Observes errors of idle pooled connections, which are otherwise swallowed (Postgres only). */
  onPoolError?: (err: Error) => void;
}

/** Opens the database. Does not migrate: call `migrate(db)` next. */
export async function openDb(opts: OpenDbOptions): Promise<Db> {
  if (opts.databaseUrl) {
    return new PgDb({
      connectionString: opts.databaseUrl,
      ...(opts.poolMax !== undefined ? { poolMax: opts.poolMax } : {}),
      ...(opts.statementTimeoutMs !== undefined ? { statementTimeoutMs: opts.statementTimeoutMs } : {}),
      ...(opts.onPoolError ? { onPoolError: opts.onPoolError } : {}),
    });
  }
  return PgliteDb.open({ dataDir: opts.dataDir });
}
