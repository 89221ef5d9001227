import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import type { PreferenceStore } from '../../src/state/preference-store.js';
import type { PreferenceStoreOptions } from '../../src/state/store-support.js';
import { sleep, type StoreFactory } from './support.js';

/** The behaviour every PreferenceStore must have. `factory` gives stores over one shared backend. */
export function preferenceStoreContract(factory: StoreFactory<PreferenceStore, PreferenceStoreOptions>): void {
  const one = async (ttlMs = 60_000) => (await factory({ ttlMs }))[0]!;

  it('remembers the last active business per user, across connections', async () => {
    const [a, b] = await factory({ ttlMs: 60_000 }, 2);
    const user = randomUUID();
    assert.equal(await a!.getActiveBusiness(user), null);
    await a!.setActiveBusiness(user, 'biz-1');
    assert.equal(await b!.getActiveBusiness(user), 'biz-1');
    await b!.setActiveBusiness(user, 'biz-2');
    assert.equal(await a!.getActiveBusiness(user), 'biz-2');
  });

  it('keeps users apart, whatever their ids contain', async () => {
    const store = await one();
    const u = randomUUID();
    const users = [u, `${u}}`, `${u}}:active_business`, `${u}:x`, `{${u}}`, `${u}%7D`, `${u} `];
    await Promise.all(users.map((user, i) => store.setActiveBusiness(user, `biz-${i}`)));
    for (const [i, user] of users.entries()) assert.equal(await store.getActiveBusiness(user), `biz-${i}`, user);
  });

  it('forgets after the TTL, which every set resets', async () => {
    const store = await one(400);
    const user = randomUUID();
    await store.setActiveBusiness(user, 'biz-1');
    await sleep(200);
    await store.setActiveBusiness(user, 'biz-2');
    await sleep(300); // 500 ms after the first set
    assert.equal(await store.getActiveBusiness(user), 'biz-2');
    await sleep(400);
    assert.equal(await store.getActiveBusiness(user), null);
  });

  it('refuses nonsense input', async () => {
    const store = await one();
    await assert.rejects(store.setActiveBusiness('', 'biz'));
    await assert.rejects(store.getActiveBusiness(''));
    await assert.rejects(store.setActiveBusiness(randomUUID(), ''));
    await assert.rejects(store.setActiveBusiness('\uD800', 'biz'));
  });
}
