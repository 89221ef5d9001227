import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import { createKeySpace } from '../../src/state/keys.js';
import { closeRedisClient, connectRedisClient, createRedisClient } from '../../src/state/redis-client.js';
import { createStores, type Stores } from '../../src/state/stores.js';
import { sessionRecord } from '../contract/session-store.contract.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';

/** Every key the stores write must expire on its own: nothing may accumulate in Redis forever. */

let redis: TestRedis;
let stores: Stores;
let prefix: string;

before(async () => {
  redis = await startRedis();
  prefix = `${redis.keyPrefix}ttl-${randomUUID().slice(0, 8)}:`;
  stores = await createStores({
    redisUrl: redis.url,
    keyPrefix: prefix,
    sessionIdleTtlMs: 60_000,
    cartTtlMs: 120_000,
    maxLineQuantity: 100,
    maxLines: 10,
    preferenceTtlMs: 30 * 86_400_000,
    onRedisError: () => {},
  });
});

after(async () => {
  await stores?.close();
  await redis?.stop();
});

it('every key written by every store has a TTL, and only the documented keys exist', async () => {
  const user = randomUUID();
  const business = randomUUID();
  const expected = new Map<string, 'hash' | 'string'>();

  // Sessions: plain, with an expiring principal, with an active business set later; touched; one deleted.
  const plain = sessionRecord({}, { uid: user });
  const capped = sessionRecord({ activeBusinessId: business }, { uid: user, expiresAt: Date.now() + 3_600_000 });
  const deleted = sessionRecord();
  for (const r of [plain, capped, deleted]) await stores.sessions.create(r);
  await stores.sessions.touch(plain.id);
  await stores.sessions.touch(capped.id);
  assert.equal(await stores.sessions.setActiveBusiness(plain.id, business), true);
  await stores.sessions.delete(deleted.id);
  await stores.sessions.setActiveBusiness(deleted.id, business); // must not recreate it
  expected.set(`${prefix}session:${plain.id}`, 'hash');
  expected.set(`${prefix}session:${capped.id}`, 'hash');

  // Carts: every mutation, including ones that leave the cart empty, refusals and injection attempts.
  const ref = { businessId: business, userId: user, handle: 'default' };
  await stores.carts.addItem(ref, 'A', 2);
  await stores.carts.setItem(ref, 'B', 3);
  await stores.carts.addItem(ref, 'A', 1000); // refused
  await stores.carts.removeItem(ref, 'B');
  await stores.carts.removeItem(ref, 'missing');
  expected.set(`${prefix}cart:{${business}:${user}}:default`, 'hash');

  const emptied = { ...ref, handle: 'emptied' };
  await stores.carts.addItem(emptied, 'A', 1);
  await stores.carts.removeItem(emptied, 'A');
  expected.set(`${prefix}cart:{${business}:${user}}:emptied`, 'hash');

  const cleared = { ...ref, handle: 'cleared' };
  const { cart } = await stores.carts.addItem(cleared, 'A', 1);
  await stores.carts.clear(cleared, cart.version);
  expected.set(`${prefix}cart:{${business}:${user}}:cleared`, 'hash');

  const setToZero = { ...ref, handle: 'zero' };
  await stores.carts.setItem(setToZero, 'A', 1);
  await stores.carts.setItem(setToZero, 'A', 0);
  expected.set(`${prefix}cart:{${business}:${user}}:zero`, 'hash');

  await stores.carts.get({ ...ref, handle: 'never-written' });
  await stores.carts.clear({ ...ref, handle: 'never-written' });
  await stores.carts.setItem({ ...ref, handle: 'never-written' }, 'A', 0);

  const hostile = { businessId: 'b}:x{', userId: `${user}:{y}`, handle: 'h}:{z}:*' };
  await stores.carts.addItem(hostile, 'sku}:{v', 1);
  expected.set(`${prefix}cart:{b%7D%3Ax%7B:${user}%3A%7By%7D}:h%7D%3A%7Bz%7D%3A%2A`, 'hash');

  // Preferences.
  await stores.preferences.setActiveBusiness(user, business);
  await stores.preferences.setActiveBusiness(`${user}}:x`, business);
  expected.set(`${prefix}user:{${user}}:active_business`, 'string');
  expected.set(`${prefix}user:{${user}%7D%3Ax}:active_business`, 'string');

  // Revoked access tokens: one entry per jti, none for a token already expired.
  await stores.revocations.revoke(`jti-${user}`, Date.now() + 90_000);
  await stores.revocations.revoke(`expired-${user}`, Date.now() - 1);
  await stores.revocations.isRevoked(`never-${user}`);
  expected.set(`${prefix}revoked:jti-${user}`, 'string');

  // Versions of what instances cache: read (nothing is written), then bumped.
  await stores.versions.read(user, business);
  const v1 = await stores.versions.bumpCatalog(business);
  await stores.versions.bumpMemberships(user);
  assert.notEqual(await stores.versions.bumpCatalog(business), v1, 'a bump never repeats a version');
  assert.deepEqual(await stores.versions.read(`never-${user}`, `never-${business}`), { memberships: '', catalog: '' });
  expected.set(`${prefix}pos:versions`, 'hash');

  // The bus stores nothing, but use it anyway.
  const unsubscribe = await stores.bus.subscribe(plain.id, () => {});
  await stores.bus.publish(plain.id, { kind: 'message', message: { hello: 'world' } });
  await stores.bus.publish(plain.id, { kind: 'close' });
  await unsubscribe();

  // Key names as keys.ts documents them.
  const keys = createKeySpace(prefix);
  assert.equal(keys.session(plain.id), `${prefix}session:${plain.id}`);
  assert.equal(keys.cart(ref), `${prefix}cart:{${business}:${user}}:default`);
  assert.equal(keys.activeBusiness(user), `${prefix}user:{${user}}:active_business`);
  assert.equal(keys.sessionChannel(plain.id), `${prefix}bus:session:{${plain.id}}`);

  const client = createRedisClient({ url: redis.url, onError: () => {} });
  await connectRedisClient(client, 5000, 'inspection client');
  try {
    const found = new Set<string>();
    for await (const batch of client.scanIterator({ MATCH: keys.scanPattern(), COUNT: 100 })) {
      for (const key of batch) found.add(key);
    }
    assert.deepEqual([...found].sort(), [...expected.keys()].sort());
    for (const [key, type] of expected) {
      assert.equal(await client.type(key), type, key);
      const pttl = await client.pTTL(key);
      assert.ok(pttl > 0, `${key} has PTTL ${pttl}`);
    }
    // Caps as configured: a session never longer than its idle TTL, the capped one no longer than its credential.
    assert.ok((await client.pTTL(`${prefix}session:${plain.id}`)) <= 60_000);
    assert.ok((await client.pTTL(`${prefix}cart:{${business}:${user}}:default`)) <= 120_000);
    assert.ok((await client.pTTL(`${prefix}user:{${user}}:active_business`)) > 29 * 86_400_000);
  } finally {
    await closeRedisClient(client);
  }
});
