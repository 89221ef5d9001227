import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO } from '../../src/db/seed.js';
import { startInstances, type Instances } from '../helpers/instances.js';
import { baseHeaders, callTool, callToolModern, LEGACY_VERSION, MODERN_VERSION, openSession, post, structured } from '../helpers/mcp-http.js';

const META = {
  'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
  'io.modelcontextprotocol/clientInfo': { name: 'test', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

/** resources/list names only what resources/read can then read (the conformance suite reads the first one listed). */
describe('resources/list across two instances', () => {
  let it: Instances;
  before(async () => {
    it = await startInstances({ count: 2 });
  });
  after(() => it.stop());

  const list = (url: string) =>
    post(url, { jsonrpc: '2.0', id: 1, method: 'resources/list', params: { _meta: META } }, baseHeaders(it.keys.demo, { 'mcp-protocol-version': MODERN_VERSION, 'mcp-method': 'resources/list' }));
  const read = (url: string, uri: string) =>
    post(url, { jsonrpc: '2.0', id: 2, method: 'resources/read', params: { uri, _meta: META } }, baseHeaders(it.keys.demo, { 'mcp-protocol-version': MODERN_VERSION, 'mcp-method': 'resources/read', 'mcp-name': uri }));

  test('without an active business nothing unreadable is listed; once one is chosen on A, B lists and reads the cart', async () => {
    const [A, B] = it.urls as [string, string];
    const before = await list(A);
    assert.equal(before.status, 200, before.text);
    assert.deepEqual(before.body.result.resources, [], 'no active business: neither products nor the cart are listed');

    structured(await callToolModern(A, it.keys.demo, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    const after = await list(B);
    const uris = after.body.result.resources.map((r: { uri: string }) => r.uri);
    assert.ok(uris.length > 0 && !uris.some((u: string) => u.startsWith('pos://carts/')), `no session, so no session cart: ${JSON.stringify(uris)}`);
    const product = await read(B, uris[0]);
    assert.equal(product.status, 200, product.text);
    assert.ok(product.body.result?.contents?.length > 0, `${uris[0]} is readable: ${product.text.slice(0, 300)}`);

    // A 2025-era session lists its own cart (by the id its cart calls use), and another instance reads it.
    const sid = await openSession(A, it.keys.demo);
    const inSession = (url: string, method: string, params: Record<string, unknown>) =>
      post(url, { jsonrpc: '2.0', id: 3, method, params }, baseHeaders(it.keys.demo, { 'mcp-session-id': sid, 'mcp-protocol-version': LEGACY_VERSION }));
    const { cart_id } = structured(await callTool(A, it.keys.demo, sid, 'add_item_to_cart', { sku: 'COF-LATTE-12', quantity: 1 }));
    const listed = (await inSession(B, 'resources/list', {})).body.result.resources.map((r: { uri: string }) => r.uri);
    assert.ok(listed.includes(`pos://carts/${cart_id}`), JSON.stringify(listed));
    const cart = await inSession(A, 'resources/read', { uri: `pos://carts/${cart_id}` });
    assert.match(cart.body.result.contents[0].text, /COF-LATTE-12/);
  });
});
