import pg from 'pg';
import { createClient } from 'redis';
import { createApiKey } from '../../src/auth/api-key-repo.js';
import { migrate } from '../../src/db/migrate.js';
import { openDb } from '../../src/db/open.js';
import { DEMO, seedDemo } from '../../src/db/seed.js';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/postgres.js';
import { startRedis, type TestRedis } from '../../test/helpers/redis-server.js';
import { pinPid } from './pin.js';

/**
 * The backing services of a run: one throwaway redis-server (spawned by this process, so it inherits this
 * process's CPU placement) and throwaway databases on the local PostgreSQL (TEST_DATABASE_URL, as the tests).
 */
export type { TestDatabase, TestRedis };

export function startBenchRedis(): Promise<TestRedis> {
  // Always our own server: a shared one would mix other clients' commands into the counts.
  return startRedis({ spawnOnly: true });
}

/** A fresh database; with `seed`, migrated and seeded with the demo data, and an API key of demo-user. */
export async function createBenchDatabase(seed: boolean): Promise<{ db: TestDatabase; name: string; key?: string }> {
  const db = await createTestDatabase();
  const name = new URL(db.url).pathname.slice(1);
  if (!seed) return { db, name };
  try {
    const handle = await openDb({ databaseUrl: db.url, dataDir: 'memory://', poolMax: 2 });
    try {
      await migrate(handle);
      await seedDemo(handle);
      const { key } = await createApiKey(handle, { userId: DEMO.users.demo, name: 'bench', scopes: ['pos:read', 'pos:write'] });
      return { db, name, key };
    } finally {
      await handle.close();
    }
  } catch (err) {
    await db.drop().catch(() => {});
    throw err;
  }
}

/** The pids of the PostgreSQL backends serving `database` (one process per connection). */
export async function postgresBackends(database: string): Promise<number[]> {
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [database]);
    return rows.map((r) => r.pid);
  } catch {
    return [];
  } finally {
    await client.end().catch(() => {});
  }
}

/** Moves the PostgreSQL backends serving `database` to `cpu`. */
export async function pinPostgresBackends(database: string, cpu: string): Promise<number> {
  let pinned = 0;
  for (const pid of await postgresBackends(database)) if (pinPid(pid, cpu)) pinned++;
  return pinned;
}

export async function postgresVersion(): Promise<string> {
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres' });
  client.on('error', () => {});
  try {
    await client.connect();
    const { rows } = await client.query<{ server_version: string }>('SHOW server_version');
    return rows[0]?.server_version.split(' ')[0] ?? 'unknown';
  } catch {
    return 'unknown';
  } finally {
    await client.end().catch(() => {});
  }
}

const redisClient = (url: string) => createClient({ url });

/** Reads the counters the benchmark needs from a Redis server's INFO. */
export class RedisStats {
  private constructor(private readonly client: ReturnType<typeof redisClient>) {}

  static async connect(url: string): Promise<RedisStats> {
    const client = redisClient(url);
    client.on('error', () => {});
    await client.connect();
    return new RedisStats(client);
  }

  /** Calls per command since the server started (INFO commandstats), without this reader's own INFO calls. */
  async commands(): Promise<Record<string, number>> {
    const text = await this.client.info('commandstats');
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) {
      if (m[1] === 'info') continue;
      out[m[1]!] = Number(m[2]);
    }
    return out;
  }

  async usedMemory(): Promise<number> {
    const text = await this.client.info('memory');
    return Number(/^used_memory:(\d+)/m.exec(text)?.[1] ?? NaN);
  }

  /** CPU seconds the server has used (INFO cpu: user + system, all threads). */
  async cpuSeconds(): Promise<number> {
    const text = await this.client.info('cpu');
    const get = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, 'm').exec(text)?.[1] ?? NaN);
    return get('used_cpu_user') + get('used_cpu_sys');
  }

  async version(): Promise<string> {
    const text = await this.client.info('server');
    return /^redis_version:(\S+)/m.exec(text)?.[1] ?? 'unknown';
  }

  async close(): Promise<void> {
    await this.client.close().catch(() => {});
  }
}

/** b − a per command, leaving out commands whose count did not change. */
export function commandDelta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, n] of Object.entries(b)) {
    const d = n - (a[name] ?? 0);
    if (d > 0) out[name] = d;
  }
  return out;
}
