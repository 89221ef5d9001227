import { readFile, rename, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe } from 'node:test';
import type { Db } from '../../src/db/db.js';
import { migrate } from '../../src/db/migrate.js';
import { openDb } from '../../src/db/open.js';
import { PgliteDb } from '../../src/db/pglite-db.js';
import { seedDemo } from '../../src/db/seed.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';

export type DbBackend = 'pglite' | 'postgres';
export const DB_BACKENDS: readonly DbBackend[] = ['pglite', 'postgres'];

export interface DbBackendContext {
  readonly kind: DbBackend;
  /** The block's database: fresh, migrated and (unless `seed: false`) seeded. Shared by the block's tests. */
  db(): Db;
  /**
   * Another handle on the block's database (or on `of`, one from freshDb()), as a second server instance
   * would have: on Postgres a separate pool (other connections); PGlite has a single connection, so there
   * it is the same instance.
   */
  openSibling(of?: Db): Promise<Db>;
  /** A brand-new empty database (not migrated) of this backend, cleaned up after the block. */
  freshDb(): Promise<Db>;
}

export interface DbBackendOptions {
  /** Seed the demo data into the block's database (default true; migrations always run). */
  seed?: boolean;
  /** Open the block's database at all (default true); blocks that only use freshDb() save the time. */
  blockDb?: boolean;
  /** Run only on these backends (default both). */
  backends?: readonly DbBackend[];
}

// Creating a PGlite instance runs initdb (about 3 s); loading a dump of a fresh one takes a fraction of that.
// The dump is kept in the OS temp directory, keyed by PGlite version, so each test process (one per file)
// pays for initdb at most once per machine. A damaged cache is rebuilt.
let blankPglite: Promise<Blob> | undefined;

async function pgliteVersion(): Promise<string> {
  const entry = createRequire(import.meta.url).resolve('@electric-sql/pglite');
  const pkg = JSON.parse(await readFile(join(dirname(entry), '..', 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

async function createBlankDump(cacheFile: string): Promise<Blob> {
  const db = await PgliteDb.open({ dataDir: 'memory://' });
  try {
    const dump = await db.dumpDataDir();
    const tmp = `${cacheFile}.${process.pid}.${Date.now()}.tmp`;
    await writeFile(tmp, Buffer.from(await dump.arrayBuffer()));
    await rename(tmp, cacheFile);
    return dump;
  } finally {
    await db.close();
  }
}

async function cacheFile(): Promise<string> {
  return join(tmpdir(), `flowpos-test-pglite-${await pgliteVersion()}-initdb.tar`);
}

function blankPgliteDump(): Promise<Blob> {
  blankPglite ??= (async () => {
    const file = await cacheFile();
    const cached = await readFile(file).catch(() => null);
    return cached ? new Blob([cached]) : createBlankDump(file);
  })();
  return blankPglite;
}

/** A new in-memory PGlite, empty (as after initdb). */
async function openBlankPglite(): Promise<PgliteDb> {
  try {
    return await PgliteDb.open({ dataDir: 'memory://', loadDataDir: await blankPgliteDump() });
  } catch {
    // A truncated or foreign cache file: rebuild it once.
    blankPglite = cacheFile().then(createBlankDump);
    return PgliteDb.open({ dataDir: 'memory://', loadDataDir: await blankPglite });
  }
}

/**
 * Registers `describe("<name> [pglite]")` and `describe("<name> [postgres]")`, each with its own freshly
 * created, migrated and seeded database. Postgres is the server named by TEST_DATABASE_URL; if it cannot
 * be reached the block fails (it is never skipped).
 */
export function forEachDbBackend(name: string, body: (ctx: DbBackendContext) => void, options: DbBackendOptions = {}): void {
  const seed = options.seed ?? true;
  const blockDb = options.blockDb ?? true;
  for (const kind of options.backends ?? DB_BACKENDS) {
    describe(`${name} [${kind}]`, () => {
      const cleanups: (() => Promise<void>)[] = [];
      let main: Db | undefined;
      const urls = new Map<Db, string>();

      const openEmpty = async (): Promise<{ db: Db }> => {
        if (kind === 'pglite') {
          const db = await openBlankPglite();
          cleanups.push(() => db.close());
          return { db };
        }
        const database: TestDatabase = await createTestDatabase();
        cleanups.push(() => database.drop());
        const db = await openDb({ databaseUrl: database.url, dataDir: 'memory://', poolMax: 8 });
        cleanups.push(() => db.close());
        urls.set(db, database.url);
        return { db };
      };

      before(async () => {
        if (!blockDb) return;
        const opened = await openEmpty();
        await migrate(opened.db);
        if (seed) await seedDemo(opened.db);
        main = opened.db;
      });

      after(async () => {
        // Close pools before dropping their databases: run cleanups newest first.
        for (const cleanup of cleanups.reverse()) await cleanup();
      });

      body({
        kind,
        db() {
          if (!main) throw new Error('No block database: it is opened in before() (unless blockDb: false); use ctx.db() inside tests or hooks.');
          return main;
        },
        async openSibling(of?: Db) {
          const base = of ?? main;
          if (!base) throw new Error('The database is opened in before(); call openSibling() inside tests or hooks.');
          const url = urls.get(base);
          if (kind === 'pglite' || !url) return base;
          const db = await openDb({ databaseUrl: url, dataDir: 'memory://', poolMax: 8 });
          cleanups.push(() => db.close());
          return db;
        },
        async freshDb() {
          return (await openEmpty()).db;
        },
      });
    });
  }
}
