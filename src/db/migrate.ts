import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import type { Db, Queryable } from './db.js';

/** Migration files: `NNN_name.sql`, applied in order of NNN. */
const FILE_PATTERN = /^(\d{3})_([a-z0-9_]+)\.sql$/;

/**
 * Key of the transaction-level advisory lock every migration step holds. Instances starting together queue on
 * it, so each migration runs once. (Other advisory locks in this project use the two-integer form, a separate
 * key space.)
 */
const MIGRATION_LOCK_KEY = 7_263_480_172_001;

const DEFAULT_DIR = new URL('./migrations/', import.meta.url);

export interface Migration {
  version: number;
  name: string;
  /** SHA-256 hex of the file with line endings normalised, so a CRLF checkout does not count as an edit. */
  checksum: string;
  sql: string;
}

export interface MigrateResult {
  /** File names applied by this call, in order (empty when the schema was already current). */
  applied: string[];
}

export class MigrationChecksumError extends Error {
  constructor(readonly mismatches: { version: number; name: string; expected: string; actual: string }[]) {
    super(
      `Refusing to start: applied migration(s) changed since they ran: ${mismatches
        .map((m) => `${String(m.version).padStart(3, '0')}_${m.name}.sql`)
        .join(', ')}. Migrations are immutable once applied — restore the original file and put the change in a new migration.`,
    );
    this.name = 'MigrationChecksumError';
  }
}

export async function loadMigrations(dir: URL = DEFAULT_DIR): Promise<Migration[]> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const migrations: Migration[] = [];
  for (const file of files) {
    const match = FILE_PATTERN.exec(file);
    if (!match) throw new Error(`Migration file ${file} must be named NNN_name.sql (three digits, lower-case name).`);
    const sql = (await readFile(new URL(file, dir), 'utf8')).replace(/\r\n/g, '\n');
    const version = Number(match[1]);
    const previous = migrations[migrations.length - 1];
    if (previous?.version === version) throw new Error(`Two migrations share version ${match[1]}: ${previous.name} and ${match[2]}.`);
    migrations.push({ version, name: match[2]!, checksum: createHash('sha256').update(sql).digest('hex'), sql });
  }
  return migrations;
}

interface AppliedRow {
  version: number;
  name: string;
  checksum: string;
}

async function lockAndReadApplied(tx: Queryable): Promise<Map<number, AppliedRow>> {
  // Migrations may run longer than the pool's statement_timeout, and waiting for another instance's lock too.
  await tx.query('SET LOCAL statement_timeout = 0');
  await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
  await tx.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
  )`);
  const { rows } = await tx.query<AppliedRow>('SELECT version, name, checksum FROM schema_migrations ORDER BY version');
  return new Map(rows.map((r) => [Number(r.version), r]));
}

function verifyChecksums(migrations: Migration[], applied: Map<number, AppliedRow>): void {
  const mismatches = migrations
    .filter((m) => applied.has(m.version) && applied.get(m.version)!.checksum !== m.checksum)
    .map((m) => ({ version: m.version, name: m.name, expected: applied.get(m.version)!.checksum, actual: m.checksum }));
  if (mismatches.length > 0) throw new MigrationChecksumError(mismatches);
}

/**
 * Applies pending migrations in order, each in its own transaction under a transaction-level advisory lock,
 * so several instances may call it at once against one database. Throws MigrationChecksumError (before
 * applying anything) if an applied migration's file changed. Versions applied by a newer release that this
 * code does not know are left alone, so an older instance can still start during a rolling deploy.
 */
export async function migrate(db: Db, options: { dir?: URL } = {}): Promise<MigrateResult> {
  const migrations = await loadMigrations(options.dir);
  const initiallyApplied = await db.transaction(lockAndReadApplied);
  verifyChecksums(migrations, initiallyApplied);

  const applied: string[] = [];
  for (const migration of migrations) {
    if (initiallyApplied.has(migration.version)) continue;
    const ran = await db.transaction(async (tx) => {
      // Re-read under the lock: another instance may have applied it since.
      const current = await lockAndReadApplied(tx);
      verifyChecksums([migration], current);
      if (current.has(migration.version)) return false;
      await tx.query(migration.sql);
      await tx.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        migration.version,
        migration.name,
        migration.checksum,
      ]);
      return true;
    });
    if (ran) applied.push(`${String(migration.version).padStart(3, '0')}_${migration.name}.sql`);
  }
  return { applied };
}
