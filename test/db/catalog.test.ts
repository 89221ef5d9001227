import assert from 'node:assert/strict';
import { before, it } from 'node:test';
import { DEMO } from '../../src/db/seed.js';
import { escapeLike, getProduct, getProducts, searchProducts, suggestSkus } from '../../src/pos/catalog-repo.js';
import { forEachDbBackend } from '../helpers/db-backends.js';
import { addBusiness, addProduct, countRows } from '../helpers/db-fixtures.js';

forEachDbBackend('catalog search', (ctx) => {
  // A business of its own, so the fixtures below are the whole catalog.
  let shop: string;
  const search = (query: string | undefined, limit = 50, offset = 0) =>
    searchProducts(ctx.db(), shop, { ...(query !== undefined ? { query } : {}), limit, offset });
  const skusOf = async (query: string) => (await search(query)).products.map((p) => p.sku);

  before(async () => {
    const db = ctx.db();
    shop = await addBusiness(db, { name: 'Odd Names Emporium', currency: 'USD', members: [{ userId: DEMO.users.demo }] });
    const fixtures: [string, string, string][] = [
      ['PCT-1', '100% Arabica Blend', 'Single origin.'],
      ['UND_1', 'Snake_case Mug', 'For developers.'],
      ['BSL-1', 'Back\\slash Tee', 'Cotton.'],
      ['QUO-1', `O'Brien's "Famous" Scone`, 'With clotted cream.'],
      ['UNI-1', 'Crème Brûlée', 'Caramelised sugar crust.'],
      ['UNI-2', 'ÉCLAIR GÉANT', 'Très grand.'],
      ['EMO-1', 'Coffee Mug ☕', 'Holds 350 ml.'],
      ['JPN-1', '抹茶ラテ', 'Matcha latte.'],
      ['PLAIN-1', 'Plain Bagel', 'Nothing special: 10 percent off on Mondays.'],
      ['abc-lower', 'lowercase sku item', 'Mixed case SKU.'],
    ];
    for (const [sku, name, description] of fixtures) await addProduct(db, shop, { sku, name, description, stock: 10 });
    await addProduct(db, shop, { sku: 'GONE-1', name: 'Discontinued 100% Arabica', description: 'No longer sold.', stock: 50, active: false });
  });

  it('without a query lists every active product, ordered by name case-insensitively then SKU', async () => {
    const { products, total } = await search(undefined);
    assert.equal(total, 10);
    assert.equal(products.length, 10);
    assert.ok(!products.some((p) => p.sku === 'GONE-1'), 'inactive products are hidden');
    const names = products.map((p) => p.name);
    assert.deepEqual(names.slice(0, 3), ['100% Arabica Blend', 'Back\\slash Tee', 'Coffee Mug ☕']);
    assert.ok(names.indexOf('lowercase sku item') < names.indexOf("O'Brien's \"Famous\" Scone"), 'lower-case names sort among the others');
    assert.deepEqual(await search(''), await search('   '), 'blank query = no filter');
  });

  it('matches name, SKU and description, case-insensitively', async () => {
    assert.deepEqual(await skusOf('arabica'), ['PCT-1']);
    assert.deepEqual(await skusOf('ARABICA'), ['PCT-1']);
    assert.deepEqual(await skusOf('und_'), ['UND_1']);
    assert.deepEqual(await skusOf('clotted'), ['QUO-1']);
    assert.deepEqual(await skusOf('ABC-LOW'), ['abc-lower']);
    assert.deepEqual(await skusOf('no such thing'), []);
  });

  it('pages with limit and offset, and total counts all matches', async () => {
    const all = (await search(undefined)).products.map((p) => p.sku);
    const page1 = await search(undefined, 4, 0);
    const page2 = await search(undefined, 4, 4);
    const page3 = await search(undefined, 4, 8);
    assert.deepEqual([...page1.products, ...page2.products, ...page3.products].map((p) => p.sku), all);
    assert.deepEqual([page1.total, page2.total, page3.total], [10, 10, 10]);
    const beyond = await search(undefined, 4, 100);
    assert.deepEqual(beyond, { products: [], total: 10 }, 'total is known even past the last page');
    assert.equal((await search('arabica', 0)).total, 1);
    await assert.rejects(search(undefined, -1), RangeError);
    await assert.rejects(search(undefined, 1.5), RangeError);
  });

  it('treats %, _ and \\ literally', async () => {
    assert.deepEqual(await skusOf('%'), ['PCT-1'], '% is not a wildcard');
    assert.deepEqual(await skusOf('0% a'), ['PCT-1']);
    assert.deepEqual(await skusOf('_'), ['UND_1'], '_ is not a wildcard');
    assert.deepEqual(await skusOf('e_c'), ['UND_1']);
    assert.deepEqual(await skusOf('\\'), ['BSL-1'], 'a backslash is not an escape');
    assert.deepEqual(await skusOf('k\\s'), ['BSL-1']);
    assert.deepEqual(await skusOf('\\%'), []);
    assert.deepEqual(await skusOf('%%'), []);
  });

  it('treats quotes and SQL as plain text', async () => {
    assert.deepEqual(await skusOf("'"), ['QUO-1']);
    assert.deepEqual(await skusOf('"Famous"'), ['QUO-1']);
    assert.deepEqual(await skusOf("O'Brien's"), ['QUO-1']);
    assert.deepEqual(await skusOf("'; DROP TABLE products; --"), []);
    assert.deepEqual(await skusOf("' OR '1'='1"), []);
    assert.deepEqual(await skusOf('$1'), []);
    assert.equal(await countRows(ctx.db(), 'SELECT 1 FROM products WHERE business_id = $1', [shop]), 11, 'the table is intact');
  });

  it('handles unicode: accents case-insensitively, emoji, CJK; NUL matches nothing', async () => {
    assert.deepEqual(await skusOf('crème'), ['UNI-1']);
    assert.deepEqual(await skusOf('CRÈME BRÛLÉE'), ['UNI-1']);
    assert.deepEqual(await skusOf('éclair'), ['UNI-2']);
    assert.deepEqual(await skusOf('☕'), ['EMO-1']);
    assert.deepEqual(await skusOf('抹茶'), ['JPN-1']);
    assert.deepEqual(await skusOf('creme'), [], 'accents are not folded away');
    assert.deepEqual(await search('a\u0000b'), { products: [], total: 0 });
  });

  it('returns the product shape with money in minor units', async () => {
    const [product] = (await search('bagel')).products;
    assert.deepEqual(product, {
      sku: 'PLAIN-1',
      name: 'Plain Bagel',
      description: 'Nothing special: 10 percent off on Mondays.',
      priceMinor: 100,
      currency: 'USD',
      stock: 10,
    });
    assert.equal(typeof product!.priceMinor, 'number');
  });

  it('never returns another business’s products', async () => {
    assert.deepEqual(await skusOf('espresso'), [], 'Corner Coffee espresso drinks are not in this shop');
    const coffee = await searchProducts(ctx.db(), DEMO.businesses.coffee, { query: 'espresso', limit: 50 });
    assert.ok(coffee.products.length >= 2);
    assert.ok(coffee.products.every((p) => p.sku.startsWith('COF-') && p.currency === 'USD'));
    assert.ok(!coffee.products.some((p) => p.sku === 'JPN-1'));
    assert.deepEqual(await searchProducts(ctx.db(), 'biz_does_not_exist', { limit: 10 }), { products: [], total: 0 });
  });

  it('gets products by exact SKU, skipping unknown, inactive and other tenants’ ones', async () => {
    const db = ctx.db();
    assert.equal((await getProduct(db, shop, 'PCT-1'))?.name, '100% Arabica Blend');
    assert.equal(await getProduct(db, shop, 'pct-1'), null, 'SKUs are exact');
    assert.equal(await getProduct(db, shop, 'GONE-1'), null, 'inactive');
    assert.equal(await getProduct(db, shop, 'COF-LATTE-12'), null, 'another business');
    assert.equal(await getProduct(db, DEMO.businesses.coffee, 'COF-LATTE-12').then((p) => p?.currency), 'USD');

    const many = await getProducts(db, shop, ['UNI-2', 'PCT-1', 'NOPE', 'GONE-1', 'COF-LATTE-12', 'PCT-1']);
    assert.deepEqual(
      many.map((p) => p.sku),
      ['PCT-1', 'UNI-2'],
    );
    assert.deepEqual(await getProducts(db, shop, []), []);
  });

  it('suggests SKUs by case-insensitive prefix, literally, up to the limit', async () => {
    const db = ctx.db();
    assert.deepEqual(await suggestSkus(db, shop, 'uni', 10), ['UNI-1', 'UNI-2']);
    assert.deepEqual(await suggestSkus(db, shop, 'UNI-2', 10), ['UNI-2']);
    assert.deepEqual(await suggestSkus(db, shop, 'ABC', 10), ['abc-lower']);
    assert.deepEqual(await suggestSkus(db, shop, 'uni', 1), ['UNI-1']);
    assert.deepEqual(await suggestSkus(db, shop, 'und_', 10), ['UND_1']);
    assert.deepEqual(await suggestSkus(db, shop, 'un_', 10), [], '_ is not a wildcard');
    assert.deepEqual(await suggestSkus(db, shop, '%', 10), [], '% is not a wildcard');
    assert.deepEqual(await suggestSkus(db, shop, 'GONE', 10), [], 'inactive');
    assert.equal((await suggestSkus(db, shop, '', 100)).length, 10);
    assert.deepEqual(await suggestSkus(db, DEMO.businesses.coffee, 'cof-latte', 10), ['COF-LATTE-12', 'COF-LATTE-16']);
  });

  it('escapeLike escapes exactly the LIKE metacharacters', () => {
    assert.equal(escapeLike('50%_off\\now'), '50\\%\\_off\\\\now');
    assert.equal(escapeLike("plain 'text'"), "plain 'text'");
  });
});
