import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { freePort } from '../../src/cluster/ports.js';

/**
 * A throwaway redis-server for tests: `redis-server --port <free port> --save "" --appendonly no --bind 127.0.0.1`,
 * killed by pid on stop() and whenever the test process ends.
 *
 * With TEST_REDIS_URL set, that server is used instead and nothing is spawned: `keyPrefix` is then unique to this
 * run, stop() deletes only keys under it (nothing is flushed), and restart is not available.
 */
export interface TestRedis {
  url: string;
  port: number;
  /** Prefix the tests must give the stores: unique per run when the server is shared. */
  keyPrefix: string;
  stop(): Promise<void>;
  /** Starts the server again on the same port (only for a spawned server). */
  restart?(): Promise<void>;
}

export interface StartRedisOptions {
  /** Refuse TEST_REDIS_URL: for tests that must stop and restart the server. */
  spawnOnly?: boolean;
}

const INSTALL_HINT =
  'Install it (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`), ' +
  'or set TEST_REDIS_URL=redis://host:port to run the tests against an existing server.';

// Every server spawned by this process, killed synchronously on exit so none outlives the tests.
const live = new Set<ChildProcess>();
let exitHooksInstalled = false;

function killAll(): void {
  for (const child of live) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
  live.clear();
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      killAll();
      // Re-raise with the default disposition so the exit status still tells what happened.
      process.kill(process.pid, signal);
    });
  }
}

/** REDIS_SERVER_BIN may point at a redis-server that is not on PATH. */
function redisServerBinary(spawnOnly: boolean): string {
  const bin = process.env.REDIS_SERVER_BIN ?? 'redis-server';
  const probe = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    const why = `\`${bin}\` cannot be run (${probe.error?.message ?? `exit ${probe.status}`})`;
    if (spawnOnly) {
      throw new Error(
        `This test stops and restarts Redis, so it needs its own redis-server (TEST_REDIS_URL cannot be used), but ${why}. ` +
          'Install it (Debian/Ubuntu: `apt-get install redis-server`; macOS: `brew install redis`).',
      );
    }
    throw new Error(`The tests need a Redis server, but ${why}. ${INSTALL_HINT}`);
  }
  return bin;
}


/** Sends an inline PING and resolves true on +PONG. */
function ping(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
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
    socket.connect(port, host, () => socket.write('PING\r\n'));
  });
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs redis-server under a small shell watchdog: the shell's stdin is a pipe from this process, so when this
 * process dies for any reason (even SIGKILL) the pipe closes, `cat` returns and the watchdog kills redis-server.
 * The shell prints redis-server's pid first, so stop() can kill it by pid directly.
 */
// (Background jobs of a non-interactive shell get /dev/null as stdin, hence the explicit `<&3`.)
const WATCHDOG =
  'exec 3<&0; bin=$1; shift; "$bin" "$@" & rs=$!; echo "$rs"; ( cat <&3 >/dev/null; kill -9 "$rs" 2>/dev/null ) & wait "$rs"';

async function spawnRedis(bin: string, port: number): Promise<{ child: ChildProcess; pid: number }> {
  const args = ['--port', String(port), '--save', '', '--appendonly', 'no', '--bind', '127.0.0.1', '--dir', tmpdir()];
  const child = spawn('sh', ['-c', WATCHDOG, 'redis-watchdog', bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  installExitHooks();
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.on('exit', () => live.delete(child));
  // stdout/stderr/stdin must not keep the test process alive.
  child.stdin?.on('error', () => {});
  (child.stdout as unknown as Socket | null)?.unref?.();
  (child.stderr as unknown as Socket | null)?.unref?.();
  (child.stdin as unknown as Socket | null)?.unref?.();
  child.unref();

  const deadline = Date.now() + 10_000;
  let pid: number | undefined;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server on port ${port} exited at start-up:\n${output.trim()}`);
    }
    pid ??= Number.parseInt(output.split('\n')[0] ?? '', 10) || undefined;
    if (pid !== undefined && (await ping(port))) return { child, pid };
    await sleep(50);
  }
  child.stdin?.end();
  if (pid !== undefined) process.kill(pid, 'SIGKILL');
  throw new Error(`redis-server on port ${port} did not answer PING within 10 s:\n${output.trim()}`);
}

async function stopSpawned(child: ChildProcess, pid: number): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.ref(); // keep the process alive until the exit is seen
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
    child.stdin?.end(); // lets the watchdog subshell finish too
    await exited;
  }
  live.delete(child);
}

async function useExternal(url: string): Promise<TestRedis> {
  const parsed = new URL(url);
  const port = Number(parsed.port || 6379);
  const keyPrefix = `test:${process.pid}-${randomBytes(4).toString('hex')}:`;
  const { createClient } = await import('redis');
  const probe = createClient({ url, socket: { connectTimeout: 2000, reconnectStrategy: false } });
  probe.on('error', () => {});
  try {
    await probe.connect();
    await probe.ping();
  } catch (err) {
    probe.destroy();
    throw new Error(`TEST_REDIS_URL=${url} does not answer: ${err instanceof Error ? err.message : String(err)}`, {
      cause: err,
    });
  }
  await probe.close();
  return {
    url,
    port,
    keyPrefix,
    async stop() {
      // Remove only this run's keys; the server is someone else's.
      const client = createClient({ url, socket: { connectTimeout: 2000, reconnectStrategy: false } });
      client.on('error', () => {});
      await client.connect();
      const pattern = `${keyPrefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`;
      for await (const batch of client.scanIterator({ MATCH: pattern, COUNT: 500 })) {
        if (batch.length > 0) await client.unlink(batch);
      }
      await client.close();
    },
  };
}

export async function startRedis(opts: StartRedisOptions = {}): Promise<TestRedis> {
  const external = process.env.TEST_REDIS_URL;
  if (external && !opts.spawnOnly) return useExternal(external);
  const bin = redisServerBinary(opts.spawnOnly ?? false);

  // A free port can be taken between probing and binding; try a few.
  let lastError: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    let server: { child: ChildProcess; pid: number };
    try {
      server = await spawnRedis(bin, port);
    } catch (err) {
      lastError = err;
      continue;
    }
    return {
      url: `redis://127.0.0.1:${port}`,
      port,
      keyPrefix: 'test:',
      async stop() {
        await stopSpawned(server.child, server.pid);
      },
      async restart() {
        await stopSpawned(server.child, server.pid);
        server = await spawnRedis(bin, port);
      },
    };
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}
