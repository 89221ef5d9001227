import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO } from '../../src/db/seed.js';
import { startInstances, openSharedDb, type Instances } from '../helpers/instances.js';
import { baseHeaders, callTool, LEGACY_VERSION, openSession, post, structured, toolError } from '../helpers/mcp-http.js';

/** One 2025-era session whose requests alternate between two instances that share only Redis and PostgreSQL. */
describe('2025-era sessions across two instances', () => {
  let it: Instances;
  let A: string;
  let B: string;
  before(async () => {
    it = await startInstances({ count: 2 });
    [A, B] = it.urls as [string, string];
  });
  after(() => it.stop());

  test('the whole shopping flow, alternating instances on every request', async () => {
    const key = it.keys.demo;
    const sid = await openSession(A, key);
    const list = structured(await callTool(B, key, sid, 'list_businesses'));
    assert.equal(list.businesses.length, 2);

    const chosen = structured(await callTool(A, key, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    assert.equal(chosen.active_business.id, DEMO.businesses.coffee);
    const active = structured(await callTool(B, key, sid, 'get_active_business'));
    assert.equal(active.active_business.id, DEMO.businesses.coffee, 'instance B sees the choice made on A');

    const found = structured(await callTool(A, key, sid, 'search_products', { limit: 5 }));
    const [p1, p2] = found.products.filter((p: { stock: number }) => p.stock >= 10);
    assert.ok(p1 && p2, 'two products with stock');
    structured(await callTool(B, key, sid, 'add_item_to_cart', { sku: p1.sku, quantity: 2 }));
    structured(await callTool(A, key, sid, 'add_item_to_cart', { sku: p2.sku, quantity: 1 }));
    structured(await callTool(B, key, sid, 'add_item_to_cart', { sku: p1.sku, quantity: 1 }));
    const cart = structured(await callTool(A, key, sid, 'view_cart'));
    assert.deepEqual(
      cart.lines.map((l: { sku: string; quantity: number }) => [l.sku, l.quantity]).sort(),
      [
        [p1.sku, 3],
        [p2.sku, 1],
      ].sort(),
    );
    assert.equal(cart.subtotal_minor, p1.price_minor * 3 + p2.price_minor);

    const done = structured(await callTool(B, key, sid, 'checkout', { idempotency_key: 'flow-1' }));
    assert.equal(done.created, true);
    assert.equal(done.order.total_minor, cart.subtotal_minor);
    const again = structured(await callTool(A, key, sid, 'checkout', { idempotency_key: 'flow-1' }));
    assert.equal(again.created, false, 'a retried checkout returns the same order');
    assert.equal(again.order.order_id, done.order.order_id);
    assert.equal(structured(await callTool(B, key, sid, 'view_cart')).lines.length, 0, 'checkout emptied the cart');

    const db = await openSharedDb(it.databaseUrl!);
    try {
      const orders = await db.query<{ n: string }>('select count(*) as n from orders where user_id = $1', [DEMO.users.demo]);
      assert.equal(Number(orders.rows[0]!.n), 1, 'exactly one order in PostgreSQL');
    } finally {
      await db.close();
    }
    const listed = structured(await callTool(A, key, sid, 'list_orders'));
    assert.equal(listed.orders[0].order_id, done.order.order_id);
    const fetched = structured(await callTool(B, key, sid, 'get_order', { order_id: done.order.order_id }));
    assert.equal(fetched.order.lines.length, 2);
  });

  test('a cart belongs to the user and business, not the session: a new session on the other instance sees it', async () => {
    const key = it.keys.demo;
    const s1 = await openSession(A, key);
    structured(await callTool(A, key, s1, 'set_active_business', { business_id: DEMO.businesses.bakery }));
    const product = structured(await callTool(A, key, s1, 'search_products', { limit: 1 })).products[0];
    structured(await callTool(A, key, s1, 'add_item_to_cart', { sku: product.sku, quantity: 1, cart_id: 'picnic' }));
    const s2 = await openSession(B, key);
    // The new session starts from the user's last active business, recorded by set_active_business.
    const cart = structured(await callTool(B, key, s2, 'view_cart', { cart_id: 'picnic' }));
    assert.equal(cart.business_id, DEMO.businesses.bakery);
    assert.deepEqual(cart.lines.map((l: { sku: string }) => l.sku), [product.sku]);
  });

  test('DELETE on one instance ends the session everywhere', async () => {
    const key = it.keys.demo;
    const sid = await openSession(A, key);
    const del = await fetch(`${B}/mcp`, { method: 'DELETE', headers: baseHeaders(key, { 'mcp-session-id': sid }) });
    assert.equal(del.status, 204);
    const res = await callTool(A, key, sid, 'list_businesses');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, -32001);
    const again = await fetch(`${A}/mcp`, { method: 'DELETE', headers: baseHeaders(key, { 'mcp-session-id': sid }) });
    assert.equal(again.status, 404);
  });

  test('the GET stream on one instance carries notifications caused by a request on the other', async () => {
    const key = it.keys.demo;
    const sid = await openSession(A, key);
    structured(await callTool(A, key, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    const abort = new AbortController();
    const stream = await fetch(`${A}/mcp`, {
      method: 'GET',
      headers: { accept: 'text/event-stream', authorization: `Bearer ${key}`, 'mcp-session-id': sid, 'mcp-protocol-version': LEGACY_VERSION },
      signal: abort.signal,
    });
    assert.equal(stream.status, 200);
    assert.match(stream.headers.get('content-type') ?? '', /text\/event-stream/);
    const reader = stream.body!.getReader();
    const product = structured(await callTool(B, key, sid, 'search_products', { limit: 1 })).products[0];
    const { cart_id } = structured(await callTool(B, key, sid, 'add_item_to_cart', { sku: product.sku, quantity: 1 }));
    let seen = '';
    const deadline = Date.now() + 5000;
    while (!seen.includes('notifications/resources/updated') && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    abort.abort();
    assert.match(seen, /"method":"notifications\/resources\/updated"/);
    assert.ok(seen.includes(`pos://carts/${cart_id}`), seen);
  });

  test('a session deleted on one instance ends its GET stream on the other', async () => {
    const key = it.keys.demo;
    const sid = await openSession(A, key);
    const stream = await fetch(`${A}/mcp`, { method: 'GET', headers: { accept: 'text/event-stream', authorization: `Bearer ${key}`, 'mcp-session-id': sid } });
    assert.equal(stream.status, 200);
    const del = await fetch(`${B}/mcp`, { method: 'DELETE', headers: baseHeaders(key, { 'mcp-session-id': sid }) });
    assert.equal(del.status, 204);
    const text = await stream.text(); // resolves only when the server ends the stream
    assert.match(text, /retry: \d+/);
  });

  test('another user presenting a valid key on someone else\'s session gets 404 and nothing', async () => {
    const sid = await openSession(A, it.keys.demo);
    const res = await callTool(B, it.keys.demo2, sid, 'view_cart');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, -32001);
    assert.doesNotMatch(res.text, /cart|COF|biz_/i);
    const del = await fetch(`${B}/mcp`, { method: 'DELETE', headers: baseHeaders(it.keys.demo2, { 'mcp-session-id': sid }) });
    assert.equal(del.status, 404);
    assert.equal((await callTool(A, it.keys.demo, sid, 'list_businesses')).status, 200, 'the owner\'s session survived');
  });

  test('tenant isolation: another tenant\'s business cannot be made active, and nothing changes', async () => {
    const sid = await openSession(A, it.keys.demo2);
    const before = structured(await callTool(B, it.keys.demo2, sid, 'get_active_business'));
    assert.equal(before.active_business.id, DEMO.businesses.books, 'a user with one business has it active by default');
    const err = toolError(await callTool(A, it.keys.demo2, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    assert.equal(err.code, 'business_not_found');
    const after = structured(await callTool(B, it.keys.demo2, sid, 'get_active_business'));
    assert.equal(after.active_business.id, DEMO.businesses.books);
  });

  test('another tenant\'s order id reads as not found', async () => {
    const s1 = await openSession(A, it.keys.demo2);
    const p = structured(await callTool(A, it.keys.demo2, s1, 'search_products', { limit: 1 })).products[0];
    structured(await callTool(B, it.keys.demo2, s1, 'add_item_to_cart', { sku: p.sku, quantity: 1 }));
    const order = structured(await callTool(A, it.keys.demo2, s1, 'checkout', {})).order;
    const s2 = await openSession(B, it.keys.demo);
    const err = toolError(await callTool(A, it.keys.demo, s2, 'get_order', { order_id: order.order_id }));
    assert.equal(err.code, 'order_not_found');
  });

  test('a user with several businesses and no choice is told to pick one', async () => {
    const fresh = await startInstances({ count: 1, state: 'memory', db: 'pglite' });
    try {
      const url = fresh.urls[0]!;
      const sid = await openSession(url, fresh.keys.demo);
      const err = toolError(await callTool(url, fresh.keys.demo, sid, 'view_cart'));
      assert.equal(err.code, 'no_active_business');
      assert.match(err.message, /set_active_business/);
    } finally {
      await fresh.stop();
    }
  });

  test('a read-only key may browse but not change the cart', async () => {
    const sid = await openSession(A, it.keys.readOnly);
    structured(await callTool(A, it.keys.readOnly, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    const p = structured(await callTool(B, it.keys.readOnly, sid, 'search_products', { limit: 1 })).products[0];
    const err = toolError(await callTool(A, it.keys.readOnly, sid, 'add_item_to_cart', { sku: p.sku, quantity: 1 }));
    assert.equal(err.code, 'insufficient_scope');
    assert.match(err.message, /pos:write/);
  });

  test('notifications get 202 and need the session like any request', async () => {
    const sid = await openSession(A, it.keys.demo);
    const ok = await post(B, { jsonrpc: '2.0', method: 'notifications/cancelled', params: { requestId: 1 } }, baseHeaders(it.keys.demo, { 'mcp-session-id': sid }));
    assert.equal(ok.status, 202);
    const unknown = await post(B, { jsonrpc: '2.0', method: 'notifications/initialized' }, baseHeaders(it.keys.demo, { 'mcp-session-id': 'nope' }));
    assert.equal(unknown.status, 404);
  });
});
