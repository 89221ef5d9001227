import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/cluster/ports.js';

/**
 * A throwaway Redis Cluster for tests: three masters, no replicas, all slots assigned.
 *
 * Each node is `redis-server --cluster-enabled yes --cluster-config-file <tmpdir>/nodes-<port>.conf --port <free>
 * --save '' --appendonly no --bind 127.0.0.1`; `redis-cli --cluster create … --cluster-replicas 0 --cluster-yes`
 * joins them, and start-up returns once every node reports `cluster_state:ok`. Every process is killed by pid on
 * stop() and whenever the test process ends (even by SIGKILL, through a watchdog per node). There is no fallback:
 * without redis-server and redis-cli (REDIS_SERVER_BIN / REDIS_CLI_BIN may point at them) start-up throws.
 */
export interface TestRedisCluster {
  /** Seed nodes as `127.0.0.1:<port>`, in start order (what REDIS_CLUSTER_NODES takes). */
  nodes: string[];
  /** Kills one node (SIGKILL): its slots become unavailable until restartNode(index). */
  stopNode(index: number): Promise<void>;
  /** Starts a stopped node again on the same port with the same cluster config file, and waits for cluster_state:ok. */
  restartNode(index: number): Promise<void>;
  stop(): Promise<void>;
}

const INSTALL_HINT = 'Install Redis 7 or later (Debian/Ubuntu: `apt-get install redis-server`, which brings redis-cli; macOS: `brew install redis`).';

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
      process.kill(process.pid, signal);
    });
  }
}

function binary(envName: string, fallback: string): string {
  const bin = process.env[envName] ?? fallback;
  const probe = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) {
    throw new Error(
      `The Redis Cluster tests need \`${fallback}\`, but \`${bin}\` cannot be run ` +
        `(${probe.error?.message ?? `exit ${probe.status}`}). ${INSTALL_HINT} ${envName} may point at the binary.`,
    );
  }
  const major = Number(/v=(\d+)\./.exec(probe.stdout)?.[1] ?? /(\d+)\.\d+\.\d+/.exec(probe.stdout)?.[1]);
  if (Number.isFinite(major) && major < 7) {
    throw new Error(`The Redis Cluster tests need Redis 7 or later (sharded pub/sub), but \`${bin}\` is ${probe.stdout.trim()}. ${INSTALL_HINT}`);
  }
  return bin;
}


const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function cli(bin: string, args: string[], timeoutMs = 10_000): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(bin, args, { timeout: timeoutMs, encoding: 'utf8' }, (err, stdout, stderr) => {
      resolve({ ok: !err, output: `${stdout}${stderr}` });
    });
  });
}

// Same watchdog as redis-server.ts: the shell's stdin is a pipe from this process; when this process dies for
// any reason the pipe closes, `cat` returns and the watchdog kills redis-server. The shell prints its pid first.
const WATCHDOG =
  'exec 3<&0; bin=$1; shift; "$bin" "$@" & rs=$!; echo "$rs"; ( cat <&3 >/dev/null; kill -9 "$rs" 2>/dev/null ) & wait "$rs"';

interface Node {
  port: number;
  busPort: number;
  child?: ChildProcess;
  pid?: number;
}

async function spawnNode(bin: string, cliBin: string, node: Node, dir: string): Promise<void> {
  const args = [
    '--cluster-enabled', 'yes',
    '--cluster-config-file', join(dir, `nodes-${node.port}.conf`),
    '--cluster-port', String(node.busPort),
    // Short enough that a killed node is noticed in tests; long enough not to flap on a busy machine.
    '--cluster-node-timeout', '3000',
    '--port', String(node.port),
    '--save', '',
    '--appendonly', 'no',
    '--bind', '127.0.0.1',
    '--dir', dir,
  ];
  const child = spawn('sh', ['-c', WATCHDOG, 'redis-cluster-watchdog', bin, ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  live.add(child);
  installExitHooks();
  let output = '';
  child.stdout?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.stderr?.on('data', (d: Buffer) => (output = (output + d.toString()).slice(-4000)));
  child.on('exit', () => live.delete(child));
  child.stdin?.on('error', () => {});
  (child.stdout as unknown as Socket | null)?.unref?.();
  (child.stderr as unknown as Socket | null)?.unref?.();
  (child.stdin as unknown as Socket | null)?.unref?.();
  child.unref();
  node.child = child;

  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`redis-server (cluster node) on port ${node.port} exited at start-up:\n${output.trim()}`);
    }
    node.pid ??= Number.parseInt(output.split('\n')[0] ?? '', 10) || undefined;
    if (node.pid !== undefined && (await cli(cliBin, ['-p', String(node.port), 'PING'], 1000)).output.includes('PONG')) return;
    await sleep(50);
  }
  await killNode(node);
  throw new Error(`redis-server (cluster node) on port ${node.port} did not answer PING within 10 s:\n${output.trim()}`);
}

async function killNode(node: Node): Promise<void> {
  const { child, pid } = node;
  node.child = undefined;
  node.pid = undefined;
  if (!child) return;
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.ref();
    try {
      if (pid !== undefined) process.kill(pid, 'SIGKILL');
      else child.kill('SIGKILL');
    } catch {
      // already gone
    }
    child.stdin?.end();
    await exited;
  }
  live.delete(child);
}

async function waitForClusterOk(cliBin: string, ports: number[], timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const infos = await Promise.all(ports.map((p) => cli(cliBin, ['-p', String(p), 'CLUSTER', 'INFO'], 2000)));
    if (infos.every((i) => i.ok && i.output.includes('cluster_state:ok'))) return;
    const last = infos.map((i, n) => `${ports[n]}: ${/cluster_state:\w+/.exec(i.output)?.[0] ?? i.output.trim()}`).join(', ');
    if (Date.now() > deadline) throw new Error(`Redis Cluster did not reach cluster_state:ok within ${timeoutMs} ms (${last})`);
    await sleep(100);
  }
}

export async function startRedisCluster(): Promise<TestRedisCluster> {
  const bin = binary('REDIS_SERVER_BIN', 'redis-server');
  const cliBin = binary('REDIS_CLI_BIN', 'redis-cli');
  const dir = mkdtempSync(join(tmpdir(), 'flowpos-redis-cluster-'));

  // Six distinct free ports: one client port and one cluster-bus port per node.
  const ports = new Set<number>();
  while (ports.size < 6) ports.add(await freePort());
  const [p1, p2, p3, b1, b2, b3] = [...ports] as [number, number, number, number, number, number];
  const nodes: Node[] = [
    { port: p1, busPort: b1 },
    { port: p2, busPort: b2 },
    { port: p3, busPort: b3 },
  ];

  const stopAll = async () => {
    await Promise.all(nodes.map((n) => killNode(n)));
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await Promise.all(nodes.map((n) => spawnNode(bin, cliBin, n, dir)));
    const addresses = nodes.map((n) => `127.0.0.1:${n.port}`);
    const created = await cli(cliBin, ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes'], 30_000);
    if (!created.ok) throw new Error(`redis-cli --cluster create failed:\n${created.output.trim()}`);
    await waitForClusterOk(cliBin, nodes.map((n) => n.port));
    let stopped = false;
    return {
      nodes: addresses,
      async stopNode(index) {
        const node = nodes[index];
        if (!node) throw new RangeError(`no cluster node ${index}`);
        await killNode(node);
      },
      async restartNode(index) {
        const node = nodes[index];
        if (!node) throw new RangeError(`no cluster node ${index}`);
        await killNode(node);
        await spawnNode(bin, cliBin, node, dir);
        await waitForClusterOk(cliBin, nodes.map((n) => n.port));
      },
      async stop() {
        if (stopped) return;
        stopped = true;
        await stopAll();
      },
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
