import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import pg from 'pg';
import { resolvePostgres, startPrivateRedis, type Backing } from '../../src/cluster/backing.js';
import { startCluster } from '../../src/cluster/cluster.js';
import { freePort } from '../../src/cluster/ports.js';

/** What the cluster starts for itself when it is given no REDIS_URL or DATABASE_URL, and how it refuses. */

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('cluster: its own Redis and PostgreSQL', { timeout: 85_000 }, () => {
  const started: Backing[] = [];
  const dirs: string[] = [];
  after(async () => {
    for (const b of started) await b.stop().catch(() => {});
    for (const d of dirs) await rm(d, { recursive: true, force: true }).catch(() => {});
  });

  test('a private redis-server on a free loopback port, stopped by its pid', async () => {
    const redis = await startPrivateRedis(() => {});
    started.push(redis);
    assert.match(redis.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
    const pid = redis.process!.pid;
    assert.ok(alive(pid));
    const { createClient } = await import('redis');
    const client = createClient({ url: redis.url });
    client.on('error', () => {});
    await client.connect();
    assert.equal(await client.ping(), 'PONG');
    assert.deepEqual(await client.configGet('save'), { save: '' }, 'no persistence');
    await client.close();
    await redis.stop();
    assert.equal(alive(pid), false);
  });

  test('no PostgreSQL answering locally: a throwaway cluster from initdb, removed again on stop', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'flowpos-cluster-test-'));
    dirs.push(dataDir);
    const closedPort = await freePort();
    const lines: string[] = [];
    const postgres = await resolvePostgres({ dataDir, localUrl: `postgres://postgres@127.0.0.1:${closedPort}/postgres`, log: (s, l) => lines.push(`[${s}] ${l}`) });
    started.push(postgres);
    assert.match(postgres.description, /throwaway PostgreSQL/);
    const pid = postgres.process!.pid;
    const dir = /throwaway PostgreSQL in (\S+),/.exec(postgres.description)![1]!;
    assert.ok(existsSync(join(dir, 'PG_VERSION')), `a data directory in ${dir}`);
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    const { rows } = await client.query<{ v: string }>("SELECT current_setting('listen_addresses') AS v");
    assert.equal(rows[0]!.v, '127.0.0.1', 'loopback only');
    await client.end();
    await postgres.stop();
    assert.equal(alive(pid), false, 'stopped by its pid');
    assert.equal(existsSync(dir), false, 'its data directory is gone');
  });

  test('busy ports are refused before anything starts, naming them', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      await assert.rejects(
        startCluster({ port: port - 2, instances: 3, redisUrl: 'redis://127.0.0.1:1', databaseUrl: 'postgres://x@127.0.0.1:1/x', onLog: () => {} }),
        // Another process may hold one of the neighbouring ports too (they are ephemeral ones): every busy port is
        // named, this one among them.
        new RegExp(`ports? (\\d+, )*${port}(, \\d+)* already in use.*--port`),
      );
    } finally {
      blocker.close();
    }
  });

  test('no redis-server to start: a message saying what to set', async () => {
    const saved = process.env.REDIS_SERVER_BIN;
    process.env.REDIS_SERVER_BIN = '/nonexistent/redis-server';
    try {
      await assert.rejects(startPrivateRedis(() => {}), /No REDIS_URL is set.*Set REDIS_URL=redis:\/\/host:port, or install redis-server/s);
    } finally {
      if (saved === undefined) delete process.env.REDIS_SERVER_BIN;
      else process.env.REDIS_SERVER_BIN = saved;
    }
  });
});
