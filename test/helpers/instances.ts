import { createFlowposServer, type FlowposServer, type FlowposServerOptions } from '../../src/app.js';
import { createApiKey } from '../../src/auth/api-key-repo.js';
import type { Scope } from '../../src/auth/principal.js';
import { loadConfig } from '../../src/config.js';
import { openDb } from '../../src/db/open.js';
import { migrate } from '../../src/db/migrate.js';
import { seedDemo, DEMO } from '../../src/db/seed.js';
import { createTestDatabase } from './postgres.js';
import { startRedis, type TestRedis } from './redis-server.js';

export interface Instances {
  servers: FlowposServer[];
  /** Base URLs (no /mcp) of each instance, in start order. */
  urls: string[];
  keys: { demo: string; demo2: string; readOnly: string };
  redisUrl?: string;
  databaseUrl?: string;
  redis?: TestRedis;
  stop(): Promise<void>;
}

export interface InstancesOptions {
  count?: number;
  /** 'redis' starts a throwaway redis-server shared by all instances; 'memory' is only valid for one instance. */
  state?: 'redis' | 'memory';
  /** 'postgres' creates a throwaway database on the local server; 'pglite' embeds one (one instance only). */
  db?: 'postgres' | 'pglite';
  env?: Record<string, string>;
  /** Spawn a redis-server even when TEST_REDIS_URL is set, for tests that stop and restart it. */
  ownRedis?: boolean;
  /** With state 'redis': use this Redis Cluster (seed `host:port`s, see redis-cluster.ts) instead of a redis-server. */
  redisClusterNodes?: string[];
  /** Rewrites the database URL the instances use (e.g. through a proxy that a test can cut). */
  databaseUrlFor?: (url: string) => string;
  /** What instance `index` gets besides its Config (e.g. a log stream to read, a span exporter). */
  serverOptions?: (index: number) => FlowposServerOptions;
}

/**
 * Starts real server instances on real sockets, sharing one Redis and one PostgreSQL, exactly as several
 * processes behind a load balancer would (they share nothing else).
 */
export async function startInstances(opts: InstancesOptions = {}): Promise<Instances> {
  const count = opts.count ?? 2;
  const state = opts.state ?? 'redis';
  const dbKind = opts.db ?? 'postgres';
  if (count > 1 && (state === 'memory' || dbKind === 'pglite')) throw new Error('several instances need shared Redis and PostgreSQL');

  const redis = state === 'redis' && !opts.redisClusterNodes ? await startRedis({ spawnOnly: opts.ownRedis ?? false }) : undefined;
  const pg = dbKind === 'postgres' ? await createTestDatabase() : undefined;
  const cleanups: (() => Promise<void>)[] = [];
  if (redis) cleanups.push(() => redis.stop());
  if (pg) cleanups.push(() => pg.drop());

  try {
    const env = {
      NODE_ENV: 'test',
      PORT: '0',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
      API_KEY_CACHE_SECONDS: '0',
      // Tests drive one user harder than the production defaults allow; rate limits have their own tests.
      RATE_LIMIT_REQUESTS_PER_MINUTE: '0',
      RATE_LIMIT_WRITES_PER_MINUTE: '0',
      OAUTH_REGISTRATIONS_PER_HOUR: '0',
      OAUTH_AUTHORIZE_PER_MINUTE: '0',
      MCP_SSE_KEEPALIVE_SECONDS: '1',
      DEMO_SEED: 'false',
      ...(redis ? { REDIS_URL: redis.url, MCP_REDIS_KEY_PREFIX: redis.keyPrefix } : {}),
      ...(state === 'redis' && opts.redisClusterNodes ? { REDIS_CLUSTER_NODES: opts.redisClusterNodes.join(',') } : {}),
      ...(pg ? { DATABASE_URL: opts.databaseUrlFor ? opts.databaseUrlFor(pg.url) : pg.url } : { FLOWPOS_DATA_DIR: 'memory://' }),
      ...opts.env,
    };
    const servers: FlowposServer[] = [];
    const urls: string[] = [];
    let keys: Instances['keys'] | undefined;
    for (let i = 0; i < count; i++) {
      const server = await createFlowposServer(loadConfig(env), opts.serverOptions?.(i));
      cleanups.unshift(() => server.close());
      if (i === 0) {
        await migrate(server.db);
        await seedDemo(server.db);
        const make = async (userId: string, scopes: Scope[]) => (await createApiKey(server.db, { userId, name: 'test', scopes })).key;
        keys = {
          demo: await make(DEMO.users.demo, ['pos:read', 'pos:write']),
          demo2: await make(DEMO.users.demo2, ['pos:read', 'pos:write']),
          readOnly: await make(DEMO.users.demo, ['pos:read']),
        };
      }
      servers.push(server);
      urls.push((await server.listen()).replace('127.0.0.1', 'localhost'));
    }
    return {
      servers,
      urls,
      keys: keys!,
      ...(redis ? { redisUrl: redis.url, redis } : {}),
      ...(pg ? { databaseUrl: pg.url } : {}),
      async stop() {
        for (const c of cleanups) await c().catch(() => {});
      },
    };
  } catch (err) {
    for (const c of cleanups) await c().catch(() => {});
    throw err;
  }
}

/** A second handle on the shared database, for checking what landed there. */
export async function openSharedDb(databaseUrl: string) {
  return openDb({ databaseUrl, dataDir: 'memory://', poolMax: 2 });
}
