import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { createFlowposServer, type FlowposServer } from '../../src/app.js';
import { loadConfig } from '../../src/config.js';
import { loadMigrations } from '../../src/db/migrate.js';
import { baseHeaders, LEGACY_VERSION, post } from '../helpers/mcp-http.js';
import { createTestDatabase, type TestDatabase } from '../helpers/postgres.js';

/** `flowpos-mcp migrate | seed | apikey …` as an operator runs them: a child process per command. */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const RUN_TIMEOUT_MS = 120_000; // a bound against hangs: a first PGlite start on a busy machine takes tens of seconds
const KEY_LINE = /^fpk_[a-z0-9]+_\S+$/;

const INHERITED_SETTINGS = [
  'NODE_ENV', 'PORT', 'HOST', 'PUBLIC_URL', 'LOG_LEVEL', 'REDIS_URL', 'REDIS_HOST', 'REDIS_PORT', 'REDIS_PASSWORD', 'REDIS_TLS',
  'DATABASE_URL', 'FLOWPOS_DATA_DIR', 'DATABASE_POOL_MAX', 'MIGRATE_ON_START', 'DEMO_SEED', 'API_KEY_CACHE_SECONDS',
];

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

type Target = { databaseUrl: string } | { dataDir: string };

function envFor(target: Target): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const name of INHERITED_SETTINGS) delete env[name];
  env.LOG_LEVEL = 'silent';
  if ('databaseUrl' in target) env.DATABASE_URL = target.databaseUrl;
  else env.FLOWPOS_DATA_DIR = target.dataDir;
  return env;
}

/** Runs the CLI to completion; a run that hangs is killed and fails the test with its output. */
function cli(target: Target, ...args: string[]): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', ...args], { cwd: ROOT, env: envFor(target), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`flowpos-mcp ${args.join(' ')} did not finish within ${RUN_TIMEOUT_MS} ms\n${stdout}\n${stderr}`));
    }, RUN_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function show(run: Run): string {
  return `exit ${run.code}\n--- stdout ---\n${run.stdout}\n--- stderr ---\n${run.stderr}`;
}

function expectCode(run: Run, code: number): Run {
  assert.equal(run.code, code, show(run));
  return run;
}

/** The printed key, after checking stdout holds that one line and nothing else. */
function onlyKey(run: Run): string {
  expectCode(run, 0);
  assert.match(run.stdout, /^[^\n]+\n$/, `exactly one line on stdout:\n${show(run)}`);
  const key = run.stdout.trimEnd();
  assert.match(key, KEY_LINE);
  return key;
}

function keyIdOf(key: string): string {
  return key.split('_')[1]!;
}

/** `apikey list` lines as (keyId → state). */
function listed(run: Run): Map<string, string> {
  expectCode(run, 0);
  return new Map(
    run.stdout
      .trim()
      .split('\n')
      .map((line) => line.split('\t'))
      .filter((cols) => cols.length > 2)
      .map((cols) => [cols[0]!, cols[2]!]),
  );
}

// The two backends' suites run side by side (each CLI run is mostly process start-up); the tests inside
// each suite depend on one another and run in order.
describe('flowpos-mcp CLI', { concurrency: true }, () => {
  describe('CLI against PostgreSQL', { concurrency: 1 }, () => {
    let database: TestDatabase;
    let target: Target;
    let admin: pg.Client;

    before(async () => {
      database = await createTestDatabase();
      target = { databaseUrl: database.url };
      admin = new pg.Client({ connectionString: database.url });
      admin.on('error', () => {});
      await admin.connect();
    });
    after(async () => {
      await admin?.end().catch(() => {});
      await database?.drop();
    });

    test('migrate applies the migrations once, then says the schema is up to date', async () => {
      const first = expectCode(await cli(target, 'migrate'), 0);
      assert.match(first.stdout, /^Applied: 001_initial\.sql/, `the first run names what it applied:\n${show(first)}`);
      const second = expectCode(await cli(target, 'migrate'), 0);
      assert.equal(second.stdout, 'Database is up to date.\n');
      const { rows } = await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
      assert.equal(rows[0]!.n, (await loadMigrations()).length);
    });

    test('seed --demo loads the demo data and is safe to run twice; seed without --demo is a usage error', async () => {
      const counts = async () =>
        (
          await admin.query<{ users: number; businesses: number; products: number; memberships: number }>(
            `SELECT (SELECT count(*)::int FROM users) AS users, (SELECT count(*)::int FROM businesses) AS businesses,
                    (SELECT count(*)::int FROM products) AS products, (SELECT count(*)::int FROM memberships) AS memberships`,
          )
        ).rows[0]!;
      const first = expectCode(await cli(target, 'seed', '--demo'), 0);
      assert.match(first.stdout, /demo-user/);
      const once = await counts();
      assert.equal(once.businesses, 3);
      assert.ok(once.products > 0);
      expectCode(await cli(target, 'seed', '--demo'), 0);
      assert.deepEqual(await counts(), once, 'a second seed adds nothing');

      const bare = expectCode(await cli(target, 'seed'), 2);
      assert.match(bare.stderr, /seed --demo/);
      assert.equal(bare.stdout, '');
    });

    test('member add gives a not-yet-seen user access to a business (twice is harmless, the role can change); remove takes it away', async () => {
      expectCode(await cli(target, 'seed', '--demo'), 0);
      const memberships = async () =>
        (await admin.query('SELECT business_id, role FROM memberships WHERE user_id = $1 ORDER BY business_id', ['firebase-uid-1'])).rows;
      const added = expectCode(await cli(target, 'member', 'add', '--user', 'firebase-uid-1', '--email', 'p@example.com', '--business', 'biz_corner_coffee'), 0);
      assert.match(added.stdout, /firebase-uid-1 is now staff of biz_corner_coffee/);
      expectCode(await cli(target, 'member', 'add', '--user', 'firebase-uid-1', '--business', 'biz_corner_coffee', '--role', 'owner'), 0);
      assert.deepEqual(await memberships(), [{ business_id: 'biz_corner_coffee', role: 'owner' }]);
      assert.equal((await admin.query('SELECT email FROM users WHERE id = $1', ['firebase-uid-1'])).rows[0].email, 'p@example.com');

      const missing = expectCode(await cli(target, 'member', 'add', '--user', 'firebase-uid-1', '--business', 'biz_nope'), 1);
      assert.match(missing.stderr, /No business biz_nope/);
      assert.match(expectCode(await cli(target, 'member', 'add', '--user', 'u'), 2).stderr, /--user <uid> and --business <id>/);
      assert.match(expectCode(await cli(target, 'member', 'add', '--user', 'u', '--business', 'b', '--role', 'king'), 2).stderr, /staff or owner/);

      expectCode(await cli(target, 'member', 'remove', '--user', 'firebase-uid-1', '--business', 'biz_corner_coffee'), 0);
      assert.deepEqual(await memberships(), []);
      expectCode(await cli(target, 'member', 'remove', '--user', 'firebase-uid-1', '--business', 'biz_corner_coffee'), 1);
    });

    test('apikey create prints only the key; --json gives the details; the database keeps only a hash', async () => {
      const key = onlyKey(await cli(target, 'apikey', 'create', '--user', 'demo-user', '--name', 'x', '--scopes', 'pos:read'));
      const row = (await admin.query('SELECT user_id, name, scopes FROM mcp_api_key WHERE key_id = $1', [keyIdOf(key)])).rows[0];
      assert.deepEqual(row, { user_id: 'demo-user', name: 'x', scopes: ['pos:read'] });

      const before = Date.now();
      const run = expectCode(
        await cli(target, 'apikey', 'create', '--user', 'demo-user', '--name', 'json key', '--scopes', 'pos:read,pos:write', '--expires-in', '30d', '--json'),
        0,
      );
      const details = JSON.parse(run.stdout) as { key: string; keyId: string; userId: string; name: string; scopes: string[]; expiresAt: string; revokedAt: null };
      assert.match(details.key, KEY_LINE);
      assert.equal(details.key.startsWith(`fpk_${details.keyId}_`), true, 'the key carries its id');
      assert.deepEqual(details.scopes, ['pos:read', 'pos:write']);
      assert.equal(details.userId, 'demo-user');
      assert.equal(details.name, 'json key');
      assert.equal(details.revokedAt, null);
      const expires = new Date(details.expiresAt).getTime() - before;
      assert.ok(Math.abs(expires - 30 * 86_400_000) < 60_000, `expires in 30 days: ${details.expiresAt}`);

      const secret = details.key.slice(`fpk_${details.keyId}_`.length);
      const stored = (await admin.query('SELECT * FROM mcp_api_key WHERE key_id = $1', [details.keyId])).rows[0] as Record<string, unknown>;
      assert.match(String(stored.secret_hash), /^[0-9a-f]{64}$/);
      assert.notEqual(stored.secret_hash, secret);
      assert.equal(stored.secret_hash, createHash('sha256').update(secret).digest('hex'), 'the hash is SHA-256 of the secret');
      const wholeRow = JSON.stringify(stored);
      assert.equal(wholeRow.includes(secret), false, `no column holds the secret: ${wholeRow}`);
      assert.equal(wholeRow.includes(details.key), false);
    });

    test('apikey refuses unknown scopes, bad durations and unknown options with exit 2 and creates nothing', async () => {
      const countKeys = async () => (await admin.query<{ n: number }>('SELECT count(*)::int AS n FROM mcp_api_key')).rows[0]!.n;
      const keysBefore = await countKeys();
      const [scope, duration, option] = await Promise.all([
        cli(target, 'apikey', 'create', '--user', 'demo-user', '--scopes', 'pos:read,pos:admin'),
        cli(target, 'apikey', 'create', '--user', 'demo-user', '--expires-in', '3x'),
        cli(target, 'apikey', 'create', '--user', 'demo-user', '--scope', 'pos:read'),
      ]);
      expectCode(scope, 2);
      assert.match(scope.stderr, /pos:admin/);
      expectCode(duration, 2);
      assert.match(duration.stderr, /--expires-in/);
      assert.match(duration.stderr, /"3x"/);
      expectCode(option, 2);
      assert.match(option.stderr, /--scope\b/, 'names the unknown option');
      assert.doesNotMatch(option.stderr, /\n\s+at /, 'a typo gets a message, not a stack trace');
      for (const run of [scope, duration, option]) {
        assert.doesNotMatch(run.stdout, /fpk_/, show(run));
        assert.match(run.stderr, /--help/, 'every usage error points at --help');
      }
      assert.equal(await countKeys(), keysBefore);
    });

    test('unknown command exits 2 with a usage hint; --help exits 0 with the usage', async () => {
      const [unknown, help] = await Promise.all([cli(target, 'frobnicate'), cli(target, '--help')]);
      expectCode(unknown, 2);
      assert.match(unknown.stderr, /unknown command "frobnicate"/);
      assert.match(unknown.stderr, /flowpos-mcp --help/);
      expectCode(help, 0);
      for (const command of ['serve', 'migrate', 'seed', 'apikey create', 'apikey list', 'apikey revoke']) {
        assert.ok(help.stdout.includes(command), `--help lists ${command}`);
      }
    });

    describe('a key from the CLI against a running server', () => {
      let server: FlowposServer;
      let url: string;

      before(async () => {
        server = await createFlowposServer(
          loadConfig({
            DATABASE_URL: database.url,
            PORT: '0',
            NODE_ENV: 'test',
            LOG_LEVEL: 'silent',
            DEMO_SEED: 'false',
            API_KEY_CACHE_SECONDS: '0',
          }),
        );
        url = await server.listen();
      });
      after(() => server?.close());

      const initialize = (key: string) =>
        post(
          url,
          { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: LEGACY_VERSION, capabilities: {}, clientInfo: { name: 'cli-test', version: '1' } } },
          baseHeaders(key),
        );

      test('authenticates until revoked; list shows the state; revoking twice exits 1', async () => {
        const key = onlyKey(await cli(target, 'apikey', 'create', '--user', 'demo-user', '--name', 'server check', '--scopes', 'pos:read'));
        const keyId = keyIdOf(key);

        const ok = await initialize(key);
        assert.equal(ok.status, 200, ok.text);
        assert.ok(ok.headers.get('mcp-session-id'), 'a session was opened');
        assert.equal((await initialize(`${key.slice(0, -1)}${key.endsWith('A') ? 'B' : 'A'}`)).status, 401, 'a wrong secret is refused');

        const list = await cli(target, 'apikey', 'list', '--user', 'demo-user');
        assert.equal(listed(list).get(keyId), 'active', show(list));
        assert.doesNotMatch(list.stdout, /fpk_/, 'list never shows a key');

        const revoke = expectCode(await cli(target, 'apikey', 'revoke', keyId), 0);
        assert.match(revoke.stderr, new RegExp(`Revoked ${keyId}`));
        assert.equal(listed(await cli(target, 'apikey', 'list', '--user', 'demo-user')).get(keyId), 'revoked');
        const again = expectCode(await cli(target, 'apikey', 'revoke', keyId), 1);
        assert.match(again.stderr, new RegExp(`No active key ${keyId}`));

        const refused = await initialize(key);
        assert.equal(refused.status, 401, refused.text);
        assert.match(refused.headers.get('www-authenticate') ?? '', /invalid_token/);
      });
    });
  });

  describe('CLI against an embedded PGlite data dir', { concurrency: 1 }, () => {
    let dataDir: string;
    let target: Target;
    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'flowpos-cli-pglite-'));
      target = { dataDir };
    });
    after(() => rm(dataDir, { recursive: true, force: true }));

    test('migrate, seed --demo twice, and the key lifecycle', async () => {
      const first = expectCode(await cli(target, 'migrate'), 0);
      assert.match(first.stdout, /^Applied: 001_initial\.sql/, show(first));
      assert.equal(expectCode(await cli(target, 'migrate'), 0).stdout, 'Database is up to date.\n');
      expectCode(await cli(target, 'seed', '--demo'), 0);
      expectCode(await cli(target, 'seed', '--demo'), 0);

      const key = onlyKey(await cli(target, 'apikey', 'create', '--user', 'demo-user', '--name', 'x', '--scopes', 'pos:read'));
      const keyId = keyIdOf(key);
      expectCode(await cli(target, 'apikey', 'revoke', keyId), 0);
      assert.equal(listed(await cli(target, 'apikey', 'list', '--user', 'demo-user')).get(keyId), 'revoked');
      expectCode(await cli(target, 'apikey', 'revoke', keyId), 1);
    });
  });
});
