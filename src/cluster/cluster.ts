import { fileURLToPath } from 'node:url';
import { createApiKey } from '../auth/api-key-repo.js';
import { ALL_SCOPES } from '../auth/principal.js';
import { migrate } from '../db/migrate.js';
import { openDb } from '../db/open.js';
import { DEMO, seedDemo } from '../db/seed.js';
import { resolvePostgres, startPrivateRedis, type Backing, type LogLine } from './backing.js';
import { startBalancer, type Balancer } from './balancer.js';
import { freePort, portIsFree } from './ports.js';
import { abortError, sleep, spawnSupervised, type ProcessExit, type Supervised } from './processes.js';

/**
 * A local cluster: N `flowpos-mcp serve` processes sharing one Redis and one PostgreSQL, behind a round-robin
 * balancer with no affinity. The `cluster` command and the cluster tests both run it through startCluster.
 */
export interface ClusterOptions {
  /** Server processes; default 3. */
  instances?: number;
  /**
   * Balancer port; the instances listen on port+1 … port+N. 0 picks free ports for all of them. Default 4000.
   */
  port?: number;
  /** Balancer listen address; default 127.0.0.1. The instances always listen on 127.0.0.1. */
  host?: string;
  /** Shared Redis; without it a private redis-server is started (and stopped with the cluster). */
  redisUrl?: string;
  /** Shared PostgreSQL; without it the local server, else a throwaway one (see resolvePostgres). */
  databaseUrl?: string;
  /** Where a throwaway PostgreSQL is created (`<dataDir>/cluster-pg`); default ./.flowpos. */
  dataDir?: string;
  /** The local PostgreSQL tried when no databaseUrl is given. */
  localPostgresUrl?: string;
  /** Extra environment for every instance (e.g. CART_MAX_LINE_QUANTITY, LOG_LEVEL). */
  env?: Record<string, string>;
  /** The external base URL the instances are told (PUBLIC_URL); default the balancer's, as http://localhost:port. */
  publicUrl?: string;
  /** Every log line: source is i1…iN, redis, postgres, lb or cluster. Default: printed as `[source] line`. */
  onLog?: LogLine;
  /** Aborting stops a start-up in progress (everything started so far is stopped). */
  signal?: AbortSignal;
  /** How long one instance may take to become ready; default 60 s. */
  readyTimeoutMs?: number;
}

export interface ClusterInstance {
  /** i1 … iN: the log prefix and the balancer's x-flowpos-upstream value. */
  name: string;
  /** http://127.0.0.1:port */
  url: string;
  port: number;
  /** Pid of the current process (changes on restart). */
  pid: number;
  running(): boolean;
}

export interface Cluster {
  /** Base URL of the balancer (the MCP endpoint is `${url}/mcp`). */
  url: string;
  mcpUrl: string;
  /** Base URLs of the instances, in order (index 0 is i1). */
  instanceUrls: string[];
  instances: ClusterInstance[];
  /** A fresh API key of demo-user (pos:read, pos:write). */
  demoKey: string;
  redisUrl: string;
  databaseUrl: string;
  /** The processes the cluster started for Redis and PostgreSQL, if any, and what it uses. */
  backing: { redis: Backing; postgres: Backing };
  balancer: Balancer;
  /** Signals instance i (0-based); resolves once it has exited. */
  kill(i: number, signal?: NodeJS.Signals): Promise<ProcessExit>;
  /** Starts instance i again on its port (stopping it first if it still runs); resolves once it is ready. */
  restart(i: number): Promise<void>;
  /** Stops the balancer, every instance, and whatever Redis/PostgreSQL it started. Safe to call twice. */
  stop(): Promise<void>;
}

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FROM_SOURCE = import.meta.url.endsWith('.ts');
const CLI = fileURLToPath(new URL(FROM_SOURCE ? '../cli.ts' : '../cli.js', import.meta.url));

/** How an instance is started: from source under tsx, or the built CLI. */
export function serveCommand(): { command: string; args: string[]; cwd: string } {
  return { command: process.execPath, args: [...(FROM_SOURCE ? ['--import', 'tsx'] : []), CLI, 'serve'], cwd: ROOT };
}

function defaultLog(source: string, line: string): void {
  process.stdout.write(`[${source}] ${line}\n`);
}

/** Instance settings the cluster decides; everything else is inherited from this process's environment. */
const OVERRIDDEN = ['PORT', 'HOST', 'PUBLIC_URL', 'REDIS_URL', 'REDIS_HOST', 'REDIS_PORT', 'REDIS_PASSWORD', 'REDIS_TLS', 'DATABASE_URL', 'DEMO_SEED'];

export async function startCluster(opts: ClusterOptions = {}): Promise<Cluster> {
  const count = opts.instances ?? 3;
  if (!Number.isInteger(count) || count < 1 || count > 32) throw new RangeError(`instances must be 1 to 32, got ${count}`);
  const log = opts.onLog ?? defaultLog;
  const signal = opts.signal;
  const cleanups: (() => Promise<void>)[] = [];
  const checkAbort = () => {
    if (signal?.aborted) throw abortError();
  };
  const runCleanups = async () => {
    while (cleanups.length) await cleanups.pop()!().catch((err: unknown) => log('cluster', `cleanup failed: ${String(err)}`));
  };

  try {
    const ports = await choosePorts(opts.port ?? 4000, count, opts.host);
    checkAbort();

    let redis: Backing;
    if (opts.redisUrl) {
      redis = { url: opts.redisUrl, description: 'REDIS_URL', stop: async () => {} };
    } else {
      log('cluster', 'No REDIS_URL: starting a private redis-server …');
      redis = await startPrivateRedis(log, signal);
      cleanups.push(() => redis.stop());
    }
    checkAbort();
    const postgres = await resolvePostgres({
      ...(opts.databaseUrl ? { databaseUrl: opts.databaseUrl } : {}),
      ...(opts.localPostgresUrl ? { localUrl: opts.localPostgresUrl } : {}),
      dataDir: opts.dataDir ?? './.flowpos',
      log,
      ...(signal ? { signal } : {}),
    });
    cleanups.push(() => postgres.stop());
    checkAbort();

    // Schema and demo data once, before any instance starts (instances migrate too, under the advisory lock,
    // and find nothing to do; DEMO_SEED is off for them).
    const demoKey = await prepareDatabase(postgres.url);
    checkAbort();

    const publicUrl = opts.publicUrl ?? `http://localhost:${ports.balancer}`;
    const baseEnv: NodeJS.ProcessEnv = { ...process.env };
    for (const name of OVERRIDDEN) delete baseEnv[name];
    const { command, args, cwd } = serveCommand();

    const slots = ports.instances.map((port, i) => {
      const name = `i${i + 1}`;
      const env: NodeJS.ProcessEnv = {
        ...baseEnv,
        ...opts.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        PUBLIC_URL: publicUrl,
        REDIS_URL: redis.url,
        DATABASE_URL: postgres.url,
        DEMO_SEED: 'false',
      };
      return { name, port, url: `http://127.0.0.1:${port}`, env, proc: undefined as Supervised | undefined };
    });

    const startInstance = async (slot: (typeof slots)[number]) => {
      const proc = await spawnSupervised({ name: slot.name, command, args, cwd, env: slot.env, onLine: (line) => log(slot.name, line) });
      slot.proc = proc;
      await waitReady(slot.name, slot.url, proc, opts.readyTimeoutMs ?? 60_000, signal);
    };
    cleanups.push(async () => {
      await Promise.all(slots.map((s) => s.proc?.stop({ signal: 'SIGTERM', graceMs: 10_000 })));
    });
    await Promise.all(slots.map((s) => startInstance(s)));
    checkAbort();

    const balancer = await startBalancer({
      upstreams: slots.map((s) => ({ name: s.name, url: s.url })),
      port: ports.balancer,
      ...(opts.host ? { host: opts.host } : {}),
      log: (line) => log('lb', line),
    });
    cleanups.push(() => balancer.close());
    const url = balancer.url.replace('//127.0.0.1:', '//localhost:');

    let stopping: Promise<void> | undefined;
    const instances: ClusterInstance[] = slots.map((s) => ({
      name: s.name,
      url: s.url,
      port: s.port,
      get pid() {
        return s.proc!.pid;
      },
      running: () => s.proc?.running() ?? false,
    }));
    const slotAt = (i: number) => {
      const slot = slots[i];
      if (!slot) throw new RangeError(`no instance ${i} (0 to ${slots.length - 1})`);
      return slot;
    };
    return {
      url,
      mcpUrl: `${url}/mcp`,
      instanceUrls: slots.map((s) => s.url),
      instances,
      demoKey,
      redisUrl: redis.url,
      databaseUrl: postgres.url,
      backing: { redis, postgres },
      balancer,
      async kill(i, sig = 'SIGKILL') {
        const proc = slotAt(i).proc!;
        proc.signal(sig);
        return proc.exited;
      },
      async restart(i) {
        const slot = slotAt(i);
        if (slot.proc?.running()) await slot.proc.stop({ signal: 'SIGTERM', graceMs: 10_000 });
        await startInstance(slot);
      },
      stop() {
        // Balancer first (no new requests, open streams cut), then instances, then Redis and PostgreSQL.
        stopping ??= runCleanups();
        return stopping;
      },
    };
  } catch (err) {
    await runCleanups();
    throw err;
  }
}

async function choosePorts(port: number, count: number, host?: string): Promise<{ balancer: number; instances: number[] }> {
  if (port === 0) {
    const picked: number[] = [];
    while (picked.length < count + 1) {
      const p = await freePort();
      if (!picked.includes(p)) picked.push(p);
    }
    return { balancer: picked[0]!, instances: picked.slice(1) };
  }
  if (!Number.isInteger(port) || port < 1 || port + count > 65535) throw new RangeError(`port must leave room for ${count} instances above it, got ${port}`);
  const wanted = [port, ...Array.from({ length: count }, (_, i) => port + 1 + i)];
  const busy: number[] = [];
  for (const [i, p] of wanted.entries()) {
    if (!(await portIsFree(p, i === 0 ? (host ?? '127.0.0.1') : '127.0.0.1'))) busy.push(p);
  }
  if (busy.length) {
    throw new Error(`port${busy.length > 1 ? 's' : ''} ${busy.join(', ')} already in use; the balancer needs ${port} and the instances ${port + 1}-${port + count}. Choose another with --port.`);
  }
  return { balancer: port, instances: wanted.slice(1) };
}

async function prepareDatabase(databaseUrl: string): Promise<string> {
  const db = await openDb({ databaseUrl, dataDir: 'memory://', poolMax: 2 });
  try {
    await migrate(db);
    await seedDemo(db);
    const { key } = await createApiKey(db, { userId: DEMO.users.demo, name: 'cluster demo key', scopes: [...ALL_SCOPES] });
    return key;
  } finally {
    await db.close();
  }
}

async function waitReady(name: string, url: string, proc: Supervised, timeoutMs: number, signal?: AbortSignal): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (signal?.aborted) throw abortError();
    if (!proc.running()) {
      const exit = await proc.exited;
      throw new Error(`instance ${name} exited during start-up (${exit.signal ?? `code ${exit.code}`}); its log lines above say why.`);
    }
    const ok = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2_000) }).then(
      async (res) => {
        await res.body?.cancel();
        return res.status === 200;
      },
      () => false,
    );
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`instance ${name} (${url}) was not ready within ${Math.round(timeoutMs / 1000)} s; its log lines above say why.`);
}
