import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { UPSTREAM_HEADER } from '../../src/cluster/balancer.js';
import { startCluster, type Cluster } from '../../src/cluster/cluster.js';
import type { Db } from '../../src/db/db.js';
import { openSharedDb } from './instances.js';
import { createTestDatabase, type TestDatabase } from './postgres.js';
import { startRedis, type TestRedis } from './redis-server.js';

/**
 * The real cluster for tests: three `flowpos-mcp serve` processes behind the round-robin balancer, sharing a
 * throwaway redis-server (restartable) and a throwaway PostgreSQL database, all on loopback.
 */
export interface TestCluster extends Cluster {
  redis: TestRedis;
  database: TestDatabase;
  /** A handle on the shared database, for checking what landed there. */
  db: Db;
  /** Log lines of each source (i1, i2, i3, lb, cluster), as written. */
  logs: Map<string, string[]>;
  /** The last lines of every source, for failure messages. */
  logTail(lines?: number): string;
  /** Stops the cluster (every process by its pid), Redis and the database. Safe to call twice and after a failed start. */
  stopAll(): Promise<void>;
}

export interface TestClusterOptions {
  instances?: number;
  /** Extra environment for the instances. */
  env?: Record<string, string>;
  /**
   * Run the instances as deployed: NODE_ENV=production and every limit at its default (the other cluster tests
   * lift the rate limits to load one user far past them).
   */
  production?: boolean;
}

export async function startTestCluster(opts: TestClusterOptions = {}): Promise<TestCluster> {
  const logs = new Map<string, string[]>();
  const onLog = (source: string, line: string) => {
    let list = logs.get(source);
    if (!list) logs.set(source, (list = []));
    list.push(line);
  };
  const logTail = (n = 15) =>
    [...logs.entries()].map(([source, lines]) => lines.slice(-n).map((l) => `[${source}] ${l}`).join('\n')).join('\n');

  // Spawned (not TEST_REDIS_URL) so the fault tests can stop and restart it.
  const redis = await startRedis({ spawnOnly: true });
  let database: TestDatabase | undefined;
  let cluster: Cluster | undefined;
  let db: Db | undefined;
  let stopped: Promise<void> | undefined;
  const stopAll = () =>
    (stopped ??= (async () => {
      await cluster?.stop().catch(() => {});
      await db?.close().catch(() => {});
      await redis.stop().catch(() => {});
      await database?.drop().catch(() => {});
    })());
  try {
    database = await createTestDatabase();
    cluster = await startCluster({
      instances: opts.instances ?? 3,
      port: 0,
      redisUrl: redis.url,
      databaseUrl: database.url,
      env: {
        LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'info',
        MCP_REDIS_KEY_PREFIX: redis.keyPrefix,
        ...(opts.production
          ? { NODE_ENV: 'production' }
          : {
              NODE_ENV: 'test',
              MCP_SSE_KEEPALIVE_SECONDS: '1',
              DATABASE_POOL_MAX: '8',
              // These tests load one user far past the production defaults on purpose; the limits have their own tests.
              RATE_LIMIT_REQUESTS_PER_MINUTE: '0',
              RATE_LIMIT_WRITES_PER_MINUTE: '0',
            }),
        ...opts.env,
      },
      onLog,
      readyTimeoutMs: 45_000,
    });
    db = await openSharedDb(database.url);
  } catch (err) {
    await stopAll();
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n${logTail()}`, { cause: err });
  }
  return { ...cluster!, redis, database: database!, db: db!, logs, logTail, stopAll };
}

/** The instance that answered, from the balancer's response header. */
export function servedBy(res: { headers: Headers }): string {
  const name = res.headers.get(UPSTREAM_HEADER);
  if (!name) throw new Error(`no ${UPSTREAM_HEADER} header: not answered by an instance`);
  return name;
}

export interface ObservedClient {
  client: Client;
  transport: StreamableHTTPClientTransport;
  /** For every HTTP request the SDK made: method and the instance that answered it (or the failure). */
  requests: { method: string; upstream: string | null; status: number | null }[];
}

/**
 * The official SDK client pointed at the balancer. Its fetch only observes (it records which instance answered
 * each request from the balancer's header); routing is entirely the balancer's.
 */
export function sdkClient(mcpUrl: string, key: string, era: 'legacy' | 'modern', name = `cluster-${era}`): ObservedClient {
  const requests: ObservedClient['requests'] = [];
  const observe = (async (input: string | URL | Request, init?: RequestInit) => {
    const method = init?.method ?? (input instanceof Request ? input.method : 'GET');
    try {
      const res = await fetch(input, init);
      requests.push({ method, upstream: res.headers.get(UPSTREAM_HEADER), status: res.status });
      return res;
    } catch (err) {
      requests.push({ method, upstream: null, status: null });
      throw err;
    }
  }) as typeof fetch;
  const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), {
    requestInit: { headers: { Authorization: `Bearer ${key}` } },
    fetch: observe,
  });
  const client =
    era === 'legacy'
      ? new Client({ name, version: '1.0.0' })
      : new Client({ name, version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
  return { client, transport, requests };
}

/** Calls a tool and returns its structured result, failing on a tool error. */
export async function call(client: Client, name: string, args: Record<string, unknown> = {}): Promise<any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const res = await client.callTool({ name, arguments: args });
  if (res.isError) throw new Error(`${name} failed: ${JSON.stringify(res.content)}`);
  return res.structuredContent;
}

/** Runs `total` jobs with at most `inFlight` at a time. */
export async function pool<T>(total: number, inFlight: number, job: (k: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array(total);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(inFlight, total) }, async () => {
      while (next < total) {
        const k = next++;
        results[k] = await job(k);
      }
    }),
  );
  return results;
}

export function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of items) out[key(item)] = (out[key(item)] ?? 0) + 1;
  return out;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The promise's value, or 'timeout' if it takes longer than ms (the timer never outlives the answer). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([promise, new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
