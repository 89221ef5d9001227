import { randomBytes } from 'node:crypto';
import pg from 'pg';

const DEFAULT_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

export interface TestDatabase {
  /** Connection string of the new, empty database. */
  url: string;
  /** Drops the database, disconnecting anyone still connected. Safe to call twice. */
  drop(): Promise<void>;
}

function adminUrl(): string {
  return process.env.TEST_DATABASE_URL ?? DEFAULT_URL;
}

function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return '(unparseable URL)';
  }
}

async function connectAdmin(): Promise<pg.Client> {
  const url = adminUrl();
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => {});
  try {
    await client.connect();
    return client;
  } catch (err) {
    await client.end().catch(() => {});
    const reason = err instanceof Error ? err.message || err.constructor.name : String(err);
    throw new Error(
      `These tests need a real PostgreSQL and could not reach ${redact(url)} (${reason}). ` +
        'Point TEST_DATABASE_URL at a server where this user may CREATE DATABASE ' +
        '(default postgres://postgres@127.0.0.1:5432/postgres), or start one: ' +
        '`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, ' +
        'or `docker run -d -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16`.',
      { cause: err },
    );
  }
}

/** Creates a uniquely named throwaway database on the server named by TEST_DATABASE_URL. Fails (never skips) if unreachable. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `flowpos_test_${process.pid}_${randomBytes(5).toString('hex')}`;
  const admin = await connectAdmin();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  let dropped = false;
  return {
    url: url.toString(),
    async drop() {
      if (dropped) return;
      dropped = true;
      const client = await connectAdmin();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
