import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/**
 * `flowpos-mcp serve` as a real child process (from source through tsx, or the built dist/cli.js), on a free
 * loopback port, with every setting that could point it elsewhere removed from the environment. Every process
 * started here is killed by pid when the test process exits, whatever happened.
 */

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

const INHERITED_SETTINGS = [
  'NODE_ENV', 'PORT', 'HOST', 'PUBLIC_URL', 'LOG_LEVEL', 'REDIS_URL', 'REDIS_HOST', 'REDIS_PORT', 'REDIS_PASSWORD', 'REDIS_TLS',
  'REDIS_CLUSTER_NODES', 'MCP_REDIS_KEY_PREFIX', 'DATABASE_URL', 'FLOWPOS_DATA_DIR', 'DATABASE_POOL_MAX', 'MIGRATE_ON_START',
  'DEMO_SEED', 'MCP_ALLOWED_HOSTS', 'MCP_ALLOWED_ORIGINS', 'MCP_RESPONSE_MODE', 'API_KEY_CACHE_SECONDS', 'MCP_SSE_KEEPALIVE_SECONDS',
  'MCP_SSE_MAX_STREAM_SECONDS', 'SHUTDOWN_GRACE_SECONDS', 'FLOWPOS_API_KEY',
];

export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of INHERITED_SETTINGS) delete env[name];
  return { ...env, ...extra };
}


export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Proc {
  child: ChildProcess;
  pid: number;
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
  /** Resolves with the match once stdout matches; rejects (with the output so far) on exit or timeout. */
  waitForStdout(pattern: RegExp, ms: number): Promise<RegExpMatchArray>;
  /** The exit, or a rejection naming the output if it takes longer than ms. */
  waitForExit(ms: number): Promise<Exit>;
  /** Kills the process by pid if it still runs. */
  kill(): void;
  describe(): string;
}

const running = new Set<ChildProcess>();
let exitHook = false;

function killRunning(): void {
  for (const child of running) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

/** Runs `node [--import tsx] <script> ...args` in the repository root (or `cwd`). */
export function startProcess(script: string, args: string[], env: NodeJS.ProcessEnv, opts: { tsx?: boolean; cwd?: string } = {}): Proc {
  if (!exitHook) {
    exitHook = true;
    process.on('exit', killRunning);
  }
  const nodeArgs = [...(opts.tsx === false ? [] : ['--import', 'tsx']), script, ...args];
  const child = spawn(process.execPath, nodeArgs, { cwd: opts.cwd ?? ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  if (child.pid === undefined) throw new Error(`could not start ${script}`);
  running.add(child);
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<Exit>((resolve) => {
    child.once('exit', (code, signal) => {
      running.delete(child);
      resolve({ code, signal });
    });
  });
  const describe = () => `\n--- stdout ---\n${out.slice(-4000)}\n--- stderr ---\n${err.slice(-4000)}`;
  const withTimeout = <T>(p: Promise<T>, ms: number, what: string) =>
    new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${what} within ${ms} ms${describe()}`)), ms);
      p.then(
        (v) => {
          clearTimeout(t);
          resolve(v);
        },
        (e: unknown) => {
          clearTimeout(t);
          reject(e instanceof Error ? e : new Error(String(e)));
        },
      );
    });
  const pid = child.pid;
  return {
    child,
    pid,
    stdout: () => out,
    stderr: () => err,
    exited,
    describe,
    waitForStdout(pattern, ms) {
      const found = new Promise<RegExpMatchArray>((resolve, reject) => {
        const check = () => {
          const m = out.match(pattern);
          if (!m) return false;
          child.stdout!.off('data', check);
          resolve(m);
          return true;
        };
        if (check()) return;
        child.stdout!.on('data', check);
        void exited.then((e) => {
          if (!check()) reject(new Error(`exited (${e.code ?? e.signal}) before stdout matched ${pattern}${describe()}`));
        });
      });
      return withTimeout(found, ms, `stdout did not match ${pattern}`);
    },
    waitForExit(ms) {
      return withTimeout(exited, ms, 'process did not exit');
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    },
  };
}

export interface Served {
  proc: Proc;
  /** Base URL as printed, without the /mcp path. */
  base: string;
  endpoint: string;
  /** The demo key the first run printed. */
  key: string;
}

/**
 * `serve` on embedded state (PGlite in dataDir, in-memory sessions), waiting for the printed endpoint and demo key.
 * `dist` runs the built dist/cli.js instead of the sources.
 */
export async function serveEmbedded(opts: { dataDir: string; port: number; env?: Record<string, string>; dist?: boolean; cwd?: string; startMs?: number }): Promise<Served> {
  const env = cleanEnv({ FLOWPOS_DATA_DIR: opts.dataDir, PORT: String(opts.port), LOG_LEVEL: 'warn', ...opts.env });
  const proc = opts.dist
    ? startProcess('dist/cli.js', ['serve'], env, { tsx: false, ...(opts.cwd ? { cwd: opts.cwd } : {}) })
    : startProcess('src/cli.ts', ['serve'], env, opts.cwd ? { cwd: opts.cwd } : {});
  try {
    // A first run creates its PGlite cluster (initdb in WebAssembly), migrates and seeds before printing anything:
    // seconds of CPU, which a concurrent test file at full load can stretch well past 45 s.
    const startMs = opts.startMs ?? 90_000;
    const [, endpoint] = await proc.waitForStdout(/MCP endpoint: (\S+)/, startMs);
    const [key] = await proc.waitForStdout(/\bfpk_[a-z2-7]+_[A-Za-z0-9_-]+/, startMs);
    return { proc, endpoint: endpoint!, key: key!, base: endpoint!.replace(/\/mcp$/, '') };
  } catch (err) {
    proc.kill();
    throw err;
  }
}
