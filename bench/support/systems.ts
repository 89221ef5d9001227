import type { Cluster } from '../../src/cluster/cluster.js';
import { createBenchDatabase, type TestDatabase, type TestRedis } from './backing.js';
import { ensureBuilt, FROM_SOURCE, ROOT } from './build.js';
import { startServer, type ServerProcess, type WireCounts } from './ipc.js';
import { pinPid, procRss } from './pin.js';

/** One system under test, started and ready for load. */
export interface RunningSystem {
  id: SystemId;
  /** Base URL (no /mcp) the load goes to. */
  url: string;
  /** API key sent with every request (the baselines ignore it). */
  key?: string;
  /** Server processes (for RSS). */
  pids: number[];
  /** Redis-backed: Redis counters are attributed to it. */
  usesRedis: boolean;
  /** Database whose backends are pinned next to the load generator. */
  database?: string;
  /** Heap after a full GC (single process with IPC only) and RSS summed over its processes. */
  memory(): Promise<{ heapUsed?: number; rss: number }>;
  /** What it sends to Redis and PostgreSQL, counted at its sockets (flowpos single process only). */
  wire?: { start(): Promise<void>; stop(): Promise<WireCounts> };
  /** Median µs of one Redis round trip from the server's process, alone (flowpos single process with Redis). */
  redisRoundTrip?: () => Promise<number | null>;
  stop(): Promise<void>;
}

export type SystemId = 'sdk-stateful' | 'sdk-per-request' | 'http-floor' | 'flowpos-memory' | 'flowpos-redis' | 'flowpos-cluster';

export interface SystemInfo {
  id: SystemId;
  label: string;
  description: string;
  /** Serves 2025-era sessions (initialize + Mcp-Session-Id). */
  legacy: boolean;
  /** Serves 2026-07-28 stateless requests. */
  modern: boolean;
}

export const SYSTEMS: readonly SystemInfo[] = [
  {
    id: 'sdk-stateful',
    label: 'SDK stateful (baseline)',
    description: 'bench/baselines/sdk-stateful.ts: the SDK documented sessionful server, one transport + McpServer per session in a Map, on Fastify; no auth, no database, no Redis',
    legacy: true,
    modern: false,
  },
  {
    id: 'sdk-per-request',
    label: 'SDK per-request',
    description: 'bench/baselines/sdk-per-request.ts: createMcpHandler (a fresh McpServer per request) on Fastify; stateless, 2026-07-28 only here',
    legacy: false,
    modern: true,
  },
  {
    id: 'http-floor',
    label: 'HTTP floor (not MCP)',
    description:
      'bench/baselines/http-floor.ts: Fastify answering each message with the JSON the checks want (no SDK, no sessions, no state): what the HTTP stack alone costs, so the most any server on Fastify can reach here',
    legacy: true,
    modern: false,
  },
  {
    id: 'flowpos-memory',
    label: 'flowpos, memory store',
    description: 'flowpos-mcp, one process, sessions/carts in process memory, catalog in PostgreSQL, API-key auth',
    legacy: true,
    modern: true,
  },
  {
    id: 'flowpos-redis',
    label: 'flowpos, Redis',
    description: 'flowpos-mcp, one process, sessions/carts/events in Redis, catalog in PostgreSQL, API-key auth',
    legacy: true,
    modern: true,
  },
  {
    id: 'flowpos-cluster',
    label: 'flowpos cluster ×3',
    description: 'npm run cluster: 3 flowpos-mcp processes (all on the server core) behind the round-robin balancer (on the load core), one Redis, one PostgreSQL',
    legacy: true,
    modern: true,
  },
];

/**
 * Settings every flowpos process gets: quiet logs (no line per request), no start-up migration, room for long runs
 * in one cart line, and per-user rate limits that stay switched on (their check is part of the cost) but out of
 * reach of one user sending thousands of requests a second.
 */
export const FLOWPOS_ENV = {
  NODE_ENV: 'development',
  LOG_LEVEL: 'warn',
  MIGRATE_ON_START: 'false',
  DEMO_SEED: 'false',
  CART_MAX_LINE_QUANTITY: '1000000',
  RATE_LIMIT_REQUESTS_PER_MINUTE: '1000000',
  RATE_LIMIT_WRITES_PER_MINUTE: '1000000',
};

export async function startSystem(
  id: SystemId,
  ctx: { redis: TestRedis; serverCpu?: string; loadCpu?: string; databases: TestDatabase[]; log: (line: string) => void },
): Promise<RunningSystem> {
  const fromProcess = (proc: ServerProcess, extra: Partial<RunningSystem>): RunningSystem => ({
    id,
    url: proc.url,
    pids: [proc.pid],
    usesRedis: false,
    memory: async () => {
      const m = await proc.memory();
      return { heapUsed: m.heapUsed, rss: m.rss };
    },
    stop: () => proc.stop(),
    ...extra,
  });
  const cpu = ctx.serverCpu ? { cpu: ctx.serverCpu } : {};
  switch (id) {
    case 'sdk-stateful':
    case 'sdk-per-request':
    case 'http-floor':
      return fromProcess(await startServer(id, cpu), {});
    case 'flowpos-memory':
    case 'flowpos-redis': {
      const { db, name, key } = await createBenchDatabase(true);
      ctx.databases.push(db);
      const redisEnv: Record<string, string> = id === 'flowpos-redis' ? { REDIS_URL: ctx.redis.url, MCP_REDIS_KEY_PREFIX: 'bench-r:' } : {};
      const proc = await startServer('flowpos', { ...cpu, env: { ...FLOWPOS_ENV, PORT: '0', HOST: '127.0.0.1', DATABASE_URL: db.url, ...redisEnv } });
      return fromProcess(proc, {
        key: key!,
        database: name,
        usesRedis: id === 'flowpos-redis',
        wire: { start: () => proc.wireStart(), stop: () => proc.wireStop() },
        ...(id === 'flowpos-redis' ? { redisRoundTrip: () => proc.redisRoundTrip() } : {}),
      });
    }
    case 'flowpos-cluster': {
      const { db, name } = await createBenchDatabase(false);
      ctx.databases.push(db);
      const lines: string[] = [];
      let cluster: Cluster;
      // The built cluster module starts built instances (dist/cli.js); the source one starts them under tsx.
      ensureBuilt(ROOT);
      const clusterModule = FROM_SOURCE ? '../../src/cluster/cluster.js' : '../../dist/cluster/cluster.js';
      const { startCluster } = (await import(clusterModule)) as typeof import('../../src/cluster/cluster.js');
      try {
        // Instances inherit this process's environment minus what startCluster sets; `env` overrides the rest.
        cluster = await startCluster({
          instances: 3,
          port: 0,
          redisUrl: ctx.redis.url,
          databaseUrl: db.url,
          env: { ...FLOWPOS_ENV, MCP_REDIS_KEY_PREFIX: 'bench-c:' },
          onLog: (source, line) => {
            lines.push(`[${source}] ${line}`);
            if (lines.length > 200) lines.shift();
          },
        });
      } catch (err) {
        ctx.log(lines.slice(-40).join('\n'));
        throw err;
      }
      if (ctx.serverCpu) for (const inst of cluster.instances) pinPid(inst.pid, ctx.serverCpu);
      return {
        id,
        url: cluster.url.replace('//localhost:', '//127.0.0.1:'),
        key: cluster.demoKey,
        pids: cluster.instances.map((i) => i.pid),
        usesRedis: true,
        database: name,
        memory: async () => ({ rss: cluster.instances.reduce((n, i) => n + (procRss(i.pid) ?? NaN), 0) }),
        stop: () => cluster.stop(),
      };
    }
  }
}
