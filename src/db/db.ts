/** One query interface over node-postgres and embedded PGlite, so every repository runs on both. */
export interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

/** How to run one query. */
export interface QueryOptions {
  /**
   * Prepare the statement once per connection under this name and only bind and execute it afterwards (node-postgres
   * named prepared statements), instead of sending it to be parsed and planned every time. For hot queries with a
   * fixed text; one name, one text. Backends without prepared statements (PGlite) ignore it.
   */
  name?: string;
}

export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: readonly unknown[], options?: QueryOptions): Promise<QueryResult<T>>;
}

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite';
  /** Runs fn in one transaction (BEGIN … COMMIT, ROLLBACK on throw) on a single connection. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /** Cheap liveness probe for /ready. */
  ping(): Promise<void>;
  close(): Promise<void>;
}
