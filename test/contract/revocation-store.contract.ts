import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import type { RevocationStore } from '../../src/state/revocation-store.js';
import { sleep, type StoreFactory } from './support.js';

/** The behaviour every RevocationStore must have. `factory` gives stores over one shared backend. */
export function revocationStoreContract(factory: StoreFactory<RevocationStore, Record<string, never>>): void {
  it('a revocation on one connection is seen on every other', async () => {
    const [a, b] = await factory({}, 2);
    const jti = randomUUID();
    assert.equal(await b!.isRevoked(jti), false);
    await a!.revoke(jti, Date.now() + 60_000);
    assert.equal(await b!.isRevoked(jti), true);
    assert.equal(await a!.isRevoked(jti), true);
    assert.equal(await b!.isRevoked(randomUUID()), false, 'only that token');
  });

  it('an entry lives until the token would have expired, then goes by itself', async () => {
    const [store] = await factory({});
    const jti = randomUUID();
    await store!.revoke(jti, Date.now() + 1000);
    assert.equal(await store!.isRevoked(jti), true);
    await sleep(1300);
    assert.equal(await store!.isRevoked(jti), false);
  });

  it('revoking an already expired token records nothing', async () => {
    const [store] = await factory({});
    const jti = randomUUID();
    await store!.revoke(jti, Date.now() - 1000);
    assert.equal(await store!.isRevoked(jti), false);
  });

  it('revoking twice is harmless', async () => {
    const [a, b] = await factory({}, 2);
    const jti = randomUUID();
    const exp = Date.now() + 60_000;
    await a!.revoke(jti, exp);
    await b!.revoke(jti, exp);
    assert.equal(await a!.isRevoked(jti), true);
  });

  it('token ids cannot collide or escape their key, whatever they contain', async () => {
    const [store] = await factory({});
    const base = randomUUID();
    const ids = [base, `${base}:x`, `${base}*`, `{${base}}`, `${base}%3Ax`];
    await store!.revoke(ids[1]!, Date.now() + 60_000);
    assert.deepEqual(await Promise.all(ids.map((id) => store!.isRevoked(id))), [false, true, false, false, false]);
  });

  it('refuses nonsense input', async () => {
    const [store] = await factory({});
    await assert.rejects(store!.revoke('', Date.now() + 1000));
    await assert.rejects(store!.isRevoked(''));
    await assert.rejects(store!.revoke('x'.repeat(300), Date.now() + 1000));
    await assert.rejects(store!.revoke(randomUUID(), Number.NaN));
  });
}
