import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Db } from '../../src/db/db.js';
import { isDbUnavailableError, isUniqueViolation, pgErrorCode } from '../../src/db/errors.js';
import { migrate } from '../../src/db/migrate.js';
import { openDb } from '../../src/db/open.js';
import { DEMO, seedDemo } from '../../src/db/seed.js';
import { forEachDbBackend } from '../helpers/db-backends.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

describe('isDbUnavailableError', () => {
  const withCode = (code: string, message = 'x') => Object.assign(new Error(message), { code });

  it('recognises outages', () => {
    const outages: unknown[] = [
      withCode('ECONNREFUSED'),
      withCode('ECONNRESET'),
      withCode('ETIMEDOUT'),
      withCode('ENOTFOUND'),
      withCode('57P01', 'terminating connection due to administrator command'),
      withCode('57P03', 'the database system is starting up'),
      withCode('53300', 'sorry, too many clients already'),
      withCode('08006', 'connection failure'),
      withCode('57014', 'canceling statement due to statement timeout'),
      withCode('25006', 'cannot execute INSERT in a read-only transaction'),
      new Error('Connection terminated unexpectedly'),
      new Error('timeout exceeded when trying to connect'),
      new Error('Connection terminated due to connection timeout'),
      new Error('Client has encountered a connection error and is not queryable'),
      new Error('Cannot use a pool after calling end on the pool'),
      new Error('PGlite is closed'),
      new AggregateError([withCode('ECONNREFUSED'), withCode('ECONNREFUSED')], ''),
      new Error('wrapped', { cause: withCode('ECONNRESET') }),
    ];
    for (const err of outages) assert.equal(isDbUnavailableError(err), true, String((err as Error).message || (err as Error).name));
  });

  it('does not mistake bugs and constraint errors for outages', () => {
    const bugs: unknown[] = [
      withCode('42601', 'syntax error'),
      withCode('23505', 'duplicate key value'),
      withCode('23514', 'check constraint'),
      withCode('40P01', 'deadlock detected'),
      new TypeError('Cannot read properties of undefined'),
      new Error('something else'),
      new AggregateError([withCode('ECONNREFUSED'), new Error('bug')], ''),
      null,
      undefined,
      'ECONNREFUSED',
      { code: 12 },
    ];
    for (const err of bugs) assert.equal(isDbUnavailableError(err), false, String(err));
    assert.equal(pgErrorCode(withCode('23505')), '23505');
    assert.equal(pgErrorCode(withCode('ECONNREFUSED')), undefined);
    assert.equal(isUniqueViolation(Object.assign(withCode('23505'), { constraint: 'a' }), 'a'), true);
    assert.equal(isUniqueViolation(Object.assign(withCode('23505'), { constraint: 'a' }), 'b'), false);
  });
});

forEachDbBackend('Db implementation', (ctx) => {
  before(async () => {
    await ctx.db().query('CREATE TABLE tx_probe (id int PRIMARY KEY)');
  });

  it('commits a transaction that returns and rolls back one that throws', async () => {
    const db = ctx.db();
    const value = await db.transaction(async (tx) => {
      await tx.query('INSERT INTO tx_probe VALUES ($1)', [1]);
      return 'done';
    });
    assert.equal(value, 'done');
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO tx_probe VALUES ($1)', [2]);
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query('INSERT INTO tx_probe VALUES ($1)', [3]);
        await tx.query('INSERT INTO tx_probe VALUES ($1)', [1]);
      }),
      (err: unknown) => isUniqueViolation(err),
    );
    const { rows } = await db.query<{ id: number }>('SELECT id FROM tx_probe ORDER BY id');
    assert.deepEqual(rows, [{ id: 1 }]);
    await db.ping();
  });

  it('refuses queries on a transaction handle after the transaction ended', async () => {
    let leaked: { query: Db['query'] } | undefined;
    await ctx.db().transaction(async (tx) => {
      leaked = tx;
    });
    await assert.rejects(leaked!.query('SELECT 1'), /Transaction already finished/);
  });

  it('returns the same shapes on both backends (int8 as number, timestamptz as Date, arrays, rowCount)', async () => {
    const db = ctx.db();
    const { rows } = await db.query<{ n: unknown; big: unknown; huge: unknown; at: unknown; arr: unknown; txt: unknown }>(
      `SELECT count(*) AS n, 5::bigint AS big, 9007199254740993::bigint AS huge, now() AS at, ARRAY['a','b'] AS arr, $1::text AS txt FROM tx_probe`,
      ['ünï'],
    );
    assert.equal(rows[0]!.n, 1);
    assert.equal(rows[0]!.big, 5);
    assert.equal(rows[0]!.huge, 9007199254740993n);
    assert.ok(rows[0]!.at instanceof Date);
    assert.deepEqual(rows[0]!.arr, ['a', 'b']);
    assert.equal(rows[0]!.txt, 'ünï');
    const update = await db.query('UPDATE tx_probe SET id = id WHERE id > $1', [0]);
    assert.equal(update.rowCount, 1);
    const multi = await db.query<{ x: number }>('SELECT 1 AS x; SELECT 2 AS x');
    assert.deepEqual(multi.rows, [{ x: 2 }], 'a parameterless script runs every statement and returns the last result');
  });
}, { seed: false });

describe('embedded PGlite on disk', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowpos-pglite-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('creates the data directory, persists across reopen, and reports use after close as unavailable', async () => {
    const dataDir = join(dir, 'nested', 'data');
    const first = await openDb({ dataDir });
    assert.equal(first.kind, 'pglite');
    assert.ok((await stat(dataDir)).isDirectory());
    await migrate(first);
    await seedDemo(first);
    await first.query(`UPDATE products SET stock = 42 WHERE business_id = $1 AND sku = 'COF-LATTE-12'`, [DEMO.businesses.coffee]);
    await first.close();
    await first.close();
    await assert.rejects(first.query('SELECT 1'), (err: unknown) => isDbUnavailableError(err));

    const second = await openDb({ dataDir });
    try {
      assert.deepEqual((await migrate(second)).applied, []);
      const { rows } = await second.query<{ stock: number }>(`SELECT stock FROM products WHERE business_id = $1 AND sku = 'COF-LATTE-12'`, [
        DEMO.businesses.coffee,
      ]);
      assert.equal(rows[0]?.stock, 42);
    } finally {
      await second.close();
    }
  });
});

describe('Postgres outages', () => {
  let database: TestDatabase;
  const opened: Db[] = [];
  const open = async (opts: { statementTimeoutMs?: number; onPoolError?: (err: Error) => void } = {}) => {
    const db = await openDb({ databaseUrl: database.url, dataDir: 'memory://', poolMax: 4, ...opts });
    opened.push(db);
    return db;
  };

  before(async () => {
    database = await createTestDatabase();
  });
  after(async () => {
    for (const db of opened) await db.close();
    await database.drop();
  });

  it('classifies an unreachable server as unavailable', async () => {
    const db = await openDb({ databaseUrl: 'postgres://postgres@127.0.0.1:1/nothing', dataDir: 'memory://' });
    try {
      await assert.rejects(db.query('SELECT 1'), (err: unknown) => isDbUnavailableError(err));
      await assert.rejects(db.transaction(async () => 1), (err: unknown) => isDbUnavailableError(err));
      await assert.rejects(db.ping(), (err: unknown) => isDbUnavailableError(err));
    } finally {
      await db.close();
    }
  });

  it('survives idle connections being killed, reports them, and reconnects', async () => {
    const poolErrors: Error[] = [];
    const db = await open({ onPoolError: (err) => poolErrors.push(err) });
    const admin = await open();
    const { rows } = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    await admin.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
    for (let i = 0; i < 50 && poolErrors.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.ok(poolErrors.length >= 1, 'the pool reported the dead idle connection');
    assert.equal(isDbUnavailableError(poolErrors[0]), true);
    assert.deepEqual((await db.query<{ one: number }>('SELECT 1 AS one')).rows, [{ one: 1 }]);
  });

  it('classifies a connection killed mid-transaction as unavailable, without crashing, and recovers', async () => {
    const db = await open();
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.query('SELECT pg_terminate_backend(pg_backend_pid())');
      }),
      (err: unknown) => isDbUnavailableError(err),
    );
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await db.transaction(async (tx) => (await tx.query<{ one: number }>('SELECT 1 AS one')).rows[0]!.one), 1);
  });

  it('classifies a statement timeout as unavailable', async () => {
    const db = await open({ statementTimeoutMs: 100 });
    await assert.rejects(db.query('SELECT pg_sleep(2)'), (err: unknown) => pgErrorCode(err) === '57014' && isDbUnavailableError(err));
  });
});
