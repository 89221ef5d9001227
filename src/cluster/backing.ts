import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import pg from 'pg';
import { freePort } from './ports.js';
import { abortError, sleep, spawnSupervised, type Supervised } from './processes.js';

/** A backing service the cluster uses: either one it was given or found, or one it started and must stop. */
export interface Backing {
  url: string;
  /** How it was obtained, for the start-up summary. */
  description: string;
  /** The process this cluster started for it, if any. */
  process?: Supervised;
  stop(): Promise<void>;
}

export type LogLine = (source: string, line: string) => void;

export const CLUSTER_DATABASE = 'flowpos_cluster';

const REDIS_HINT = 'Set REDIS_URL=redis://host:port, or install redis-server (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`).';
const PG_HINT =
  'Set DATABASE_URL=postgres://user:password@host:5432/db, or start PostgreSQL on 127.0.0.1:5432 (user postgres, or PGUSER/PGPASSWORD), ' +
  'or install PostgreSQL so initdb and postgres are on PATH or under /usr/lib/postgresql/*/bin.';

function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, name);
    if (existsSync(candidate)) return candidate;
  }
  return undefined;
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString().replace(/\/$/, '');
  } catch {
    return '(unparseable URL)';
  }
}

/** Sends an inline PING and resolves true on +PONG. */
function redisPing(port: number, timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('error', () => done(false));
    socket.once('data', (data) => done(data.toString().startsWith('+PONG')));
    socket.connect(port, '127.0.0.1', () => socket.write('PING\r\n'));
  });
}

/** A private redis-server on a free loopback port, without persistence, stopped (by pid) with the cluster. */
export async function startPrivateRedis(log: LogLine, signal?: AbortSignal): Promise<Backing> {
  const bin = process.env.REDIS_SERVER_BIN ?? onPath('redis-server');
  if (!bin || !existsSync(bin)) {
    throw new Error(`No REDIS_URL is set and no redis-server binary was found (${bin ? `REDIS_SERVER_BIN=${bin} does not exist` : 'not on PATH'}). ${REDIS_HINT}`);
  }
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const output: string[] = [];
    const proc = await spawnSupervised({
      name: 'redis',
      command: bin,
      args: ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tmpdir(), '--loglevel', 'warning'],
      onLine: (line) => {
        output.push(line);
        log('redis', line);
      },
    });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline && proc.running() && !signal?.aborted) {
      if (await redisPing(port)) {
        return {
          url: `redis://127.0.0.1:${port}`,
          description: `private redis-server, pid ${proc.pid}, no persistence`,
          process: proc,
          stop: async () => {
            await proc.stop({ signal: 'SIGTERM', graceMs: 5_000 });
          },
        };
      }
      await sleep(50);
    }
    const exitedEarly = !proc.running();
    await proc.stop({ signal: 'SIGKILL' });
    if (signal?.aborted) throw abortError();
    lastError = new Error(
      `redis-server on port ${port} ${exitedEarly ? 'exited at start-up' : 'did not answer PING within 10 s'}:\n${output.slice(-10).join('\n')}`,
    );
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

export interface PostgresOptions {
  databaseUrl?: string;
  /** The cluster's throwaway PostgreSQL lives in `<dataDir>/cluster-pg`. */
  dataDir: string;
  /** The local server tried when no databaseUrl is given; default postgres://$PGUSER|postgres@127.0.0.1:5432/postgres. */
  localUrl?: string;
  log: LogLine;
  signal?: AbortSignal;
}

/**
 * The database the cluster shares: DATABASE_URL if given; else the local server at 127.0.0.1:5432 (database
 * flowpos_cluster, created if missing); else a throwaway PostgreSQL cluster created with initdb; else an error
 * saying what to set.
 */
export async function resolvePostgres(opts: PostgresOptions): Promise<Backing> {
  if (opts.databaseUrl) {
    return { url: opts.databaseUrl, description: 'DATABASE_URL', stop: async () => {} };
  }
  const localUrl = opts.localUrl ?? `postgres://${encodeURIComponent(process.env.PGUSER || 'postgres')}@127.0.0.1:5432/postgres`;
  const local = await tryLocalServer(localUrl);
  if (local.ok) {
    return { url: local.url, description: `local PostgreSQL, database ${CLUSTER_DATABASE}`, stop: async () => {} };
  }
  opts.log('cluster', `No usable PostgreSQL at ${redactUrl(localUrl)} (${local.reason}).`);
  const bins = findPostgresBinaries();
  if (!bins) {
    throw new Error(`No DATABASE_URL is set, no PostgreSQL answers at ${redactUrl(localUrl)} (${local.reason}), and no initdb was found. ${PG_HINT}`);
  }
  return startThrowawayPostgres(bins, resolve(opts.dataDir), opts.log, opts.signal);
}

async function tryLocalServer(adminUrl: string): Promise<{ ok: true; url: string } | { ok: false; reason: string }> {
  const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 2_000 });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    return { ok: false, reason: err instanceof Error ? err.message || err.constructor.name : String(err) };
  }
  try {
    const { rows } = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [CLUSTER_DATABASE]);
    if (rows.length === 0) {
      try {
        await client.query(`CREATE DATABASE ${CLUSTER_DATABASE}`);
      } catch (err) {
        // Another cluster starting at the same moment created it first.
        if ((err as { code?: string }).code !== '42P04') throw err;
      }
    }
  } catch (err) {
    return { ok: false, reason: `cannot create database ${CLUSTER_DATABASE}: ${err instanceof Error ? err.message : String(err)}` };
  } finally {
    await client.end().catch(() => {});
  }
  const url = new URL(adminUrl);
  url.pathname = `/${CLUSTER_DATABASE}`;
  return { ok: true, url: url.toString() };
}

interface PostgresBinaries {
  initdb: string;
  postgres: string;
}

function findPostgresBinaries(): PostgresBinaries | undefined {
  const dirs: string[] = [];
  const initdbOnPath = onPath('initdb');
  if (initdbOnPath) dirs.push(resolve(initdbOnPath, '..'));
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    const versions = readdirSync(debian).filter((v) => /^\d+(\.\d+)?$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) dirs.push(join(debian, v, 'bin'));
  }
  for (const dir of dirs) {
    const initdb = join(dir, 'initdb');
    const postgres = join(dir, 'postgres');
    if (existsSync(initdb) && existsSync(postgres)) return { initdb, postgres };
  }
  return undefined;
}

/** PostgreSQL refuses to run as root; a root parent runs it as the `postgres` user if there is one. */
function postgresUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  let passwd = '';
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    // no passwd file: fall through to the error below
  }
  const entry = passwd.split('\n').find((l) => l.startsWith('postgres:'));
  const [, , uid, gid] = entry?.split(':') ?? [];
  if (!uid || !gid) {
    throw new Error(`PostgreSQL will not run as root and there is no "postgres" user to run it as. ${PG_HINT}`);
  }
  return { uid: Number(uid), gid: Number(gid) };
}

/** True when `uid` can create entries in `dir` (a root parent checking for the postgres user). */
function writableBy(dir: string, owner: { uid: number; gid: number }): boolean {
  return spawnSync('sh', ['-c', 'test -w "$1" && test -x "$1"', 'sh', dir], { uid: owner.uid, gid: owner.gid }).status === 0;
}

async function startThrowawayPostgres(bins: PostgresBinaries, dataDir: string, log: LogLine, signal?: AbortSignal): Promise<Backing> {
  const owner = postgresUser();
  let dir = join(dataDir, 'cluster-pg');
  if (owner) {
    await mkdir(dataDir, { recursive: true });
    if (!writableBy(dataDir, owner)) {
      // Run as root, PostgreSQL runs as the postgres user, who may not reach a private data directory (a 0700
      // parent, a home directory): use a directory of its own under the system's temporary directory instead.
      dir = await mkdtemp(join(tmpdir(), 'flowpos-cluster-pg-'));
      log('cluster', `The postgres user cannot write to ${dataDir}; the throwaway PostgreSQL goes to ${dir} instead.`);
    }
  }
  if (existsSync(dir)) {
    const entries = readdirSync(dir);
    if (entries.length > 0 && !entries.includes('PG_VERSION')) {
      throw new Error(`${dir} exists and is not a PostgreSQL data directory; remove it or set FLOWPOS_DATA_DIR elsewhere.`);
    }
    await rm(dir, { recursive: true, force: true });
  }
  await mkdir(dir, { recursive: true, mode: 0o700 });
  if (owner) await chown(dir, owner.uid, owner.gid);
  log('cluster', `Creating a throwaway PostgreSQL cluster in ${dir} …`);
  const init = spawnSync(bins.initdb, ['-D', dir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--no-sync'], {
    encoding: 'utf8',
    ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
    timeout: 120_000,
  });
  if (init.status !== 0) {
    await rm(dir, { recursive: true, force: true }).catch(() => {});
    const output = `${init.stdout ?? ''}${init.stderr ?? ''}`.trim() || init.error?.message || `exit ${init.status}`;
    throw new Error(`initdb failed in ${dir}:\n${output}\n${PG_HINT}`);
  }
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const proc = await spawnSupervised({
      name: 'postgres',
      command: bins.postgres,
      args: [
        '-D', dir, '-p', String(port),
        '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=',
        '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=200',
      ],
      ...(owner ? { uid: owner.uid, gid: owner.gid } : {}),
      onLine: (line) => log('postgres', line),
    });
    const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && proc.running() && !signal?.aborted) {
      const probe = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1_000 });
      probe.on('error', () => {});
      const ok = await probe.connect().then(
        () => true,
        () => false,
      );
      await probe.end().catch(() => {});
      if (ok) {
        return {
          url,
          description: `throwaway PostgreSQL in ${dir}, pid ${proc.pid}, removed on exit`,
          process: proc,
          stop: async () => {
            // SIGINT is PostgreSQL's fast shutdown: disconnect everyone, stop at once.
            await proc.stop({ signal: 'SIGINT', graceMs: 10_000 });
            await rm(dir, { recursive: true, force: true }).catch(() => {});
          },
        };
      }
      await sleep(100);
    }
    await proc.stop({ signal: 'SIGKILL' });
    if (signal?.aborted) break;
    lastError = new Error(`PostgreSQL on port ${port} did not accept connections within 30 s`);
  }
  await rm(dir, { recursive: true, force: true }).catch(() => {});
  if (signal?.aborted) throw abortError();
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
