import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import type { CartMutation, CartRef, CartSnapshot, CartStore, CartStoreOptions } from '../../src/state/cart-store.js';
import { sleep, type StoreFactory } from './support.js';

export function cartRef(overrides: Partial<CartRef> = {}): CartRef {
  return { businessId: randomUUID(), userId: randomUUID(), handle: 'default', ...overrides };
}

const OPTS: CartStoreOptions = { ttlMs: 60_000, maxLineQuantity: 1000, maxLines: 50 };

function ok(result: CartMutation): CartSnapshot {
  assert.equal(result.ok, true, `expected ok, got ${JSON.stringify(result)}`);
  return result.cart;
}

function refused(result: CartMutation, reason: string): CartSnapshot {
  assert.equal(result.ok, false, `expected refusal, got ${JSON.stringify(result)}`);
  assert.equal(!result.ok && result.reason, reason);
  return result.cart;
}

const quantities = (cart: CartSnapshot) => Object.fromEntries(cart.lines.map((l) => [l.sku, l.quantity]));

/** The behaviour every CartStore must have. `factory` gives stores over one shared backend. */
export function cartStoreContract(factory: StoreFactory<CartStore, CartStoreOptions>): void {
  const one = async (opts: Partial<CartStoreOptions> = {}) => (await factory({ ...OPTS, ...opts }))[0]!;

  it('an unknown cart is empty at version 0', async () => {
    const store = await one();
    assert.deepEqual(await store.get(cartRef()), { lines: [], version: 0 });
  });

  it('addItem adds up, bumps the version and returns the same snapshot get returns', async () => {
    const store = await one();
    const ref = cartRef();
    const v1 = ok(await store.addItem(ref, 'SKU-1', 2));
    assert.deepEqual(v1.lines, [{ sku: 'SKU-1', quantity: 2 }]);
    assert.ok(v1.version > 0);
    const v2 = ok(await store.addItem(ref, 'SKU-1', 3));
    assert.deepEqual(v2.lines, [{ sku: 'SKU-1', quantity: 5 }]);
    assert.equal(v2.version, v1.version + 1);
    assert.deepEqual(await store.get(ref), v2);
  });

  it('lines come sorted by sku', async () => {
    const store = await one();
    const ref = cartRef();
    for (const sku of ['b', 'C', 'a', 'B-2', 'B-10', 'ä']) await store.addItem(ref, sku, 1);
    const expected = ['B-10', 'B-2', 'C', 'a', 'b', 'ä'];
    assert.deepEqual((await store.get(ref)).lines.map((l) => l.sku), expected);
    assert.deepEqual(ok(await store.addItem(ref, 'a', 1)).lines.map((l) => l.sku), expected);
  });

  it('refuses, without any change, an add past maxLineQuantity', async () => {
    const store = await one({ maxLineQuantity: 10 });
    const ref = cartRef();
    const before = ok(await store.addItem(ref, 'A', 7));
    assert.deepEqual(refused(await store.addItem(ref, 'A', 4), 'line_quantity_exceeded'), before);
    assert.deepEqual(refused(await store.addItem(ref, 'NEW', 11), 'line_quantity_exceeded'), before);
    assert.deepEqual(await store.get(ref), before);
    assert.equal(quantities(ok(await store.addItem(ref, 'A', 3))).A, 10);
  });

  it('refuses, without any change, a new line past maxLines but still adds to existing lines', async () => {
    const store = await one({ maxLines: 3 });
    const ref = cartRef();
    for (const sku of ['A', 'B', 'C']) ok(await store.addItem(ref, sku, 1));
    const full = await store.get(ref);
    assert.deepEqual(refused(await store.addItem(ref, 'D', 1), 'too_many_lines'), full);
    assert.deepEqual(refused(await store.setItem(ref, 'D', 1), 'too_many_lines'), full);
    assert.equal(quantities(ok(await store.addItem(ref, 'B', 1))).B, 2);
    ok(await store.removeItem(ref, 'A'));
    ok(await store.addItem(ref, 'D', 1));
  });

  it('setItem sets the exact quantity, 0 removes, unchanged sets change nothing', async () => {
    const store = await one({ maxLineQuantity: 10 });
    const ref = cartRef();
    const a = ok(await store.setItem(ref, 'A', 4));
    assert.deepEqual(a.lines, [{ sku: 'A', quantity: 4 }]);
    const b = ok(await store.setItem(ref, 'A', 9));
    assert.equal(quantities(b).A, 9);
    assert.equal(b.version, a.version + 1);
    assert.deepEqual(ok(await store.setItem(ref, 'A', 9)), b, 'same quantity: no new version');
    assert.deepEqual(refused(await store.setItem(ref, 'A', 11), 'line_quantity_exceeded'), b);
    assert.deepEqual(ok(await store.setItem(ref, 'MISSING', 0)), b, 'removing an absent line changes nothing');
    const c = ok(await store.setItem(ref, 'A', 0));
    assert.deepEqual(c.lines, []);
    assert.equal(c.version, b.version + 1);
  });

  it('removeItem removes a line; a missing line is not_in_cart and changes nothing', async () => {
    const store = await one();
    const ref = cartRef();
    assert.deepEqual(refused(await store.removeItem(ref, 'A'), 'not_in_cart'), { lines: [], version: 0 });
    ok(await store.addItem(ref, 'A', 1));
    const both = ok(await store.addItem(ref, 'B', 2));
    const after = ok(await store.removeItem(ref, 'A'));
    assert.deepEqual(after.lines, [{ sku: 'B', quantity: 2 }]);
    assert.equal(after.version, both.version + 1);
    assert.deepEqual(refused(await store.removeItem(ref, 'A'), 'not_in_cart'), after);
  });

  it('clear empties the cart, honours expectedVersion, and never reuses a version', async () => {
    const store = await one();
    const ref = cartRef();
    assert.equal(await store.clear(ref), true, 'clearing an empty cart succeeds');
    assert.equal(await store.clear(ref, 0), true);
    assert.equal(await store.clear(ref, 1), false);
    const filled = ok(await store.addItem(ref, 'A', 1));
    assert.equal(await store.clear(ref, filled.version - 1), false);
    assert.equal(await store.clear(ref, filled.version + 1), false);
    assert.equal(await store.clear(ref, Number.NaN), false);
    assert.deepEqual(await store.get(ref), filled, 'a refused clear changes nothing');
    assert.equal(await store.clear(ref, filled.version), true);
    const cleared = await store.get(ref);
    assert.deepEqual(cleared.lines, []);
    assert.ok(cleared.version > filled.version, 'clearing is a change');
    const refilled = ok(await store.addItem(ref, 'A', 1));
    assert.ok(refilled.version > cleared.version, 'a refilled cart does not repeat the version of the old one');
    assert.equal(await store.clear(ref), true);
    assert.deepEqual((await store.get(ref)).lines, []);
  });

  it('only one of many concurrent clears with the same expectedVersion wins', async () => {
    const stores = await factory(OPTS, 4);
    const ref = cartRef();
    const { version } = ok(await stores[0]!.addItem(ref, 'A', 1));
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => stores[i % stores.length]!.clear(ref, version)));
    assert.equal(results.filter(Boolean).length, 1);
  });

  it('expires after the TTL; changes reset the TTL, refusals and reads do not', async () => {
    const store = await one({ ttlMs: 400, maxLineQuantity: 5 });
    const ref = cartRef();
    ok(await store.addItem(ref, 'A', 1));
    await sleep(200);
    ok(await store.addItem(ref, 'A', 1));
    await sleep(200);
    ok(await store.addItem(ref, 'A', 1)); // 400 ms after the first add: alive only because changes reset the TTL
    await sleep(200);
    assert.equal(quantities(await store.get(ref)).A, 3);
    await sleep(400);
    assert.deepEqual(await store.get(ref), { lines: [], version: 0 });

    const ref2 = cartRef();
    ok(await store.addItem(ref2, 'A', 5));
    await sleep(200);
    refused(await store.addItem(ref2, 'A', 1), 'line_quantity_exceeded');
    await store.get(ref2);
    await sleep(350);
    assert.deepEqual(await store.get(ref2), { lines: [], version: 0 });
  });

  it('a cart started again after expiry does not repeat an earlier version', async () => {
    const store = await one({ ttlMs: 200 });
    const ref = cartRef();
    const seen = new Set<number>();
    for (let i = 0; i < 5; i++) seen.add(ok(await store.addItem(ref, 'A', 1)).version);
    await sleep(350);
    const again = ok(await store.addItem(ref, 'A', 1));
    assert.equal(seen.has(again.version), false);
    assert.ok(again.version > Math.max(...seen));
  });

  it('keeps carts of different businesses, users and handles apart', async () => {
    const store = await one();
    const base = cartRef();
    const refs = [
      base,
      { ...base, businessId: randomUUID() },
      { ...base, userId: randomUUID() },
      { ...base, handle: 'party' },
    ];
    await Promise.all(refs.map((ref, i) => store.addItem(ref, 'A', i + 1)));
    for (const [i, ref] of refs.entries()) assert.deepEqual(quantities(await store.get(ref)), { A: i + 1 });
    await store.clear(refs[0]!);
    assert.deepEqual((await store.get(refs[0]!)).lines, []);
    for (const ref of refs.slice(1)) assert.equal((await store.get(ref)).lines.length, 1);
  });

  it('separator and brace characters in ids and handles cannot make two carts collide', async () => {
    const store = await one();
    const u = randomUUID();
    // Pairs that a naive `cart:{business:user}:handle` would map to the same key or hash tag.
    const refs: CartRef[] = [
      { businessId: 'b:1', userId: u, handle: 'h' },
      { businessId: 'b', userId: `1:${u}`, handle: 'h' },
      { businessId: 'b', userId: u, handle: 'x}:h' },
      { businessId: 'b', userId: `${u}}:x`, handle: 'h' },
      { businessId: 'b}', userId: u, handle: 'h' },
      { businessId: 'b', userId: u, handle: '{h}' },
      { businessId: 'b', userId: u, handle: ':' },
      { businessId: 'b', userId: u, handle: '%3A' },
      { businessId: 'b', userId: u, handle: '%253A' },
      { businessId: 'b', userId: u, handle: 'h*' },
      { businessId: 'b', userId: u, handle: 'ä' },
      { businessId: 'b', userId: u, handle: '%C3%A4' },
      { businessId: 'b', userId: u, handle: 'h h' },
      { businessId: 'b', userId: u, handle: 'h\nh' },
    ];
    await Promise.all(refs.map((ref, i) => store.addItem(ref, 'A', i + 1)));
    for (const [i, ref] of refs.entries()) {
      assert.deepEqual(quantities(await store.get(ref)), { A: i + 1 }, JSON.stringify(ref));
    }
  });

  it('skus are kept verbatim and cannot clash with the version', async () => {
    const store = await one();
    const ref = cartRef();
    const skus = ['v', 's:v', 's:', ':', '{x}', 'a b', 'ä', '😀', '%41', 'A'];
    for (const [i, sku] of skus.entries()) ok(await store.addItem(ref, sku, i + 1));
    const cart = await store.get(ref);
    assert.deepEqual(quantities(cart), Object.fromEntries(skus.map((sku, i) => [sku, i + 1])));
    assert.equal(cart.lines.length, skus.length);
    const before = cart.version;
    ok(await store.removeItem(ref, 'v'));
    assert.equal((await store.get(ref)).version, before + 1);
    assert.equal(quantities(await store.get(ref))['s:v'], 2);
  });

  it('refuses nonsense input without touching the cart', async () => {
    const store = await one();
    const ref = cartRef();
    const before = ok(await store.addItem(ref, 'A', 1));
    const bad = (q: unknown) => q as number;
    for (const q of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, '2', null, 2 ** 60]) {
      await assert.rejects(store.addItem(ref, 'A', bad(q)), Error, `addItem ${String(q)}`);
    }
    for (const q of [-1, 0.5, Number.NaN, '1']) await assert.rejects(store.setItem(ref, 'A', bad(q)));
    for (const sku of ['', 'x'.repeat(300), '\uD800', 7 as unknown as string]) {
      await assert.rejects(store.addItem(ref, sku, 1));
      await assert.rejects(store.removeItem(ref, sku));
    }
    for (const r of [
      { ...ref, handle: '' },
      { ...ref, businessId: '' },
      { ...ref, userId: '' },
      { ...ref, handle: 'h'.repeat(300) },
      { ...ref, handle: 'a\uDC00' },
    ]) {
      await assert.rejects(store.get(r), Error, JSON.stringify(r));
      await assert.rejects(store.addItem(r, 'A', 1));
      await assert.rejects(store.clear(r));
    }
    assert.deepEqual(await store.get(ref), before);
  });

  it('200 concurrent adds over several connections all count', async () => {
    const stores = await factory(OPTS, 5);
    const ref = cartRef();
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => stores[i % stores.length]!.addItem(ref, 'A', 1)));
    const snapshots = results.map(ok);
    // Each add saw its own state: the quantities it returned are exactly 1..200, the versions 200 consecutive ones.
    assert.deepEqual(
      snapshots.map((c) => quantities(c).A).sort((a, b) => a! - b!),
      Array.from({ length: 200 }, (_, i) => i + 1),
    );
    const versions = snapshots.map((c) => c.version).sort((a, b) => a - b);
    assert.equal(new Set(versions).size, 200);
    assert.equal(versions[199]! - versions[0]!, 199);
    const final = await stores[0]!.get(ref);
    assert.equal(quantities(final).A, 200);
    assert.equal(final.version, versions[199]);
  });

  it('concurrent adds racing maxLineQuantity never exceed it', async () => {
    const stores = await factory({ ...OPTS, maxLineQuantity: 50 }, 5);
    const ref = cartRef();
    const results = await Promise.all(
      Array.from({ length: 120 }, (_, i) => stores[i % stores.length]!.addItem(ref, 'A', i % 3 === 0 ? 2 : 1)),
    );
    const accepted = results.filter((r) => r.ok).length;
    assert.ok(results.every((r) => r.ok || r.reason === 'line_quantity_exceeded'));
    assert.ok(results.every((r) => (quantities(r.cart).A ?? 0) <= 50));
    const total = results.reduce((sum, r, i) => sum + (r.ok ? (i % 3 === 0 ? 2 : 1) : 0), 0);
    const final = quantities(await stores[0]!.get(ref)).A;
    assert.equal(final, total);
    assert.ok(final! >= 49 && final! <= 50, `final ${final}`);
    assert.ok(accepted < 120);
  });

  it('concurrent new lines racing maxLines never exceed it', async () => {
    const stores = await factory({ ...OPTS, maxLines: 5 }, 5);
    const ref = cartRef();
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) => stores[i % stores.length]!.addItem(ref, `SKU-${i}`, 1)));
    assert.equal(results.filter((r) => r.ok).length, 5);
    assert.ok(results.every((r) => r.ok || r.reason === 'too_many_lines'));
    assert.equal((await stores[0]!.get(ref)).lines.length, 5);
  });

  it('snapshots are copies', async () => {
    const store = await one();
    const ref = cartRef();
    const snap = ok(await store.addItem(ref, 'A', 1));
    snap.lines[0]!.quantity = 99;
    snap.lines.push({ sku: 'B', quantity: 1 });
    const got = await store.get(ref);
    assert.deepEqual(got.lines, [{ sku: 'A', quantity: 1 }]);
    got.lines.length = 0;
    assert.equal((await store.get(ref)).lines.length, 1);
  });
}
