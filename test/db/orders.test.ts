import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Db } from '../../src/db/db.js';
import { DEMO } from '../../src/db/seed.js';
import {
  BusinessNotFoundError,
  InsufficientStockError,
  InvalidOrderError,
  OrderError,
  UnknownProductError,
} from '../../src/pos/order-errors.js';
import { findOrderByKey, getOrder, listOrders, placeOrder, type PlaceOrderInput } from '../../src/pos/order-repo.js';
import { forEachDbBackend } from '../helpers/db-backends.js';
import { addProduct, addUser, countRows, stockOf, uniqueToken } from '../helpers/db-fixtures.js';

const coffee = DEMO.businesses.coffee;

forEachDbBackend('orders', (ctx) => {
  describe('placeOrder', () => {
    /** A user of their own per test, so order lists and keys never collide between tests. */
    const newBuyer = () => addUser(ctx.db(), [{ businessId: coffee }]);
    const order = (userId: string, lines: PlaceOrderInput['lines'], idempotencyKey = `key-${uniqueToken()}`, db: Db = ctx.db()) =>
      placeOrder(db, { businessId: coffee, userId, idempotencyKey, cartHandle: 'default', lines });
    const ordersOf = (userId: string) => countRows(ctx.db(), 'SELECT 1 FROM orders WHERE user_id = $1', [userId]);

    it('places an order: decrements stock, snapshots name and price, totals the lines', async () => {
      const db = ctx.db();
      const user = await newBuyer();
      const a = await addProduct(db, coffee, { name: 'Oat Latte', priceMinor: 475, stock: 10 });
      const b = await addProduct(db, coffee, { name: 'Scone', priceMinor: 300, stock: 4 });

      const { order: placed, created } = await order(user, [
        { sku: a, quantity: 2 },
        { sku: b, quantity: 4 },
      ], 'checkout-1');
      assert.equal(created, true);
      assert.match(placed.id, /^ord_[a-z2-7]{20}$/);
      assert.equal(placed.businessId, coffee);
      assert.equal(placed.status, 'placed');
      assert.equal(placed.currency, 'USD');
      assert.equal(placed.idempotencyKey, 'checkout-1');
      assert.equal(placed.cartHandle, 'default');
      assert.ok(Math.abs(Date.parse(placed.createdAt) - Date.now()) < 60_000);
      assert.deepEqual(placed.lines, [
        { lineNo: 1, sku: a, name: 'Oat Latte', unitPriceMinor: 475, quantity: 2, lineTotalMinor: 950 },
        { lineNo: 2, sku: b, name: 'Scone', unitPriceMinor: 300, quantity: 4, lineTotalMinor: 1200 },
      ]);
      assert.equal(placed.totalMinor, 2150);
      assert.equal(await stockOf(db, coffee, a), 8);
      assert.equal(await stockOf(db, coffee, b), 0, 'the last units can be bought');

      // What was stored is what was returned, and later catalog edits do not rewrite history.
      await db.query('UPDATE products SET name = $3, price_minor = 999 WHERE business_id = $1 AND sku = $2', [coffee, a, 'Renamed']);
      assert.deepEqual(await getOrder(db, user, placed.id), placed);
      assert.deepEqual(await findOrderByKey(db, coffee, user, 'checkout-1'), placed);
    });

    it('refuses insufficient stock, reporting every short line, and changes nothing', async () => {
      const db = ctx.db();
      const user = await newBuyer();
      const plenty = await addProduct(db, coffee, { stock: 50 });
      const short1 = await addProduct(db, coffee, { name: 'Short One', stock: 2 });
      const short2 = await addProduct(db, coffee, { name: 'Short Two', stock: 1 });

      await assert.rejects(
        order(user, [
          { sku: plenty, quantity: 5 },
          { sku: short1, quantity: 3 },
          { sku: short2, quantity: 2 },
        ], 'short-key'),
        (err: unknown) => {
          assert.ok(err instanceof InsufficientStockError);
          assert.ok(err instanceof OrderError);
          assert.equal(err.code, 'insufficient_stock');
          assert.deepEqual(err.lines, [
            { sku: short1, name: 'Short One', requested: 3, available: 2 },
            { sku: short2, name: 'Short Two', requested: 2, available: 1 },
          ]);
          return true;
        },
      );
      assert.deepEqual([await stockOf(db, coffee, plenty), await stockOf(db, coffee, short1), await stockOf(db, coffee, short2)], [50, 2, 1]);
      assert.equal(await ordersOf(user), 0);
      assert.equal(await findOrderByKey(db, coffee, user, 'short-key'), null, 'a refused attempt does not use up the key');

      await db.query('UPDATE products SET stock = 10 WHERE business_id = $1 AND sku = ANY($2::text[])', [coffee, [short1, short2]]);
      const retry = await order(user, [{ sku: short1, quantity: 3 }], 'short-key');
      assert.equal(retry.created, true);
    });

    it('refuses the seeded sold-out product with available 0', async () => {
      await assert.rejects(order(await newBuyer(), [{ sku: DEMO.products.coffee.outOfStock, quantity: 1 }]), (err: unknown) => {
        assert.ok(err instanceof InsufficientStockError);
        assert.deepEqual(
          err.lines.map((l) => [l.sku, l.available]),
          [[DEMO.products.coffee.outOfStock, 0]],
        );
        return true;
      });
    });

    it('refuses unknown, inactive and other businesses’ SKUs, listing them all', async () => {
      const db = ctx.db();
      const user = await newBuyer();
      const fine = await addProduct(db, coffee, { stock: 5 });
      const inactive = await addProduct(db, coffee, { stock: 5, active: false });
      await assert.rejects(
        order(user, [
          { sku: fine, quantity: 1 },
          { sku: 'NO-SUCH-SKU', quantity: 1 },
          { sku: inactive, quantity: 1 },
          { sku: 'BAK-BAGUETTE', quantity: 1 },
        ]),
        (err: unknown) => {
          assert.ok(err instanceof UnknownProductError);
          assert.deepEqual(err.skus, ['NO-SUCH-SKU', inactive, 'BAK-BAGUETTE']);
          return true;
        },
      );
      assert.equal(await stockOf(db, coffee, fine), 5);
      assert.equal(await stockOf(db, DEMO.businesses.bakery, 'BAK-BAGUETTE'), 150);
      assert.equal(await ordersOf(user), 0);
    });

    it('is idempotent: a retry returns the same order and takes the stock once', async () => {
      const db = ctx.db();
      const user = await newBuyer();
      const sku = await addProduct(db, coffee, { stock: 10 });
      const first = await order(user, [{ sku, quantity: 3 }], 'retry-me');
      const second = await order(user, [{ sku, quantity: 3 }], 'retry-me');
      const third = await order(user, [{ sku, quantity: 7 }], 'retry-me');
      assert.equal(first.created, true);
      assert.equal(second.created, false);
      assert.equal(third.created, false, 'the key wins even if the lines differ');
      assert.deepEqual(second.order, first.order);
      assert.deepEqual(third.order, first.order);
      assert.equal(await stockOf(db, coffee, sku), 7);
      assert.equal(await ordersOf(user), 1);

      // Keys are per user and business: the same key elsewhere is a different order.
      const other = await newBuyer();
      const elsewhere = await order(other, [{ sku, quantity: 1 }], 'retry-me');
      assert.equal(elsewhere.created, true);
      assert.notEqual(elsewhere.order.id, first.order.id);
      assert.equal(await stockOf(db, coffee, sku), 6);
    });

    it('merges repeated SKUs into one line', async () => {
      const user = await newBuyer();
      const sku = await addProduct(ctx.db(), coffee, { stock: 10, priceMinor: 250 });
      const { order: placed } = await order(user, [
        { sku, quantity: 2 },
        { sku, quantity: 3 },
      ]);
      assert.deepEqual(
        placed.lines.map((l) => [l.sku, l.quantity, l.lineTotalMinor]),
        [[sku, 5, 1250]],
      );
      assert.equal(await stockOf(ctx.db(), coffee, sku), 5);
    });

    it('rejects malformed requests before touching the database', async () => {
      const user = await newBuyer();
      const sku = await addProduct(ctx.db(), coffee, { stock: 10 });
      for (const lines of [[], [{ sku, quantity: 0 }], [{ sku, quantity: -1 }], [{ sku, quantity: 1.5 }], [{ sku, quantity: Number.NaN }]]) {
        await assert.rejects(order(user, lines), InvalidOrderError, JSON.stringify(lines));
      }
      await assert.rejects(order(user, [{ sku, quantity: 1 }], ''), InvalidOrderError);
      assert.equal(await stockOf(ctx.db(), coffee, sku), 10);
      assert.equal(await ordersOf(user), 0);
    });

    it('refuses a business the user does not belong to, or that does not exist, the same way', async () => {
      const sku = DEMO.products.books.lowStock;
      for (const businessId of [DEMO.businesses.books, 'biz_does_not_exist']) {
        await assert.rejects(
          placeOrder(ctx.db(), { businessId, userId: DEMO.users.demo, idempotencyKey: `k-${uniqueToken()}`, lines: [{ sku, quantity: 1 }] }),
          (err: unknown) => err instanceof BusinessNotFoundError && err.code === 'business_not_found',
        );
      }
      assert.equal(await stockOf(ctx.db(), DEMO.businesses.books, sku), DEMO.lowStock);
    });

    it('yields one order when the same key arrives concurrently from two instances', async () => {
      const db = ctx.db();
      const sibling = await ctx.openSibling();
      const user = await newBuyer();
      const sku = await addProduct(db, coffee, { stock: 100 });
      const attempts = await Promise.all(
        Array.from({ length: 8 }, (_, i) => order(user, [{ sku, quantity: 2 }], 'double-click', i % 2 ? sibling : db)),
      );
      assert.equal(attempts.filter((a) => a.created).length, 1, 'exactly one attempt created the order');
      assert.equal(new Set(attempts.map((a) => a.order.id)).size, 1, 'all attempts answer with that order');
      assert.deepEqual(attempts.find((a) => !a.created)?.order, attempts.find((a) => a.created)?.order);
      assert.equal(await stockOf(db, coffee, sku), 98, 'stock taken once');
      assert.equal(await ordersOf(user), 1);
    });

    it('never oversells under concurrency: exactly as many orders succeed as the stock allows', async () => {
      const db = ctx.db();
      const sibling = await ctx.openSibling();
      const user = await newBuyer();
      const sku = await addProduct(db, coffee, { stock: 10 });
      const results = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => order(user, [{ sku, quantity: 3 }], `race-${i}`, i % 2 ? sibling : db)));
      const ok = results.filter((r) => r.status === 'fulfilled');
      const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
      assert.equal(ok.length, 3, '10 units cover three orders of 3');
      assert.equal(refused.length, 9);
      for (const r of refused) assert.ok(r.reason instanceof InsufficientStockError, String(r.reason));
      assert.equal(await stockOf(db, coffee, sku), 1);
      assert.equal(await ordersOf(user), 3);
    });

    it('does not deadlock when concurrent orders list the same products in opposite orders', async () => {
      const db = ctx.db();
      const sibling = await ctx.openSibling();
      const user = await newBuyer();
      const a = await addProduct(db, coffee, { stock: 100 });
      const b = await addProduct(db, coffee, { stock: 100 });
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          order(
            user,
            i % 2
              ? [
                  { sku: a, quantity: 1 },
                  { sku: b, quantity: 1 },
                ]
              : [
                  { sku: b, quantity: 1 },
                  { sku: a, quantity: 1 },
                ],
            `cross-${i}`,
            i % 3 ? sibling : db,
          ),
        ),
      );
      assert.equal(results.filter((r) => r.created).length, 10);
      assert.deepEqual([await stockOf(db, coffee, a), await stockOf(db, coffee, b)], [90, 90]);
    });
  });

  describe('order history', () => {
    it('lists a user’s orders in a business newest first, with line counts and totals', async () => {
      const db = ctx.db();
      const user = await addUser(db, [{ businessId: coffee }, { businessId: DEMO.businesses.bakery }]);
      const sku = await addProduct(db, coffee, { stock: 100, priceMinor: 200 });
      const sku2 = await addProduct(db, coffee, { stock: 100, priceMinor: 50 });
      const placed = [];
      for (let i = 1; i <= 3; i++) {
        const lines = i === 2 ? [{ sku, quantity: i }, { sku: sku2, quantity: 1 }] : [{ sku, quantity: i }];
        placed.push((await placeOrder(db, { businessId: coffee, userId: user, idempotencyKey: `h-${i}`, lines })).order);
      }
      await placeOrder(db, { businessId: DEMO.businesses.bakery, userId: user, idempotencyKey: 'h-1', lines: [{ sku: 'BAK-BAGUETTE', quantity: 1 }] });

      const list = await listOrders(db, coffee, user, 10);
      assert.deepEqual(
        list.map((o) => [o.id, o.lineCount, o.totalMinor]),
        [
          [placed[2]!.id, 1, 600],
          [placed[1]!.id, 2, 450],
          [placed[0]!.id, 1, 200],
        ],
      );
      const { lines: _lines, ...summary } = placed[2]!;
      assert.deepEqual(list[0], { ...summary, lineCount: 1 });
      assert.deepEqual((await listOrders(db, coffee, user, 2)).map((o) => o.id), [placed[2]!.id, placed[1]!.id]);
      assert.equal((await listOrders(db, DEMO.businesses.bakery, user, 10)).length, 1);
      assert.equal((await listOrders(db, DEMO.businesses.bakery, user, 10))[0]!.currency, 'EUR');
    });

    it('keeps orders private to the user who placed them', async () => {
      const db = ctx.db();
      const owner = await addUser(db, [{ businessId: coffee }]);
      const colleague = await addUser(db, [{ businessId: coffee }]);
      const sku = await addProduct(db, coffee, { stock: 10 });
      const { order } = await placeOrder(db, { businessId: coffee, userId: owner, idempotencyKey: 'mine', lines: [{ sku, quantity: 1 }] });

      assert.equal((await getOrder(db, owner, order.id))?.id, order.id);
      assert.equal(await getOrder(db, colleague, order.id), null, 'same business, other user');
      assert.equal(await getOrder(db, DEMO.users.demo2, order.id), null, 'other tenant');
      assert.equal(await getOrder(db, owner, 'ord_doesnotexist2345678'), null);
      assert.deepEqual(await listOrders(db, coffee, colleague, 10), []);
      assert.deepEqual(await listOrders(db, coffee, DEMO.users.demo2, 10), []);
      assert.equal(await findOrderByKey(db, coffee, colleague, 'mine'), null);
    });

    it('hides orders once the user leaves the business', async () => {
      const db = ctx.db();
      const user = await addUser(db, [{ businessId: coffee }]);
      const sku = await addProduct(db, coffee, { stock: 10 });
      const { order } = await placeOrder(db, { businessId: coffee, userId: user, idempotencyKey: 'leaving', lines: [{ sku, quantity: 1 }] });
      await db.query('DELETE FROM memberships WHERE user_id = $1 AND business_id = $2', [user, coffee]);
      assert.equal(await getOrder(db, user, order.id), null);
      assert.deepEqual(await listOrders(db, coffee, user, 10), []);
      assert.equal(await findOrderByKey(db, coffee, user, 'leaving'), null);
      await assert.rejects(
        placeOrder(db, { businessId: coffee, userId: user, idempotencyKey: 'leaving', lines: [{ sku, quantity: 1 }] }),
        BusinessNotFoundError,
      );
    });
  });
});
