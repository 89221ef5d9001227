import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ensureBuilt, FROM_SOURCE, ROOT } from './build.js';
import { pinnedCommand } from './pin.js';

/** Parent → child (bench/support/child.ts). */
export type ChildRequest = { id: number; cmd: 'memory' | 'wire-start' | 'wire-stop' | 'mark' | 'redis-round-trip' | 'stop' };
/** Child → parent, answering a ChildRequest of the same id. */
export type ChildReply = { id: number; value: MemorySample | WireCounts | { us: number } | null };

/** What a server sent to Redis and PostgreSQL while counting (see child.ts). */
export interface WireCounts {
  /** Write bursts per backing service: round trips when one request is in flight at a time. */
  flights: Record<string, number>;
  /** Those of `flights` made after the response had ended (the answer did not wait for them). */
  flightsAfterAnswer: Record<string, number>;
  /** Redis commands by name; EVALSHA by script. */
  redisCommands: Record<string, number>;
  /** PostgreSQL statements by their text. */
  postgresStatements: Record<string, number>;
}

export interface MemorySample {
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  arrayBuffers: number;
  /** Whether a full GC ran first (--expose-gc). */
  gc: boolean;
}

export type ServerKind = 'sdk-stateful' | 'sdk-per-request' | 'http-floor' | 'flowpos';

export interface ServerProcess {
  kind: ServerKind;
  pid: number;
  /** Base URL (no /mcp). */
  url: string;
  memory(): Promise<MemorySample>;
  wireStart(): Promise<void>;
  wireStop(): Promise<WireCounts>;
  /** The child's monotonic clock in µs (the time base of its --cpu-prof samples). */
  mark(): Promise<number>;
  /** Median µs of a node-redis PING to its REDIS_URL, sent one at a time from its core; null without REDIS_URL. */
  redisRoundTrip(): Promise<number | null>;
  /** Asks it to stop, then kills it by pid if it has not exited within 10 s. */
  stop(): Promise<void>;
}

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

// Every server this process started; killed by pid if this process exits without stopping them.
const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const child of live) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

/** This process's environment without any flowpos-mcp setting, so each server gets only what it is given. */
export function serverEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (/^(REDIS_|MCP_|CART_|DATABASE_|FLOWPOS_|API_KEY_|CHECKOUT_|DEMO_|MIGRATE_)/.test(name)) continue;
    if (['PORT', 'HOST', 'PUBLIC_URL', 'NODE_ENV', 'LOG_LEVEL'].includes(name)) continue;
    env[name] = value;
  }
  return env;
}

export async function startServer(
  kind: ServerKind,
  opts: { env?: Record<string, string>; cpu?: string; cpuProfDir?: string; readyTimeoutMs?: number } = {},
): Promise<ServerProcess> {
  const nodeArgs = [
    '--expose-gc',
    // BENCH_NODE_FLAGS: V8/Node flags for the server processes only (e.g. --trace-gc, which NODE_OPTIONS refuses).
    ...(process.env.BENCH_NODE_FLAGS?.split(/\s+/).filter(Boolean) ?? []),
    ...(opts.cpuProfDir ? ['--cpu-prof', `--cpu-prof-dir=${opts.cpuProfDir}`] : []),
    '--import',
    'tsx',
    CHILD,
    kind,
  ];
  if (kind === 'flowpos') ensureBuilt(ROOT);
  const { command, args } = pinnedCommand(opts.cpu, process.execPath, nodeArgs);
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { ...serverEnv(), ...opts.env, BENCH_FLOWPOS_BUILD: FROM_SOURCE ? 'src' : 'dist' },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  live.add(child);
  let output = '';
  const keep = (d: Buffer) => {
    output = (output + d.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // BENCH_CHILD_LOG=<file>: everything the server prints (e.g. with BENCH_NODE_FLAGS=--trace-gc), kept whole.
  if (process.env.BENCH_CHILD_LOG) {
    const file = createWriteStream(process.env.BENCH_CHILD_LOG, { flags: 'a' });
    child.stdout?.pipe(file);
    child.stderr?.pipe(file);
  }
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  void exited.then(() => live.delete(child));

  let nextId = 1;
  const pending = new Map<number, (value: ChildReply['value']) => void>();
  const ready = new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${kind} server not ready within ${opts.readyTimeoutMs ?? 60_000} ms:\n${output}`)), opts.readyTimeoutMs ?? 60_000);
    child.on('message', (raw) => {
      const msg = raw as { type?: string; url?: string } & Partial<ChildReply>;
      if (msg.type === 'ready' && msg.url) {
        clearTimeout(timer);
        resolve(msg.url);
      } else if (typeof msg.id === 'number') {
        pending.get(msg.id)?.(msg.value ?? null);
        pending.delete(msg.id);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`${kind} server exited (${child.exitCode ?? child.signalCode}):\n${output}`));
    });
  });
  let url: string;
  try {
    url = await ready;
  } catch (err) {
    if (child.exitCode === null && child.signalCode === null && child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
    await exited;
    throw err;
  }

  const request = (cmd: ChildRequest['cmd']) =>
    new Promise<ChildReply['value']>((resolve, reject) => {
      const id = nextId++;
      const timer = setTimeout(() => {
        pending.delete(id);
        reject(new Error(`${kind} server did not answer ${cmd} within 30 s`));
      }, 30_000);
      pending.set(id, (value) => {
        clearTimeout(timer);
        resolve(value);
      });
      child.send({ id, cmd } satisfies ChildRequest);
    });

  let stopped: Promise<void> | undefined;
  return {
    kind,
    pid: child.pid!,
    url,
    memory: async () => (await request('memory')) as MemorySample,
    wireStart: async () => {
      await request('wire-start');
    },
    wireStop: async () => (await request('wire-stop')) as WireCounts,
    mark: async () => ((await request('mark')) as { us: number }).us,
    redisRoundTrip: async () => ((await request('redis-round-trip')) as { us: number } | null)?.us ?? null,
    stop() {
      stopped ??= (async () => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.send({ id: 0, cmd: 'stop' } satisfies ChildRequest, () => {});
        const timer = setTimeout(() => {
          if (child.exitCode === null && child.signalCode === null) process.kill(child.pid!, 'SIGKILL');
        }, 10_000);
        await exited;
        clearTimeout(timer);
      })();
      return stopped;
    },
  };
}
