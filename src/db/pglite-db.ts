import { mkdir } from 'node:fs/promises';
import { PGlite, type Results, type Transaction } from '@electric-sql/pglite';
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import type { Db, Queryable, QueryResult } from './db.js';

export interface PgliteDbOptions {
  /** A directory to persist in (created if missing), or `memory://` for a throwaway in-memory database. */
  dataDir: string;
  /** Start from a dump made by `dumpDataDir()` instead of running initdb (tests use it to clone a template). */
  loadDataDir?: Blob;
}

interface PgliteRunner {
  query<T>(sql: string, params?: unknown[]): Promise<Results<T>>;
  exec(sql: string): Promise<Results[]>;
}

function toResult<T>(result: Results<T>): QueryResult<T> {
  return { rows: result.rows, rowCount: result.rowCount ?? result.rows.length };
}

/**
 * Like node-postgres, a query without parameters goes through the simple protocol, which accepts several
 * statements (migrations rely on it); with parameters it is one prepared statement.
 */
async function run<T>(runner: PgliteRunner, sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
  if (params === undefined || params.length === 0) {
    const results = await runner.exec(sql);
    const last = results[results.length - 1];
    return last ? toResult(last as Results<T>) : { rows: [], rowCount: 0 };
  }
  return toResult(await runner.query<T>(sql, [...params]));
}

/**
 * Embedded PostgreSQL (WASM) in this process. One connection: statements and transactions are serialised,
 * so `SELECT … FOR UPDATE` never waits and advisory locks are trivially granted. `statementTimeoutMs` does
 * not apply. A persisted dataDir must be opened by one process at a time.
 */
export class PgliteDb implements Db {
  readonly kind = 'pglite' as const;

  private constructor(readonly pg: PGlite) {}

  static async open(options: PgliteDbOptions): Promise<PgliteDb> {
    const memory = options.dataDir.startsWith('memory://');
    if (!memory) await mkdir(options.dataDir, { recursive: true });
    const pg = await PGlite.create({
      ...(memory ? {} : { dataDir: options.dataDir }),
      ...(options.loadDataDir ? { loadDataDir: options.loadDataDir } : {}),
      // Trigram indexes back the case-insensitive substring search on products.
      extensions: { pg_trgm },
    });
    return new PgliteDb(pg);
  }

  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<QueryResult<T>> {
    return run<T>(this.pg, sql, params);
  }

  /**
   * PGlite's own transaction API: BEGIN/COMMIT on its single connection, ROLLBACK when fn throws, and other
   * callers wait until it finishes. Inside fn use only `tx` — calling this Db again from fn would wait forever.
   */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.pg.transaction(async (pgTx: Transaction) => {
      let open = true;
      const tx: Queryable = {
        query: <R>(sql: string, params?: readonly unknown[]) => {
          if (!open) return Promise.reject(new Error('Transaction already finished: query issued outside its callback'));
          return run<R>(pgTx, sql, params);
        },
      };
      try {
        return await fn(tx);
      } finally {
        open = false;
      }
    });
  }

  async ping(): Promise<void> {
    await this.pg.query('SELECT 1');
  }

  /** A tarball of the data directory, loadable with `loadDataDir`. */
  dumpDataDir(): Promise<Blob> {
    return this.pg.dumpDataDir('none');
  }

  async close(): Promise<void> {
    if (!this.pg.closed) await this.pg.close();
  }
}
