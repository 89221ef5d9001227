import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { DEMO } from '../../src/db/seed.js';
import { callTool, openSession, structured } from '../helpers/mcp-http.js';

/**
 * What a newcomer gets from `npm start` (`tsx src/cli.ts serve`): a real child process, no Redis, no
 * PostgreSQL, nothing configured but a data directory and a port.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const START_TIMEOUT_MS = 60_000;
const EXIT_TIMEOUT_MS = 15_000;

/** Everything that could point the server somewhere else is removed, so it runs as on a fresh machine. */
const INHERITED_SETTINGS = [
  'NODE_ENV', 'PORT', 'HOST', 'PUBLIC_URL', 'LOG_LEVEL', 'REDIS_URL', 'REDIS_HOST', 'REDIS_PORT', 'REDIS_PASSWORD', 'REDIS_TLS',
  'MCP_REDIS_KEY_PREFIX', 'DATABASE_URL', 'FLOWPOS_DATA_DIR', 'DATABASE_POOL_MAX', 'MIGRATE_ON_START', 'DEMO_SEED',
  'MCP_ALLOWED_HOSTS', 'MCP_ALLOWED_ORIGINS', 'MCP_RESPONSE_MODE', 'API_KEY_CACHE_SECONDS',
];

function cleanEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of INHERITED_SETTINGS) delete env[name];
  return { ...env, ...extra };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (!address || typeof address === 'string') throw new Error('no port');
  return address.port;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Cli {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<Exit>;
  /** Resolves with the match once stdout matches; rejects (with the output so far) on exit or timeout. */
  waitForStdout(pattern: RegExp, ms: number): Promise<RegExpMatchArray>;
  /** The exit, or a rejection naming the output if it takes longer than ms. */
  waitForExit(ms: number): Promise<Exit>;
}

const running = new Set<ChildProcess>();

function startCli(args: string[], env: NodeJS.ProcessEnv): Cli {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
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
  const describeOutput = () => `\n--- stdout ---\n${out}\n--- stderr ---\n${err}`;
  const withTimeout = <T>(p: Promise<T>, ms: number, what: string) =>
    new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`${what} within ${ms} ms${describeOutput()}`)), ms);
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
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
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
          if (!check()) reject(new Error(`exited (${e.code ?? e.signal}) before stdout matched ${pattern}${describeOutput()}`));
        });
      });
      return withTimeout(found, ms, `stdout did not match ${pattern}`);
    },
    waitForExit(ms) {
      return withTimeout(exited, ms, 'process did not exit');
    },
  };
}

function killAll(): void {
  for (const child of running) child.kill('SIGKILL');
}

interface Started {
  cli: Cli;
  /** Base URL as printed, without the /mcp path. */
  base: string;
  endpoint: string;
  key: string;
}

async function serve(dataDir: string, port: number): Promise<Started> {
  const cli = startCli(['serve'], cleanEnv({ FLOWPOS_DATA_DIR: dataDir, PORT: String(port), LOG_LEVEL: 'warn' }));
  const [, endpoint] = await cli.waitForStdout(/MCP endpoint: (\S+)/, START_TIMEOUT_MS);
  const [key] = await cli.waitForStdout(/\bfpk_[a-z2-7]+_[A-Za-z0-9_-]+/, START_TIMEOUT_MS);
  return { cli, endpoint: endpoint!, key: key!, base: endpoint!.replace(/\/mcp$/, '') };
}

async function stop(started: Started): Promise<Exit> {
  started.cli.child.kill('SIGTERM');
  return started.cli.waitForExit(EXIT_TIMEOUT_MS);
}

after(killAll);

describe('npm start on a fresh machine (embedded state, demo data)', () => {
  let dataDir: string;
  let port: number;
  let firstKey: string;
  let firstRunCartLine: { sku: string; quantity: number };

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'flowpos-first-run-'));
    port = await freePort();
  });
  after(async () => {
    killAll();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('first run: prints the endpoint and a working demo key, answers health and readiness, stops cleanly on SIGTERM', async () => {
    const s = await serve(dataDir, port);
    try {
      assert.equal(s.endpoint, `http://localhost:${port}/mcp`);
      assert.match(s.key, /^fpk_[a-z2-7]{12}_[A-Za-z0-9_-]{32}$/);
      assert.equal((await readFile(join(dataDir, 'demo-api-key'), 'utf8')).trim(), s.key, 'the demo key is kept in the data dir');
      firstKey = s.key;

      const health = await fetch(`${s.base}/health`);
      assert.equal(health.status, 200);
      const ready = await fetch(`${s.base}/ready`);
      const readyBody = (await ready.json()) as { status: string; checks: Record<string, string> };
      assert.equal(ready.status, 200, JSON.stringify(readyBody));
      assert.equal(readyBody.checks.database, 'ok');
      assert.equal(readyBody.checks.redis, undefined, 'no Redis was configured');

      const sid = await openSession(s.base, s.key);
      const list = structured(await callTool(s.base, s.key, sid, 'list_businesses'));
      assert.deepEqual(
        list.businesses.map((b: { id: string }) => b.id).sort(),
        [DEMO.businesses.coffee, DEMO.businesses.bakery].sort(),
        'demo-user belongs to exactly the two demo businesses',
      );
      const active = structured(await callTool(s.base, s.key, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
      assert.equal(active.active_business.id, DEMO.businesses.coffee);
      firstRunCartLine = { sku: 'COF-LATTE-12', quantity: 2 };
      structured(await callTool(s.base, s.key, sid, 'add_item_to_cart', firstRunCartLine));
      const cart = structured(await callTool(s.base, s.key, sid, 'view_cart'));
      assert.deepEqual(
        cart.lines.map((l: { sku: string; quantity: number }) => ({ sku: l.sku, quantity: l.quantity })),
        [firstRunCartLine],
      );
      assert.equal(cart.item_count, 2);
    } catch (err) {
      s.cli.child.kill('SIGKILL');
      throw err;
    }
    const exit = await stop(s);
    assert.deepEqual(exit, { code: 0, signal: null }, `SIGTERM ends the server with code 0; stderr: ${s.cli.stderr()}`);
  });

  test('second run on the same data dir: the same key, the same demo data once, and no cart from the first run', async () => {
    assert.ok(firstKey, 'the first run must have passed');
    const s = await serve(dataDir, port);
    try {
      assert.equal(s.key, firstKey, 'the demo key survives a restart');
      assert.equal(s.endpoint, `http://localhost:${port}/mcp`);

      const sid = await openSession(s.base, s.key);
      const list = structured(await callTool(s.base, s.key, sid, 'list_businesses'));
      assert.equal(list.businesses.length, 2, `demo data not duplicated: ${JSON.stringify(list.businesses)}`);
      assert.equal(list.active_business_id, null, 'preferences lived in the first process');

      structured(await callTool(s.base, s.key, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
      const found = structured(await callTool(s.base, s.key, sid, 'search_products', { query: firstRunCartLine.sku }));
      assert.equal(found.products.filter((p: { sku: string }) => p.sku === firstRunCartLine.sku).length, 1, 'each product seeded once');
      const cart = structured(await callTool(s.base, s.key, sid, 'view_cart'));
      assert.deepEqual(cart.lines, [], 'carts lived in the first process');
      assert.equal(cart.item_count, 0);
    } catch (err) {
      s.cli.child.kill('SIGKILL');
      throw err;
    }
    const exit = await stop(s);
    assert.deepEqual(exit, { code: 0, signal: null }, `SIGTERM ends the second run with code 0 too; stderr: ${s.cli.stderr()}`);
  });
});

describe('serve refuses a bad configuration before doing anything', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'flowpos-bad-config-'));
  });
  after(async () => {
    killAll();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('NODE_ENV=production without Redis and PostgreSQL: exit 2 naming both', async () => {
    const cli = startCli(['serve'], cleanEnv({ NODE_ENV: 'production', FLOWPOS_DATA_DIR: dataDir }));
    const exit = await cli.waitForExit(EXIT_TIMEOUT_MS);
    assert.deepEqual(exit, { code: 2, signal: null }, cli.stderr());
    assert.match(cli.stderr(), /REDIS_URL/);
    assert.match(cli.stderr(), /DATABASE_URL/);
    assert.doesNotMatch(cli.stdout(), /fpk_/, 'no demo key in production');
  });

  test('PORT=abc: exit 2 naming PORT', async () => {
    const cli = startCli(['serve'], cleanEnv({ PORT: 'abc', FLOWPOS_DATA_DIR: dataDir }));
    const exit = await cli.waitForExit(EXIT_TIMEOUT_MS);
    assert.deepEqual(exit, { code: 2, signal: null }, cli.stderr());
    assert.match(cli.stderr(), /\bPORT\b/);
    assert.match(cli.stderr(), /"abc"/, 'the message shows the bad value');
  });
});
