import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createStores } from '../../src/state/stores.js';

const options = {
  keyPrefix: 'mcp:',
  sessionIdleTtlMs: 60_000,
  cartTtlMs: 60_000,
  maxLineQuantity: 10,
  maxLines: 5,
  preferenceTtlMs: 60_000,
};

it('without a Redis URL, everything lives in memory', async () => {
  const stores = await createStores(options);
  try {
    assert.equal(stores.kind, 'memory');
    await stores.ping();
    const ref = { businessId: 'b', userId: 'u', handle: 'default' };
    const result = await stores.carts.addItem(ref, 'A', 11);
    assert.equal(result.ok, false, 'maxLineQuantity is passed through');
    await stores.preferences.setActiveBusiness('u', 'b');
    assert.equal(await stores.preferences.getActiveBusiness('u'), 'b');
  } finally {
    await stores.close();
  }
});

it('refuses invalid limits at start-up', async () => {
  await assert.rejects(createStores({ ...options, maxLines: 0 }), /maxLines/);
  await assert.rejects(createStores({ ...options, sessionIdleTtlMs: 1.5 }), /idleTtlMs/);
  await assert.rejects(createStores({ ...options, keyPrefix: '{x}' }), /prefix/);
});
