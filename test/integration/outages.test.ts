import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO } from '../../src/db/seed.js';
import { startInstances, type Instances } from '../helpers/instances.js';
import { baseHeaders, callTool, LEGACY_VERSION, openSession, post, structured } from '../helpers/mcp-http.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: LEGACY_VERSION, capabilities: {}, clientInfo: { name: 't', version: '1' } } };

/** A backing service going away is a clear 503 with Retry-After, never a 500 or a hang; service returns by itself. */
describe('Redis and PostgreSQL outages', () => {
  let it: Instances;
  let pgProxy: TcpProxy;
  let A: string;
  let B: string;
  before(async () => {
    pgProxy = await startTcpProxy('127.0.0.1', 5432);
    it = await startInstances({
      count: 2,
      ownRedis: true,
      databaseUrlFor: (url) => {
        const u = new URL(url);
        u.hostname = '127.0.0.1';
        u.port = String(pgProxy.port);
        return u.toString();
      },
    });
    [A, B] = it.urls as [string, string];
  });
  after(async () => {
    await it.stop();
    await pgProxy.close();
  });

  const expect503 = (res: { status: number; headers: Headers; body: any }, cause: RegExp) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(res.status, 503, JSON.stringify(res.body));
    assert.equal(res.headers.get('retry-after'), '2');
    assert.equal(res.body.error.code, -32002);
    assert.match(res.body.error.message, cause);
  };

  test('Redis down: 503 naming Redis on every instance, quickly; back by itself, old sessions 404', async () => {
    const key = it.keys.demo;
    const sid = await openSession(A, key);
    structured(await callTool(B, key, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    await it.redis!.stop();
    const started = Date.now();
    expect503(await callTool(A, key, sid, 'view_cart'), /Redis/);
    expect503(await callTool(B, key, sid, 'view_cart'), /Redis/);
    expect503(await post(A, INIT, baseHeaders(key)), /Redis/);
    assert.ok(Date.now() - started < 10_000, 'refusals come fast, not after long timeouts');
    const ready = await fetch(`${B}/ready`);
    assert.equal(ready.status, 503);
    assert.deepEqual((await ready.json()).failed, ['redis']);
    assert.equal((await fetch(`${B}/health`)).status, 200, 'liveness does not depend on Redis');

    await it.redis!.restart!();
    let recovered = false;
    for (let i = 0; i < 50 && !recovered; i++) {
      recovered = (await fetch(`${A}/ready`)).status === 200 && (await fetch(`${B}/ready`)).status === 200;
      if (!recovered) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(recovered, 'both instances are ready again without a restart');
    // The restarted Redis kept nothing (no persistence here): the session is gone, and says so.
    assert.equal((await callTool(A, key, sid, 'view_cart')).status, 404);
    const fresh = await openSession(B, key);
    structured(await callTool(A, key, fresh, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    structured(await callTool(B, key, fresh, 'view_cart'));
  });

  test('PostgreSQL down: 503 naming the database; back by itself', async () => {
    const key = it.keys.demo;
    const sid = await openSession(A, key);
    structured(await callTool(B, key, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    await pgProxy.cut();
    try {
      expect503(await callTool(A, key, sid, 'search_products', { query: 'latte' }), /database/);
      const ready = await fetch(`${B}/ready`);
      assert.equal(ready.status, 503);
      assert.deepEqual((await ready.json()).failed, ['database']);
    } finally {
      await pgProxy.restore();
    }
    let ok = false;
    for (let i = 0; i < 50 && !ok; i++) {
      ok = (await callTool(B, key, sid, 'search_products', { query: 'latte' })).status === 200;
      if (!ok) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(ok, 'service resumes once PostgreSQL is back');
    assert.equal(structured(await callTool(A, key, sid, 'search_products', { query: 'latte' })).business_id, DEMO.businesses.coffee);
  });
});
