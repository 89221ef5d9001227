import assert from 'node:assert/strict';
import { it } from 'node:test';
import { migrate } from '../../src/db/migrate.js';
import { DEMO, DEMO_BUSINESSES, seedDemo } from '../../src/db/seed.js';
import { getBusinessForUser, listBusinessesForUser } from '../../src/pos/business-repo.js';
import { forEachDbBackend } from '../helpers/db-backends.js';
import { countRows, stockOf } from '../helpers/db-fixtures.js';

forEachDbBackend('seedDemo', (ctx) => {
  it('gives demo-user two businesses and demo-user-2 only the third, as owners', async () => {
    const db = ctx.db();
    assert.deepEqual(await listBusinessesForUser(db, DEMO.users.demo), [
      { id: DEMO.businesses.coffee, name: 'Corner Coffee', currency: 'USD', role: 'owner' },
      { id: DEMO.businesses.bakery, name: 'Daily Bread Bakery', currency: 'EUR', role: 'owner' },
    ]);
    assert.deepEqual(await listBusinessesForUser(db, DEMO.users.demo2), [
      { id: DEMO.businesses.books, name: 'Page Turner Books', currency: 'GBP', role: 'owner' },
    ]);
    assert.equal(await getBusinessForUser(db, DEMO.users.demo, DEMO.businesses.books), null);
    assert.equal(await getBusinessForUser(db, DEMO.users.demo2, DEMO.businesses.coffee), null);
    const { rows } = await db.query<{ display_name: string }>('SELECT display_name FROM users WHERE id = $1', [DEMO.users.demo]);
    assert.equal(rows[0]?.display_name, 'Demo User');
  });

  it('stocks every business with at least 10 products, one sold out and one with 3 left', async () => {
    const db = ctx.db();
    for (const [key, id] of Object.entries(DEMO.businesses) as [keyof typeof DEMO.businesses, string][]) {
      const { rows } = await db.query<{ sku: string; stock: number; currency: string; price_minor: number }>(
        'SELECT p.sku, p.stock, p.currency, p.price_minor FROM products p WHERE p.business_id = $1 AND p.active',
        [id],
      );
      assert.ok(rows.length >= 10, `${id} has ${rows.length} products`);
      const business = DEMO_BUSINESSES.find((b) => b.id === id)!;
      for (const row of rows) {
        assert.equal(row.currency, business.currency, `${row.sku} is priced in ${business.currency}`);
        assert.ok(Number(row.price_minor) > 0);
        assert.ok(Number(row.stock) === 0 || Number(row.stock) === DEMO.lowStock || (row.stock >= 5 && row.stock <= 200), `${row.sku} stock ${row.stock}`);
      }
      assert.equal(await stockOf(db, id, DEMO.products[key].outOfStock), 0);
      assert.equal(await stockOf(db, id, DEMO.products[key].lowStock), DEMO.lowStock);
    }
  });

  it('is idempotent and never resets the stock of existing products', async () => {
    const db = ctx.db();
    const counts = async () => ({
      users: await countRows(db, 'SELECT 1 FROM users'),
      businesses: await countRows(db, 'SELECT 1 FROM businesses'),
      memberships: await countRows(db, 'SELECT 1 FROM memberships'),
      products: await countRows(db, 'SELECT 1 FROM products'),
    });
    const before = await counts();
    await db.query(`UPDATE products SET stock = 7 WHERE business_id = $1 AND sku = 'COF-LATTE-12'`, [DEMO.businesses.coffee]);
    await seedDemo(db);
    await seedDemo(db);
    assert.deepEqual(await counts(), before);
    assert.equal(await stockOf(db, DEMO.businesses.coffee, 'COF-LATTE-12'), 7, 'stock left as it was');
  });

  it('can run from two processes at once', async () => {
    const db = await ctx.freshDb();
    await migrate(db);
    const other = await ctx.openSibling(db);
    await Promise.all([seedDemo(db), seedDemo(other), seedDemo(db), seedDemo(other)]);
    const expectedProducts = DEMO_BUSINESSES.reduce((n, b) => n + b.products.length, 0);
    assert.equal(await countRows(db, 'SELECT 1 FROM products'), expectedProducts);
    assert.equal(await countRows(db, 'SELECT 1 FROM memberships'), 3);
    assert.equal(await countRows(db, 'SELECT 1 FROM users'), 2);
  });
});
