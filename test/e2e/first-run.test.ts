import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEMO } from '../../src/db/seed.js';
import { callTool, openSession, structured } from '../helpers/mcp-http.js';
import { freePort } from '../../src/cluster/ports.js';
import { cleanEnv, serveEmbedded, startProcess, type Exit, type Served } from '../helpers/serve-process.js';

/**
 * What a newcomer gets from `npm start` (`tsx src/cli.ts serve`): a real child process, no Redis, no
 * PostgreSQL, nothing configured but a data directory and a port.
 */

const START_TIMEOUT_MS = 60_000;
const EXIT_TIMEOUT_MS = 15_000;

const serve = (dataDir: string, port: number) => serveEmbedded({ dataDir, port, startMs: START_TIMEOUT_MS });

async function stop(started: Served): Promise<Exit> {
  started.proc.child.kill('SIGTERM');
  return started.proc.waitForExit(EXIT_TIMEOUT_MS);
}


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
      s.proc.kill();
      throw err;
    }
    const exit = await stop(s);
    assert.deepEqual(exit, { code: 0, signal: null }, `SIGTERM ends the server with code 0; stderr: ${s.proc.stderr()}`);
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
      s.proc.kill();
      throw err;
    }
    const exit = await stop(s);
    assert.deepEqual(exit, { code: 0, signal: null }, `SIGTERM ends the second run with code 0 too; stderr: ${s.proc.stderr()}`);
  });
});

describe('serve refuses a bad configuration before doing anything', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'flowpos-bad-config-'));
  });
  after(async () => {
    await rm(dataDir, { recursive: true, force: true });
  });

  test('NODE_ENV=production without Redis and PostgreSQL: exit 2 naming both', async () => {
    const cli = startProcess('src/cli.ts', ['serve'], cleanEnv({ NODE_ENV: 'production', FLOWPOS_DATA_DIR: dataDir }));
    const exit = await cli.waitForExit(EXIT_TIMEOUT_MS);
    assert.deepEqual(exit, { code: 2, signal: null }, cli.stderr());
    assert.match(cli.stderr(), /REDIS_URL/);
    assert.match(cli.stderr(), /DATABASE_URL/);
    assert.doesNotMatch(cli.stdout(), /fpk_/, 'no demo key in production');
  });

  test('PORT=abc: exit 2 naming PORT', async () => {
    const cli = startProcess('src/cli.ts', ['serve'], cleanEnv({ PORT: 'abc', FLOWPOS_DATA_DIR: dataDir }));
    const exit = await cli.waitForExit(EXIT_TIMEOUT_MS);
    assert.deepEqual(exit, { code: 2, signal: null }, cli.stderr());
    assert.match(cli.stderr(), /\bPORT\b/);
    assert.match(cli.stderr(), /"abc"/, 'the message shows the bad value');
  });
});
