import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO } from '../../src/db/seed.js';
import { countBy, pool, servedBy, startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { callTool, callToolModern, openSession, structured, toolError, type RpcResponse } from '../helpers/mcp-http.js';

/** Many requests at once, spread by the balancer over three processes that share nothing but Redis and PostgreSQL. */

const COFFEE = DEMO.businesses.coffee;

describe('cluster: concurrency across three instances', { timeout: 85_000 }, () => {
  let c: TestCluster;
  let key: string;
  let sid: string;
  before(async () => {
    c = await startTestCluster({ env: { CART_MAX_LINE_QUANTITY: '100000' } });
    key = c.demoKey;
    sid = await openSession(c.url, key);
    structured(await callTool(c.url, key, sid, 'set_active_business', { business_id: COFFEE }));
  });
  after(() => c?.stopAll());

  test('1,000 add_item_to_cart calls on one cart, 50 in flight over 3 instances, leave exactly quantity 1000', async () => {
    const calls = 1000;
    const inFlight = 50;
    const sku = 'COF-ESPRESSO-DBL'; // each call asks for 1, well within its stock; the line may exceed stock (a warning only)
    const started = Date.now();
    const served = await pool(calls, inFlight, async () => {
      const res = await callTool(c.url, key, sid, 'add_item_to_cart', { sku, quantity: 1, cart_id: 'load-1000' });
      structured(res);
      return servedBy(res);
    });
    const ms = Date.now() - started;
    const cart = structured(await callTool(c.url, key, sid, 'view_cart', { cart_id: 'load-1000' }));
    const line = cart.lines.find((l: { sku: string }) => l.sku === sku);
    const perInstance = countBy(served, (s) => s);
    console.log(
      `${calls} add_item_to_cart calls (${inFlight} in flight) in ${ms} ms (${Math.round((calls * 1000) / ms)}/s), ` +
        `by instance ${JSON.stringify(perInstance)}: final quantity ${line?.quantity}`,
    );
    assert.equal(line?.quantity, calls);
    assert.deepEqual(Object.keys(perInstance).sort(), ['i1', 'i2', 'i3']);
    for (const n of Object.values(perInstance)) assert.ok(n >= 300, `round robin spreads evenly: ${JSON.stringify(perInstance)}`);
  });

  test('set_active_business answered by one instance is seen by the very next request on every other instance', async () => {
    const bakery = DEMO.businesses.bakery;
    const rounds = [bakery, COFFEE, bakery, COFFEE, bakery, COFFEE];
    for (const [era, set, get] of [
      ['legacy', (b: string) => callTool(c.url, key, sid, 'set_active_business', { business_id: b }), () => callTool(c.url, key, sid, 'get_active_business')],
      ['modern', (b: string) => callToolModern(c.url, key, 'set_active_business', { business_id: b }), () => callToolModern(c.url, key, 'get_active_business')],
    ] as const) {
      const writers = new Set<string>();
      for (const business of rounds) {
        const setRes = await set(business);
        structured(setRes);
        const writer = servedBy(setRes);
        const readers: string[] = [];
        for (let k = 0; k < 2; k++) {
          const res = await get();
          const got = structured(res);
          const reader = servedBy(res);
          readers.push(reader);
          const active = got.active_business?.id;
          assert.equal(active, business, `${era}: ${reader} sees the business ${writer} just set: ${JSON.stringify(got)}`);
        }
        assert.deepEqual([writer, ...readers].sort(), ['i1', 'i2', 'i3'], `${era}: set on ${writer}, then read on the two others`);
        writers.add(writer);
        // One more request shifts the rotation, so the next round's write lands on another instance.
        assert.equal(structured(await get()).active_business?.id, business);
      }
      assert.equal(writers.size, 3, `${era}: every instance wrote, and the two others read it at once`);
    }
  });

  test('20 concurrent checkouts competing for a product with stock 5 sell exactly 5 and never go below zero', async () => {
    const sku = 'COF-CROISSANT';
    structured(await callTool(c.url, key, sid, 'set_active_business', { business_id: COFFEE }));
    await c.db.query('UPDATE products SET stock = 5 WHERE business_id = $1 AND sku = $2', [COFFEE, sku]);
    const carts = Array.from({ length: 20 }, (_, k) => `race-${k}`);
    await pool(carts.length, 10, async (k) => structured(await callTool(c.url, key, sid, 'add_item_to_cart', { sku, quantity: 1, cart_id: carts[k] })));

    const results = await Promise.all(
      carts.map((cart) => callTool(c.url, key, sid, 'checkout', { cart_id: cart, idempotency_key: `race-${cart}-${Date.now()}` })),
    );
    const outcome = (r: RpcResponse) => (r.status === 200 && r.body?.result && !r.body.result.isError ? 'sold' : r.status === 200 ? toolError(r).code : `http ${r.status}`);
    const outcomes = countBy(results, outcome);
    const { rows } = await c.db.query<{ stock: number }>('SELECT stock FROM products WHERE business_id = $1 AND sku = $2', [COFFEE, sku]);
    const { rows: sold } = await c.db.query<{ n: string | number }>(
      `SELECT COALESCE(SUM(l.quantity), 0) AS n FROM order_lines l JOIN orders o ON o.id = l.order_id
       WHERE o.business_id = $1 AND l.sku = $2 AND o.cart_handle LIKE 'race-%'`,
      [COFFEE, sku],
    );
    console.log(
      `20 concurrent checkouts for stock 5 over ${JSON.stringify(countBy(results, (r) => r.headers.get('x-flowpos-upstream') ?? 'none'))}: ` +
        `${JSON.stringify(outcomes)}; units sold ${sold[0]!.n}, stock left ${rows[0]!.stock}`,
    );
    assert.deepEqual(outcomes, { sold: 5, insufficient_stock: 15 });
    assert.equal(Number(sold[0]!.n), 5);
    assert.equal(rows[0]!.stock, 0);
  });

  test('10 concurrent checkouts with the same idempotency key create exactly one order', async () => {
    const sku = 'COF-LATTE-16';
    structured(await callTool(c.url, key, sid, 'set_active_business', { business_id: COFFEE }));
    const before = (await c.db.query<{ stock: number }>('SELECT stock FROM products WHERE business_id = $1 AND sku = $2', [COFFEE, sku])).rows[0]!.stock;
    structured(await callTool(c.url, key, sid, 'add_item_to_cart', { sku, quantity: 2, cart_id: 'same-key' }));
    const idem = `same-key-${Date.now()}`;
    const results = await Promise.all(Array.from({ length: 10 }, () => callTool(c.url, key, sid, 'checkout', { cart_id: 'same-key', idempotency_key: idem })));
    const placed = results.map((r) => structured(r) as { order: { order_id: string }; created: boolean });
    const ids = new Set(placed.map((p) => p.order.order_id));
    const { rows } = await c.db.query<{ n: string | number }>('SELECT COUNT(*) AS n FROM orders WHERE idempotency_key = $1', [idem]);
    const after = (await c.db.query<{ stock: number }>('SELECT stock FROM products WHERE business_id = $1 AND sku = $2', [COFFEE, sku])).rows[0]!.stock;
    console.log(
      `10 concurrent checkouts with one key over ${JSON.stringify(countBy(results, servedBy))}: ` +
        `${ids.size} distinct order id(s), created=true ${placed.filter((p) => p.created).length} time(s), ${rows[0]!.n} order row(s), stock ${before} -> ${after}`,
    );
    assert.equal(ids.size, 1, 'every answer names the same order');
    assert.equal(placed.filter((p) => p.created).length, 1, 'exactly one answer says it created the order');
    assert.equal(Number(rows[0]!.n), 1);
    assert.equal(after, before - 2, 'stock was taken once');
  });
});
