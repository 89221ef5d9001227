import assert from 'node:assert/strict';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, describe, it } from 'node:test';
import { loadMigrations, migrate, MigrationChecksumError } from '../../src/db/migrate.js';
import { pgErrorCode } from '../../src/db/errors.js';
import { forEachDbBackend } from '../helpers/db-backends.js';
import { addProduct, countRows } from '../helpers/db-fixtures.js';
import { DEMO } from '../../src/db/seed.js';

const SOURCE_DIR = new URL('../../src/db/migrations/', import.meta.url);
const tempDirs: string[] = [];

const fileName = (m: { version: number; name: string }) => `${String(m.version).padStart(3, '0')}_${m.name}.sql`;

/** A private copy of the migrations folder, to edit without touching the real one. */
async function copyMigrations(): Promise<URL> {
  const dir = await mkdtemp(join(tmpdir(), 'flowpos-migrations-'));
  tempDirs.push(dir);
  await cp(SOURCE_DIR, dir, { recursive: true });
  return pathToFileURL(`${dir}/`);
}

after(async () => {
  for (const dir of tempDirs) await rm(dir, { recursive: true, force: true });
});

describe('loadMigrations', () => {
  it('reads the numbered files in order with stable checksums', async () => {
    const migrations = await loadMigrations();
    assert.ok(migrations.length >= 1);
    assert.deepEqual(
      migrations.map((m) => m.version),
      [...migrations.map((m) => m.version)].sort((a, b) => a - b),
    );
    assert.equal(migrations[0]!.version, 1);
    assert.equal(migrations[0]!.name, 'initial');
    assert.match(migrations[0]!.checksum, /^[0-9a-f]{64}$/);
    assert.deepEqual(await loadMigrations(), migrations);
  });

  it('treats CRLF line endings as the same file', async () => {
    const dir = await copyMigrations();
    const file = new URL('001_initial.sql', dir);
    const original = await loadMigrations(dir);
    await writeFile(file, (await readFile(file, 'utf8')).replace(/\n/g, '\r\n'));
    assert.equal((await loadMigrations(dir))[0]!.checksum, original[0]!.checksum);
  });

  it('rejects a misnamed .sql file and duplicate versions', async () => {
    const misnamed = await copyMigrations();
    await writeFile(new URL('2_oops.sql', misnamed), 'SELECT 1;');
    await assert.rejects(loadMigrations(misnamed), /2_oops\.sql must be named NNN_name\.sql/);

    const duplicate = await copyMigrations();
    await writeFile(new URL('001_again.sql', duplicate), 'SELECT 1;');
    await assert.rejects(loadMigrations(duplicate), /share version 001/);
  });
});

forEachDbBackend('migrate', (ctx) => {
  it('applies every migration in order on an empty database, records each, and is a no-op the second time', async () => {
    const db = await ctx.freshDb();
    const expected = await loadMigrations();
    const first = await migrate(db);
    assert.deepEqual(first.applied, expected.map(fileName));
    assert.equal(first.applied[0], '001_initial.sql');
    const second = await migrate(db);
    assert.deepEqual(second.applied, []);

    const { rows } = await db.query<{ version: number; name: string; checksum: string; applied_at: Date }>(
      'SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version',
    );
    assert.deepEqual(
      rows.map((r) => [Number(r.version), r.name, r.checksum]),
      expected.map((m) => [m.version, m.name, m.checksum]),
    );
    for (const row of rows) assert.ok(row.applied_at instanceof Date);

    for (const table of ['users', 'businesses', 'memberships', 'products', 'orders', 'order_lines', 'mcp_api_key', 'oauth_clients']) {
      assert.equal(await countRows(db, `SELECT 1 FROM ${table}`), 0, `${table} exists and is empty`);
    }
  });

  it('applies each migration once when three instances migrate at the same moment', async () => {
    const db = await ctx.freshDb();
    const dir = await copyMigrations();
    await writeFile(new URL('900_probe.sql', dir), 'CREATE TABLE migration_probe (id int PRIMARY KEY);\nINSERT INTO migration_probe VALUES (1);\n');
    // On Postgres each instance has its own pool (its own connections); PGlite has just the one.
    const instances = [db, await ctx.openSibling(db), await ctx.openSibling(db)];
    const results = await Promise.all(instances.map((instance) => migrate(instance, { dir })));

    const applied = results.flatMap((r) => r.applied).sort();
    const expected = [...(await loadMigrations()).map(fileName), '900_probe.sql'].sort();
    assert.deepEqual(applied, expected, 'every migration applied by exactly one instance');
    assert.equal(await countRows(db, 'SELECT 1 FROM schema_migrations'), expected.length);
    assert.equal(await countRows(db, 'SELECT 1 FROM migration_probe'), 1, '900 ran once');
  });

  it('refuses to start when an applied migration was edited, and applies nothing after it', async () => {
    const db = await ctx.freshDb();
    const dir = await copyMigrations();
    await migrate(db, { dir });

    const file = new URL('001_initial.sql', dir);
    await writeFile(file, `${await readFile(file, 'utf8')}\n-- an innocent-looking edit\n`);
    await writeFile(new URL('900_after.sql', dir), 'CREATE TABLE should_not_exist (id int);');

    await assert.rejects(migrate(db, { dir }), (err: unknown) => {
      assert.ok(err instanceof MigrationChecksumError);
      assert.match(err.message, /001_initial\.sql/);
      assert.equal(err.mismatches.length, 1);
      assert.equal(err.mismatches[0]!.version, 1);
      return true;
    });
    const { rows } = await db.query<{ name: string | null }>("SELECT to_regclass('should_not_exist')::text AS name");
    assert.equal(rows[0]!.name, null, 'later migrations are not applied');
    assert.equal(await countRows(db, 'SELECT 1 FROM schema_migrations'), (await loadMigrations()).length);
  });

  it('rolls back a failing migration entirely and applies it once fixed', async () => {
    const db = await ctx.freshDb();
    const dir = await copyMigrations();
    await writeFile(new URL('900_broken.sql', dir), 'CREATE TABLE half_done (id int);\nSELECT no_such_function();\n');
    await assert.rejects(migrate(db, { dir }), (err: unknown) => pgErrorCode(err) === '42883');
    const released = (await loadMigrations()).length;
    assert.equal(await countRows(db, 'SELECT 1 FROM schema_migrations'), released, 'the earlier ones stay applied, 900 is not recorded');
    const { rows } = await db.query<{ name: string | null }>("SELECT to_regclass('half_done')::text AS name");
    assert.equal(rows[0]!.name, null, 'the failed migration left nothing behind');

    await writeFile(new URL('900_broken.sql', dir), 'CREATE TABLE half_done (id int);\n');
    assert.deepEqual((await migrate(db, { dir })).applied, ['900_broken.sql']);
  });

  it('lets an older release start when the database has a newer migration it does not know', async () => {
    const db = await ctx.freshDb();
    const dir = await copyMigrations();
    await writeFile(new URL('900_newer.sql', dir), 'CREATE TABLE newer (id int);');
    await migrate(db, { dir });
    assert.deepEqual((await migrate(db)).applied, []);
  });
}, { blockDb: false });

forEachDbBackend('schema constraints', (ctx) => {
  const coffee = DEMO.businesses.coffee;

  it('refuses negative stock and negative prices', async () => {
    const db = ctx.db();
    const sku = await addProduct(db, coffee, { stock: 1 });
    await assert.rejects(db.query('UPDATE products SET stock = -1 WHERE business_id = $1 AND sku = $2', [coffee, sku]), (e: unknown) => pgErrorCode(e) === '23514');
    await assert.rejects(addProduct(db, coffee, { stock: 1, priceMinor: -5 }), (e: unknown) => pgErrorCode(e) === '23514');
  });

  it('keeps a product in its business currency', async () => {
    const db = ctx.db();
    await assert.rejects(
      db.query(`INSERT INTO products (business_id, sku, name, price_minor, currency, stock) VALUES ($1, 'EUR-IN-USD', 'Wrong currency', 100, 'EUR', 1)`, [coffee]),
      (e: unknown) => pgErrorCode(e) === '23503',
    );
  });

  it('only knows the owner and staff roles, and known API key scopes', async () => {
    const db = ctx.db();
    await assert.rejects(
      db.query(`INSERT INTO memberships (user_id, business_id, role) VALUES ($1, $2, 'admin')`, [DEMO.users.demo2, coffee]),
      (e: unknown) => pgErrorCode(e) === '23514',
    );
    await assert.rejects(
      db.query(`INSERT INTO mcp_api_key (key_id, secret_hash, user_id, scopes) VALUES ('abcdefghijkl', repeat('a', 64), $1, ARRAY['pos:admin'])`, [DEMO.users.demo]),
      (e: unknown) => pgErrorCode(e) === '23514',
    );
  });

  it('has one order per (business, user, idempotency key) and positive line quantities', async () => {
    const db = ctx.db();
    const insert = (id: string) =>
      db.query(`INSERT INTO orders (id, business_id, user_id, idempotency_key, total_minor, currency) VALUES ($1, $2, $3, 'same-key', 0, 'USD')`, [
        id,
        coffee,
        DEMO.users.demo,
      ]);
    await insert('ord_aaaaaaaaaaaaaaaaaaaa');
    await assert.rejects(insert('ord_bbbbbbbbbbbbbbbbbbbb'), (e: unknown) => pgErrorCode(e) === '23505');
    await assert.rejects(
      db.query(`INSERT INTO order_lines (order_id, line_no, sku, name, unit_price_minor, quantity, line_total_minor) VALUES ('ord_aaaaaaaaaaaaaaaaaaaa', 1, 'X', 'X', 100, 0, 0)`),
      (e: unknown) => pgErrorCode(e) === '23514',
    );
  });
});
