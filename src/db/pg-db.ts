import pg from 'pg';
import type { Db, Queryable, QueryOptions, QueryResult } from './db.js';
import { markDbError } from './errors.js';

export interface PgDbOptions {
  connectionString: string;
  /** Pool size per process. */
  poolMax?: number;
  /** Server-side statement_timeout for every connection; 0 or undefined leaves the server default. */
  statementTimeoutMs?: number;
  /** How long a request waits for a free connection (or a new one) before failing; default 5 s. */
  connectionTimeoutMs?: number;
  /** Errors on idle connections (server restart, network drop). They are never thrown; this only observes them. */
  onPoolError?: (err: Error) => void;
}

const INT8_OID = 20;

/**
 * int8 (bigint, count(*)) as a number when it fits, else a BigInt — the same as PGlite, so repositories
 * see one shape on both backends. node-postgres would return a string.
 */
function parseInt8(value: string): number | bigint {
  const n = Number(value);
  return Number.isSafeInteger(n) ? n : BigInt(value);
}

const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID && format !== 'binary') return parseInt8;
    return format === 'binary' ? pg.types.getTypeParser(oid, 'binary') : pg.types.getTypeParser(oid, 'text');
  },
} as pg.CustomTypesConfig;

/** A parameterless query with several statements yields one result per statement; like PGlite, keep the last. */
function toResult<T>(raw: pg.QueryResult | pg.QueryResult[]): QueryResult<T> {
  const result = Array.isArray(raw) ? raw[raw.length - 1] : raw;
  if (!result) return { rows: [], rowCount: 0 };
  return { rows: result.rows as T[], rowCount: result.rowCount ?? result.rows.length };
}

/** A Db over a node-postgres Pool; every query and transaction takes a connection from the pool. */
export class PgDb implements Db {
  readonly kind = 'postgres' as const;
  readonly pool: pg.Pool;
  private closed = false;

  constructor(options: PgDbOptions) {
    this.pool = new pg.Pool({
      connectionString: options.connectionString,
      max: options.poolMax ?? 10,
      connectionTimeoutMillis: options.connectionTimeoutMs ?? 5_000,
      idleTimeoutMillis: 30_000,
      application_name: 'flowpos-mcp',
      ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
      types,
    });
    // An idle client losing its connection is reported here; without a listener Node would crash the process.
    const onPoolError = options.onPoolError;
    this.pool.on('error', (err) => {
      onPoolError?.(err);
    });
  }

  async query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<T>> {
    const values = params ? [...params] : undefined;
    const run = options?.name ? this.pool.query({ name: options.name, text: sql, ...(values ? { values } : {}) }) : this.pool.query(sql, values);
    const result = await run.catch((err: unknown) => {
      throw markDbError(err);
    });
    return toResult<T>(result as pg.QueryResult | pg.QueryResult[]);
  }

  async transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    return this.runTransaction(fn).catch((err: unknown) => {
      throw markDbError(err);
    });
  }

  private async runTransaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // While checked out, the pool does not listen for the client's errors; a dropped connection would
    // otherwise be an unhandled 'error' event. The failing query rejects on its own.
    let connectionError: Error | undefined;
    const onClientError = (err: Error) => {
      connectionError = err;
    };
    client.on('error', onClientError);
    let open = true;
    const tx: Queryable = {
      query: async <R>(sql: string, params?: readonly unknown[]) => {
        if (!open) throw new Error('Transaction already finished: query issued outside its callback');
        return toResult<R>((await client.query(sql, params ? [...params] : undefined)) as pg.QueryResult | pg.QueryResult[]);
      },
    };
    let releaseError: Error | undefined;
    try {
      await client.query('BEGIN');
      const value = await fn(tx);
      await client.query('COMMIT');
      return value;
    } catch (err) {
      try {
        await client.query('ROLLBACK');
      } catch (rollbackErr) {
        // The connection is unusable; destroy it rather than return it to the pool.
        releaseError = rollbackErr as Error;
      }
      throw err;
    } finally {
      open = false;
      client.removeListener('error', onClientError);
      client.release(releaseError ?? connectionError ?? undefined);
    }
  }

  async ping(): Promise<void> {
    await this.pool.query('SELECT 1');
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}
