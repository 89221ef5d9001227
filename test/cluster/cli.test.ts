import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { freePort, portIsFree } from '../../src/cluster/ports.js';
import { within } from '../helpers/cluster.js';
import { callTool, openSession, structured } from '../helpers/mcp-http.js';

/**
 * `npm run cluster` as a newcomer runs it: `npx tsx src/cli.ts cluster` with no REDIS_URL and no DATABASE_URL,
 * so it starts its own redis-server and uses the local PostgreSQL; then Ctrl-C.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const START_TIMEOUT_MS = 60_000;
const EXIT_TIMEOUT_MS = 30_000;

/** Everything that could point the cluster at existing services is removed, as on a fresh machine. */
const INHERITED_SETTINGS = [
  'NODE_ENV', 'PORT', 'HOST', 'PUBLIC_URL', 'LOG_LEVEL', 'REDIS_URL', 'REDIS_HOST', 'REDIS_PORT', 'REDIS_PASSWORD', 'REDIS_TLS',
  'MCP_REDIS_KEY_PREFIX', 'DATABASE_URL', 'FLOWPOS_DATA_DIR', 'DATABASE_POOL_MAX', 'MIGRATE_ON_START', 'DEMO_SEED',
  'MCP_ALLOWED_HOSTS', 'MCP_ALLOWED_ORIGINS', 'MCP_RESPONSE_MODE', 'API_KEY_CACHE_SECONDS',
];

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Pids of processes whose environment carries the marker (Linux /proc; elsewhere nothing can be found). */
function processesWithMarker(marker: string): number[] {
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return [];
  }
  const found: number[] = [];
  for (const e of entries) {
    if (Number(e) === process.pid) continue;
    try {
      if (readFileSync(`/proc/${e}/environ`).includes(marker)) found.push(Number(e));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}

/** A port P with P..P+3 free: the balancer and three instances. */
async function freeRange(width: number): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const p = await freePort();
    if (p + width > 65535) continue;
    let ok = true;
    for (let k = 1; k < width && ok; k++) ok = await portIsFree(p + k);
    if (ok) return p;
  }
  throw new Error('no free range of ports');
}

describe('cluster: npm run cluster on a machine with nothing configured', { timeout: 88_000 }, () => {
  let child: ChildProcess | undefined;
  let dataDir: string | undefined;
  const pids: number[] = [];
  after(async () => {
    // Whatever happened, nothing survives: the command's process group, then every pid it printed.
    if (child?.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  test('prints an endpoint and a key that work, and Ctrl-C stops everything it started with exit 0', async () => {
    const port = await freeRange(4);
    dataDir = await mkdtemp(join(tmpdir(), 'flowpos-cluster-cli-'));
    const marker = `FLOWPOS_CLUSTER_TEST_RUN=${randomBytes(8).toString('hex')}`;
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of INHERITED_SETTINGS) delete env[name];
    env.FLOWPOS_DATA_DIR = dataDir;
    env[marker.split('=')[0]!] = marker.split('=')[1];

    const started = Date.now();
    child = spawn('npx', ['tsx', 'src/cli.ts', 'cluster', '--instances', '3', '--port', String(port)], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so after() can remove it whole if the test fails half-way.
      detached: true,
    });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child!.once('exit', (code, signal) => resolve({ code, signal })),
    );
    const show = () => `--- stdout ---\n${stdout.slice(-6000)}\n--- stderr ---\n${stderr.slice(-3000)}`;

    const deadline = Date.now() + START_TIMEOUT_MS;
    while (!/Demo API key \(user demo-user\): \S+\n/.test(stdout)) {
      if (child.exitCode !== null) assert.fail(`the cluster exited at start-up (${child.exitCode})\n${show()}`);
      if (Date.now() > deadline) assert.fail(`no endpoint and key within ${START_TIMEOUT_MS} ms\n${show()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const startMs = Date.now() - started;
    const endpoint = /MCP endpoint: (\S+)/.exec(stdout)![1]!;
    const key = /Demo API key \(user demo-user\): (\S+)/.exec(stdout)![1]!;
    const clusterPid = Number(/balancer .* pid (\d+)/.exec(stdout)![1]);
    const redisPid = Number(/private redis-server, pid (\d+)/.exec(stdout)?.[1]);
    const instancePids = [...stdout.matchAll(/^ {2}i\d+ +http:\/\/127\.0\.0\.1:(\d+) +pid (\d+)$/gm)].map((m) => ({ port: Number(m[1]), pid: Number(m[2]) }));
    pids.push(...instancePids.map((i) => i.pid), redisPid, clusterPid);

    assert.equal(endpoint, `http://localhost:${port}/mcp`);
    assert.match(key, /^fpk_[a-z2-7]{12}_\S+$/);
    assert.ok(redisPid > 0, `a private redis-server was started (no REDIS_URL):\n${show()}`);
    assert.match(stdout, /postgres +postgres:\/\/postgres@127\.0\.0\.1:5432\/flowpos_cluster/, 'the local PostgreSQL, database flowpos_cluster');
    assert.deepEqual(instancePids.map((i) => i.port), [port + 1, port + 2, port + 3]);
    for (const pid of pids) assert.ok(alive(pid), `pid ${pid} runs`);
    assert.match(stdout, /^\[i1\] \{/m, 'instance logs are prefixed');
    assert.match(stdout, /^\[i3\] \{/m);

    const base = endpoint.replace(/\/mcp$/, '');
    const sid = await openSession(base, key);
    const list = structured(await callTool(base, key, sid, 'list_businesses'));
    assert.equal(list.businesses.length, 2);

    // Ctrl-C. npm (npx) does not pass a lone SIGINT on to its child, and exits 130 whenever a terminal's Ctrl-C
    // reaches it too, whatever its child did; so the signal goes to the cluster process itself (the pid it
    // prints), and its exit status travels back through tsx and npx.
    const stopAt = Date.now();
    process.kill(clusterPid, 'SIGINT');
    const exit = await within(exited, EXIT_TIMEOUT_MS);
    assert.notEqual(exit, 'timeout', `the cluster did not stop within ${EXIT_TIMEOUT_MS} ms\n${show()}`);
    assert.deepEqual(exit, { code: 0, signal: null }, show());
    assert.match(stdout, /\[cluster\] stopped\./);
    for (const pid of pids) assert.equal(alive(pid), false, `pid ${pid} is gone`);
    assert.deepEqual(processesWithMarker(marker), [], 'no process started by the cluster is left');
    console.log(
      `npx tsx src/cli.ts cluster: endpoint and key after ${startMs} ms; instances ${instancePids.map((i) => i.pid).join(', ')}, ` +
        `redis ${redisPid}; SIGINT -> exit 0 in ${Date.now() - stopAt} ms, nothing left`,
    );
  });
});
