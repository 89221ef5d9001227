import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO } from '../../src/db/seed.js';
import { startInstances, type Instances } from '../helpers/instances.js';
import { baseHeaders, callToolModern, MODERN_VERSION, post, structured } from '../helpers/mcp-http.js';

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
    assert.ok(uris.includes('pos://carts/default'), JSON.stringify(uris));
    for (const uri of [uris[0], 'pos://carts/default']) {
      const res = await read(B, uri);
      assert.equal(res.status, 200, res.text);
      assert.ok(res.body.result?.contents?.length > 0, `${uri} is readable: ${res.text.slice(0, 300)}`);
    }
  });
});
