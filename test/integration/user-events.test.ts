import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO } from '../../src/db/seed.js';
import { startInstances, type Instances } from '../helpers/instances.js';
import { baseHeaders, callTool, callToolModern, LEGACY_VERSION, MODERN_VERSION, openSession, structured } from '../helpers/mcp-http.js';
import { SseReader } from '../helpers/sse.js';

/** A user's changes reach that user's other sessions and listeners on any instance, and nobody else's. */
describe('user-scoped notifications across instances', () => {
  let it: Instances;
  let A: string;
  let B: string;
  before(async () => {
    it = await startInstances({ count: 2 });
    [A, B] = it.urls as [string, string];
  });
  after(() => it.stop());

  const getStream = async (url: string, key: string, sid: string) => {
    const res = await fetch(`${url}/mcp`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${key}`, 'mcp-session-id': sid, 'mcp-protocol-version': LEGACY_VERSION } });
    assert.equal(res.status, 200);
    const reader = new SseReader(res);
    await reader.next(); // priming
    return reader;
  };

  test('a cart change in one session is heard by the same user\'s other session, not by another user', async () => {
    const mine = await openSession(A, it.keys.demo);
    const myOther = await openSession(B, it.keys.demo);
    const theirs = await openSession(B, it.keys.demo2);
    const mineListening = await getStream(B, it.keys.demo, myOther);
    const theirsListening = await getStream(A, it.keys.demo2, theirs);
    structured(await callTool(A, it.keys.demo, mine, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    const p = structured(await callTool(A, it.keys.demo, mine, 'search_products', { limit: 1 })).products[0];
    structured(await callTool(A, it.keys.demo, mine, 'add_item_to_cart', { sku: p.sku, quantity: 1, cart_id: 'shared' }));
    const { data } = await mineListening.until((d) => d.method === 'notifications/resources/updated');
    assert.equal(data.params.uri, 'pos://carts/shared');
    await assert.rejects(theirsListening.until((d) => d.method === 'notifications/resources/updated', 800), /timed out/);
    await mineListening.cancel();
    await theirsListening.cancel();
  });

  test('2026-07-28 subscriptions/listen hears the user\'s cart changes made on another instance', async () => {
    const meta = {
      'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
      'io.modelcontextprotocol/clientInfo': { name: 't', version: '1' },
      'io.modelcontextprotocol/clientCapabilities': {},
    };
    const listen = (url: string, key: string) =>
      fetch(`${url}/mcp`, {
        method: 'POST',
        headers: baseHeaders(key, { 'mcp-protocol-version': MODERN_VERSION, 'mcp-method': 'subscriptions/listen' }),
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'subscriptions/listen', params: { notifications: { resourceSubscriptions: ['pos://carts/listen'] }, _meta: meta } }),
      });
    const res = await listen(A, it.keys.demo);
    assert.equal(res.status, 200);
    const reader = new SseReader(res);
    const ack = await reader.until((d) => d.method === 'notifications/subscriptions/acknowledged');
    assert.ok(ack);
    const other = new SseReader(await listen(B, it.keys.demo2));
    await other.until((d) => d.method === 'notifications/subscriptions/acknowledged');

    structured(await callToolModern(B, it.keys.demo, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    const p = structured(await callToolModern(B, it.keys.demo, 'search_products', { limit: 1 })).products[0];
    structured(await callToolModern(B, it.keys.demo, 'add_item_to_cart', { sku: p.sku, quantity: 1, cart_id: 'listen' }));
    const { data } = await reader.until((d) => d.method === 'notifications/resources/updated');
    assert.equal(data.params.uri, 'pos://carts/listen');
    await assert.rejects(other.until((d) => d.method === 'notifications/resources/updated', 800), /timed out/);
    await reader.cancel();
    await other.cancel();
  });
});
