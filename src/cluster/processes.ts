import { spawn, type ChildProcess } from 'node:child_process';
import { constants } from 'node:os';
import { createInterface } from 'node:readline';

/**
 * Child processes of a local cluster (server instances, a private redis-server or PostgreSQL), each known by
 * its own pid so it can be signalled, killed and restarted by pid, and none of which can outlive this process.
 */
export interface Supervised {
  /** Short name used in log prefixes: i1, redis, postgres. */
  readonly name: string;
  /** Pid of the real process (not of a wrapper). */
  readonly pid: number;
  /** Resolves once the process has exited. */
  readonly exited: Promise<ProcessExit>;
  running(): boolean;
  /** Sends a signal to the process; false if it is already gone. */
  signal(signal: NodeJS.Signals): boolean;
  /** Sends `signal` (SIGTERM by default), then SIGKILL if the process is still there after graceMs. */
  stop(opts?: { signal?: NodeJS.Signals; graceMs?: number }): Promise<ProcessExit>;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnOptions {
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Run as this user and group (a root parent starting PostgreSQL, which refuses to run as root). */
  uid?: number;
  gid?: number;
  /** Every line the process writes, stdout and stderr alike. */
  onLine?: (line: string) => void;
}

/**
 * The process runs under a small shell watchdog whose stdin is a pipe from this process: when this process
 * dies for any reason, even SIGKILL, the pipe closes, `cat` returns and the watchdog kills the child. The
 * shell prints the child's pid first, so everything else addresses the child directly. (Background jobs of a
 * non-interactive shell get /dev/null as stdin, hence the explicit `<&3`.)
 */
const WATCHDOG = 'exec 3<&0; cmd=$1; shift; "$cmd" "$@" & p=$!; echo "$p"; ( cat <&3 >/dev/null; kill -9 "$p" 2>/dev/null ) & wait "$p"';

const live = new Set<Supervised>();
let exitHookInstalled = false;

/** Synchronous last resort: whatever is still running when this process exits is killed. */
function killAllNow(): void {
  for (const p of live) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

export async function spawnSupervised(opts: SpawnOptions): Promise<Supervised> {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.on('exit', killAllNow);
  }
  const viaWatchdog = process.platform !== 'win32';
  const child: ChildProcess = viaWatchdog
    ? spawn('sh', ['-c', WATCHDOG, `watchdog-${opts.name}`, opts.command, ...opts.args], {
        cwd: opts.cwd,
        env: opts.env,
        stdio: ['pipe', 'pipe', 'pipe'],
        // Its own process group: Ctrl-C in a terminal reaches only the parent, which then stops everything in order.
        detached: true,
        ...(opts.uid !== undefined ? { uid: opts.uid } : {}),
        ...(opts.gid !== undefined ? { gid: opts.gid } : {}),
      })
    : spawn(opts.command, opts.args, { cwd: opts.cwd, env: opts.env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin?.on('error', () => {});

  const exited = new Promise<ProcessExit>((resolve) => {
    child.once('exit', (code, signal) => {
      // Lets the watchdog's `cat` finish; the child is already gone.
      child.stdin?.end();
      // The watchdog reports a child killed by a signal as exit status 128 + signal number.
      const bySignal = viaWatchdog && code !== null && code > 128 ? signalName(code - 128) : undefined;
      resolve(bySignal ? { code: null, signal: bySignal } : { code, signal });
    });
  });

  const pid = await new Promise<number>((resolve, reject) => {
    let first = viaWatchdog;
    const onLine = (line: string) => {
      if (first) {
        first = false;
        const n = Number.parseInt(line, 10);
        if (Number.isInteger(n) && n > 0) return resolve(n);
        return reject(new Error(`${opts.name}: could not learn the pid (watchdog said "${line}")`));
      }
      opts.onLine?.(line);
    };
    if (child.stdout) createInterface({ input: child.stdout, crlfDelay: Infinity }).on('line', onLine);
    if (child.stderr) createInterface({ input: child.stderr, crlfDelay: Infinity }).on('line', (line) => opts.onLine?.(line));
    child.once('error', reject);
    if (!viaWatchdog) {
      if (child.pid) resolve(child.pid);
      else child.once('spawn', () => resolve(child.pid!));
    }
    void exited.then((e) => reject(new Error(`${opts.name} exited at once (${e.signal ?? `code ${e.code}`})`)));
  });

  let done = false;
  void exited.then(() => {
    done = true;
    live.delete(handle);
  });
  const handle: Supervised = {
    name: opts.name,
    pid,
    exited,
    running: () => !done,
    signal(signal) {
      if (done) return false;
      try {
        process.kill(pid, signal);
        return true;
      } catch {
        return false;
      }
    },
    async stop({ signal = 'SIGTERM', graceMs = 10_000 } = {}) {
      if (done) return exited;
      handle.signal(signal);
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), graceMs);
      });
      const first = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (first === 'timeout') {
        handle.signal('SIGKILL');
        return exited;
      }
      return first;
    },
  };
  live.add(handle);
  return handle;
}

function signalName(n: number): NodeJS.Signals | undefined {
  return (Object.entries(constants.signals) as [NodeJS.Signals, number][]).find(([, v]) => v === n)?.[0];
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function abortError(): Error {
  const err = new Error('Cluster start-up was interrupted.');
  err.name = 'AbortError';
  return err;
}
