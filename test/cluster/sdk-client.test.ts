import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Client } from '@modelcontextprotocol/client';
import { DEMO } from '../../src/db/seed.js';
import { call, countBy, sdkClient, servedBy, startTestCluster, within, type TestCluster } from '../helpers/cluster.js';
import { callTool, LEGACY_VERSION, openSession, structured } from '../helpers/mcp-http.js';

/** The official SDK client, both eras, through the round-robin balancer in front of three real processes. */

async function shop(client: Client) {
  const list = await call(client, 'list_businesses');
  assert.equal(list.businesses.length, 2);
  await call(client, 'set_active_business', { business_id: DEMO.businesses.coffee });
  // The cart the first add names, passed on (a stateless client has no session cart to fall back on).
  const { cart_id } = await call(client, 'add_item_to_cart', { sku: 'COF-LATTE-12', quantity: 2 });
  await call(client, 'add_item_to_cart', { sku: 'COF-CROISSANT', quantity: 1, cart_id });
  const cart = await call(client, 'view_cart', { cart_id });
  assert.equal(cart.item_count, 3);
  const done = await call(client, 'checkout', { idempotency_key: `sdk-cluster-${Math.random()}`, cart_id });
  assert.equal(done.created, true);
  assert.equal(done.order.total_minor, cart.subtotal_minor);
  return done.order;
}

describe('cluster: the official SDK client through the balancer', { timeout: 85_000 }, () => {
  let c: TestCluster;
  before(async () => {
    c = await startTestCluster();
  });
  after(() => c?.stopAll());

  test('2025-era client: one session served by all three instances (balancer header and instance logs agree)', async () => {
    const { client, transport, requests } = sdkClient(c.mcpUrl, c.demoKey, 'legacy');
    await client.connect(transport);
    const sessionId = transport.sessionId;
    assert.ok(sessionId, 'a session id was issued');
    await shop(client);
    await transport.terminateSession();
    await client.close();

    const served = new Set(requests.map((r) => r.upstream));
    assert.deepEqual([...served].sort(), ['i1', 'i2', 'i3'], `every instance served the session: ${JSON.stringify(requests)}`);
    // The same from the instances' side: each logged requests carrying this session id.
    for (const name of ['i1', 'i2', 'i3']) {
      const lines = (c.logs.get(name) ?? []).filter((l) => l.includes(`"sessionId":"${sessionId}"`));
      assert.ok(lines.length > 0, `${name} logged requests of session ${sessionId}`);
    }
    console.log(`legacy SDK session ${sessionId}: ${requests.length} HTTP requests, by instance ${JSON.stringify(countBy(requests, (r) => r.upstream ?? 'none'))}`);
  });

  test('2026-07-28 client: the same flow with no session at all, on all three instances', async () => {
    const { client, transport, requests } = sdkClient(c.mcpUrl, c.demoKey, 'modern');
    await client.connect(transport);
    await shop(client);
    await client.close();
    assert.equal(transport.sessionId, undefined, 'no session was issued');
    assert.deepEqual([...new Set(requests.map((r) => r.upstream))].sort(), ['i1', 'i2', 'i3'], JSON.stringify(requests));
    console.log(`modern SDK client: ${requests.length} HTTP requests, by instance ${JSON.stringify(countBy(requests, (r) => r.upstream ?? 'none'))}`);
  });

  test('a GET stream held by one instance streams, through the balancer, what another instance publishes', async () => {
    const key = c.demoKey;
    const sid = await openSession(c.url, key);
    const res = await fetch(`${c.mcpUrl}`, {
      headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream', 'mcp-session-id': sid, 'mcp-protocol-version': LEGACY_VERSION },
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
    const streamOn = servedBy(res);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const readUntil = async (pattern: RegExp, ms: number) => {
      const deadline = Date.now() + ms;
      while (!pattern.test(text)) {
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`stream did not show ${pattern} within ${ms} ms; got:\n${text}`);
        const chunk = await within(reader.read(), left);
        if (chunk === 'timeout') continue;
        if (chunk.done) throw new Error(`stream ended before ${pattern}; got:\n${text}`);
        text += decoder.decode(chunk.value, { stream: true });
      }
    };
    // The stream is open and passes bytes at once (keep-alives every second here), not at its end.
    await readUntil(/\S/, 5_000);

    structured(await callTool(c.url, key, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    let writer = '';
    for (let k = 0; k < 3 && (writer === '' || writer === streamOn); k++) {
      const added = await callTool(c.url, key, sid, 'add_item_to_cart', { sku: 'COF-MUFFIN-BLUE', quantity: 1, cart_id: 'stream-cart' });
      structured(added);
      writer = servedBy(added);
    }
    assert.notEqual(writer, streamOn, 'the write was served by another instance than the stream');
    await readUntil(/notifications\/resources\/updated[\s\S]*pos:\/\/carts\/stream-cart/, 5_000);
    await reader.cancel();
    console.log(`GET stream on ${streamOn} carried the cart update published by ${writer}`);
  });
});
