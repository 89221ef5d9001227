import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO } from '../../src/db/seed.js';
import { startInstances, type Instances } from '../helpers/instances.js';
import { baseHeaders, callTool, callToolModern, LEGACY_VERSION, openSession, post, structured, type RpcResponse } from '../helpers/mcp-http.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { NO_RATE_LIMITS } from './support.js';

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: LEGACY_VERSION, capabilities: {}, clientInfo: { name: 'attr', version: '1' } } };

/**
 * Found by the chaos run: while PostgreSQL was cut, most 503s said "the session store (Redis) is unreachable".
 * A new connection to a cut database fails with a bare ECONNREFUSED, which the Redis classifier also claims, and
 * it was asked first. An operator would have been sent to the wrong service.
 */
describe('an outage is named after the service that failed', { timeout: 60_000 }, () => {
  let it: Instances;
  let proxy: TcpProxy;
  before(async () => {
    proxy = await startTcpProxy('127.0.0.1', 5432);
    it = await startInstances({
      count: 2,
      // No key cache: every request asks PostgreSQL who is calling, through a fresh connection once the pool is cut.
      env: { ...NO_RATE_LIMITS, API_KEY_CACHE_SECONDS: '0' },
      databaseUrlFor: (url) => {
        const u = new URL(url);
        u.hostname = '127.0.0.1';
        u.port = String(proxy.port);
        return u.toString();
      },
    });
  });
  after(async () => {
    await it?.stop();
    await proxy?.close();
  });

  test('PostgreSQL cut: every 503 names the database, none names Redis; Redis-only work still succeeds meanwhile', async () => {
    const [A, B] = it.urls as [string, string];
    const key = it.keys.demo;
    const sid = await openSession(A, key);
    structured(await callTool(B, key, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    await proxy.cut();
    try {
      const answers: RpcResponse[] = [];
      for (let k = 0; k < 6; k++) {
        const url = k % 2 ? A : B;
        answers.push(await post(url, INIT, baseHeaders(key)));
        answers.push(await callTool(url, key, sid, 'search_products', { query: 'latte' }));
        answers.push(await callToolModern(url, key, 'view_cart'));
      }
      for (const res of answers) {
        assert.equal(res.status, 503, res.text.slice(0, 300));
        assert.equal(res.headers.get('retry-after'), '2');
        assert.equal(res.body.error.data.code, 'unavailable_db', res.text.slice(0, 300));
        assert.match(res.body.error.message, /database \(PostgreSQL\)/);
      }
    } finally {
      await proxy.restore();
    }
    // Back by itself.
    let ok = false;
    for (let k = 0; k < 50 && !ok; k++) {
      ok = (await callTool(A, key, sid, 'view_cart')).status === 200;
      if (!ok) await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.ok(ok, 'service came back after the database did');
  });
});
