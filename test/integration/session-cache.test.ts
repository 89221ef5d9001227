import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createClient } from 'redis';
import { addMembership, removeMembership } from '../../src/db/memberships-repo.js';
import { DEMO } from '../../src/db/seed.js';
import { announceMembershipChange } from '../../src/state/announce-change.js';
import { openSharedDb, startInstances, type Instances } from '../helpers/instances.js';
import { baseHeaders, callTool, openSession, structured, toolError } from '../helpers/mcp-http.js';

/**
 * The per-instance cache of connected session servers never decides anything the store has not: a session deleted,
 * expired, changed or asked for by someone else on another instance is seen on the next request to the instance
 * that caches it.
 */
describe('cached session servers across two instances', () => {
  let it: Instances;
  let A: string;
  let B: string;
  let redis: ReturnType<typeof createClient>;
  const sessionKey = (sid: string) => `${it.servers[0]!.config.keyPrefix}session:${sid}`;
  const cachedOnA = (sid: string) => it.servers[0]!.legacy.cachesServerFor(sid);

  /** A session of the demo user with a server cached on A (the second request of a session on an instance builds it). */
  async function cachedSession(key = it.keys.demo): Promise<string> {
    const sid = await openSession(B, key);
    structured(await callTool(A, key, sid, 'list_businesses'));
    assert.equal(cachedOnA(sid), false, 'one request of a session gets a one-off server');
    structured(await callTool(A, key, sid, 'list_businesses'));
    assert.equal(cachedOnA(sid), true, 'the second request on A cached a server');
    return sid;
  }

  before(async () => {
    it = await startInstances({ count: 2 });
    [A, B] = it.urls as [string, string];
    redis = createClient({ url: it.redisUrl! });
    await redis.connect();
  });
  after(async () => {
    await redis?.quit().catch(() => {});
    await it.stop();
  });

  test('a cached server serves the session on later requests, alternating with the other instance', async () => {
    const sid = await cachedSession();
    structured(await callTool(A, it.keys.demo, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    const product = structured(await callTool(B, it.keys.demo, sid, 'search_products', { limit: 1 })).products[0];
    const first = structured(await callTool(A, it.keys.demo, sid, 'add_item_to_cart', { sku: product.sku, quantity: 1, cart_id: 'cached-1' }));
    const second = structured(await callTool(B, it.keys.demo, sid, 'add_item_to_cart', { sku: product.sku, quantity: 2, cart_id: 'cached-1' }));
    const third = structured(await callTool(A, it.keys.demo, sid, 'add_item_to_cart', { sku: product.sku, quantity: 3, cart_id: 'cached-1' }));
    assert.deepEqual([first.lines[0].quantity, second.lines[0].quantity, third.lines[0].quantity], [1, 3, 6]);
    assert.equal(cachedOnA(sid), true);
  });

  test('DELETE on B, then a request on A: 404, and A drops its server', async () => {
    const sid = await cachedSession();
    const del = await fetch(`${B}/mcp`, { method: 'DELETE', headers: baseHeaders(it.keys.demo, { 'mcp-session-id': sid }) });
    assert.equal(del.status, 204);
    const res = await callTool(A, it.keys.demo, sid, 'list_businesses');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, -32001);
    assert.equal(cachedOnA(sid), false);
  });

  test('DELETE on the caching instance drops its server at once', async () => {
    const sid = await cachedSession();
    const del = await fetch(`${A}/mcp`, { method: 'DELETE', headers: baseHeaders(it.keys.demo, { 'mcp-session-id': sid }) });
    assert.equal(del.status, 204);
    assert.equal(cachedOnA(sid), false);
    assert.equal((await callTool(A, it.keys.demo, sid, 'list_businesses')).status, 404);
  });

  test('set_active_business on B is what A acts on at its next request', async () => {
    const sid = await cachedSession();
    structured(await callTool(A, it.keys.demo, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    assert.equal(structured(await callTool(A, it.keys.demo, sid, 'get_active_business')).active_business.id, DEMO.businesses.coffee);
    structured(await callTool(B, it.keys.demo, sid, 'set_active_business', { business_id: DEMO.businesses.bakery }));
    assert.equal(structured(await callTool(A, it.keys.demo, sid, 'get_active_business')).active_business.id, DEMO.businesses.bakery);
    const cart = structured(await callTool(A, it.keys.demo, sid, 'view_cart', { cart_id: 'switch' }));
    assert.equal(cart.business_id, DEMO.businesses.bakery, 'the cart tools act on the new business too');
    assert.equal(cachedOnA(sid), true, 'the same cached server, told the new business');
  });

  test('an expired session is not served from the cache', async () => {
    const sid = await cachedSession();
    // What the idle TTL does when it runs out, made to happen now.
    await redis.pExpire(sessionKey(sid), 1);
    while ((await redis.exists(sessionKey(sid))) === 1) await new Promise((r) => setTimeout(r, 5));
    const res = await callTool(A, it.keys.demo, sid, 'list_businesses');
    assert.equal(res.status, 404);
    assert.equal(cachedOnA(sid), false);
  });

  test("another user's key on a cached session gets 404 and nothing; the owner's server stays", async () => {
    const sid = await cachedSession();
    const res = await callTool(A, it.keys.demo2, sid, 'view_cart');
    assert.equal(res.status, 404);
    assert.equal(res.body.error.code, -32001);
    assert.doesNotMatch(res.text, /cart|COF|biz_/i);
    assert.equal(cachedOnA(sid), true);
    assert.equal((await callTool(A, it.keys.demo, sid, 'list_businesses')).status, 200);
  });

  test("each request's own credential decides, not the one the server was cached with", async () => {
    const sid = await cachedSession(it.keys.demo);
    structured(await callTool(A, it.keys.demo, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    const product = structured(await callTool(A, it.keys.demo, sid, 'search_products', { limit: 1 })).products[0];
    // The same user's read-only key on the session whose server was built for a read-write key.
    const err = toolError(await callTool(A, it.keys.readOnly, sid, 'add_item_to_cart', { sku: product.sku, quantity: 1 }));
    assert.equal(err.code, 'insufficient_scope');
    structured(await callTool(A, it.keys.demo, sid, 'add_item_to_cart', { sku: product.sku, quantity: 1, cart_id: 'scopes' }));
  });

  test('concurrent requests of one cached session on one instance are all answered', async () => {
    const sid = await cachedSession();
    structured(await callTool(A, it.keys.demo, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    const replies = await Promise.all(Array.from({ length: 8 }, () => callTool(A, it.keys.demo, sid, 'get_active_business')));
    for (const r of replies) assert.equal(structured(r).active_business.id, DEMO.businesses.coffee);
    assert.equal(cachedOnA(sid), true);
  });

  test('stock taken by a checkout on B is what A checks against at its next cart change', async () => {
    const sid = await cachedSession();
    structured(await callTool(A, it.keys.demo, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    const sku = 'COF-LATTE-12';
    const before = structured(await callTool(A, it.keys.demo, sid, 'add_item_to_cart', { sku, quantity: 1, cart_id: 'stock-a' })).lines[0].available_stock;
    // Read again on A: the row A keeps now.
    assert.equal(structured(await callTool(A, it.keys.demo, sid, 'add_item_to_cart', { sku, quantity: 1, cart_id: 'stock-a' })).lines[0].available_stock, before);
    const other = await openSession(B, it.keys.demo);
    structured(await callTool(B, it.keys.demo, other, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    structured(await callTool(B, it.keys.demo, other, 'add_item_to_cart', { sku, quantity: 3, cart_id: 'stock-b' }));
    assert.equal(structured(await callTool(B, it.keys.demo, other, 'checkout', { cart_id: 'stock-b', idempotency_key: `stock-${sid}` })).created, true);
    const after = structured(await callTool(A, it.keys.demo, sid, 'add_item_to_cart', { sku, quantity: 1, cart_id: 'stock-a' })).lines[0].available_stock;
    assert.equal(after, before - 3);
  });

  test('a membership removed by `flowpos-mcp member remove` is seen by the next request on every instance', async () => {
    const sid = await cachedSession();
    const config = it.servers[0]!.config;
    const db = await openSharedDb(it.databaseUrl!);
    const ids = async (url: string) => structured(await callTool(url, it.keys.demo, sid, 'list_businesses')).businesses.map((b: { id: string }) => b.id).sort();
    try {
      assert.deepEqual(await ids(A), [DEMO.businesses.bakery, DEMO.businesses.coffee].sort());
      assert.deepEqual(await ids(B), [DEMO.businesses.bakery, DEMO.businesses.coffee].sort());
      // What the command does: the database row, then the version every instance reads.
      assert.equal(await removeMembership(db, { userId: DEMO.users.demo, businessId: DEMO.businesses.bakery }), true);
      await announceMembershipChange(config, DEMO.users.demo);
      assert.deepEqual(await ids(A), [DEMO.businesses.coffee]);
      assert.deepEqual(await ids(B), [DEMO.businesses.coffee]);
      const err = toolError(await callTool(A, it.keys.demo, sid, 'set_active_business', { business_id: DEMO.businesses.bakery }));
      assert.equal(err.code, 'business_not_found');
    } finally {
      await addMembership(db, { userId: DEMO.users.demo, businessId: DEMO.businesses.bakery, role: 'owner' });
      await announceMembershipChange(config, DEMO.users.demo);
      await db.close();
    }
    assert.deepEqual(await ids(A), [DEMO.businesses.bakery, DEMO.businesses.coffee].sort(), 'and an added one too');
  });
});
