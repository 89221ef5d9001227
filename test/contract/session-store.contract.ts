import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import type { Principal } from '../../src/auth/principal.js';
import type { SessionRecord, SessionStore, SessionStoreOptions } from '../../src/state/session-store.js';
import { sleep, type StoreFactory } from './support.js';

export function sessionRecord(overrides: Partial<SessionRecord> = {}, principal: Partial<Principal> = {}): SessionRecord {
  return {
    id: randomUUID(),
    protocolVersion: '2025-06-18',
    clientInfo: { name: 'test-client', version: '1.0.0', title: 'Test' },
    clientCapabilities: { sampling: {}, roots: { listChanged: true } },
    principal: { uid: randomUUID(), scopes: ['pos:read', 'pos:write'], method: 'api_key', credentialId: 'key-1', ...principal },
    createdAt: Date.now(),
    ...overrides,
  };
}

const LONG = 60_000;

/** The behaviour every SessionStore must have. `factory` gives stores over one shared backend. */
export function sessionStoreContract(factory: StoreFactory<SessionStore, SessionStoreOptions>): void {
  const one = async (idleTtlMs = LONG) => (await factory({ idleTtlMs }))[0]!;

  it('returns what was created, as a copy', async () => {
    const store = await one();
    const record = sessionRecord({ activeBusinessId: 'biz-1' });
    const expected = structuredClone(record);
    await store.create(record);
    record.clientCapabilities.mutated = true;
    record.principal.scopes = [];

    const first = await store.touch(record.id);
    assert.deepEqual(first, expected);
    first!.clientInfo.name = 'changed';
    first!.activeBusinessId = 'other';
    assert.deepEqual(await store.touch(record.id), expected);
  });

  it('keeps empty objects and nested values intact', async () => {
    const store = await one();
    const record = sessionRecord({ clientCapabilities: {}, clientInfo: { name: 'n', version: 'v', extra: { list: [1, 'two', null] } } });
    await store.create(record);
    assert.deepEqual(await store.touch(record.id), record);
  });

  it('answers null / false for unknown and malformed ids', async () => {
    const store = await one();
    for (const id of [randomUUID(), '', 'has space', 'x'.repeat(300), 'ü']) {
      assert.equal(await store.touch(id), null, `touch ${JSON.stringify(id)}`);
      assert.equal(await store.setActiveBusiness(id, 'biz'), false);
      assert.equal(await store.delete(id), false);
    }
  });

  it('refuses to create records it could not find again', async () => {
    const store = await one();
    await assert.rejects(store.create(sessionRecord({ id: 'has space' })));
    await assert.rejects(store.create(sessionRecord({ id: '' })));
    await assert.rejects(store.create(sessionRecord({}, { expiresAt: Number.NaN })));
  });

  it('sets the active business of an existing session only', async () => {
    const store = await one();
    const record = sessionRecord();
    await store.create(record);
    assert.equal((await store.touch(record.id))?.activeBusinessId, undefined);
    assert.equal(await store.setActiveBusiness(record.id, 'biz-2'), true);
    assert.equal((await store.touch(record.id))?.activeBusinessId, 'biz-2');
    assert.equal(await store.setActiveBusiness(record.id, 'biz-3'), true);
    assert.equal((await store.touch(record.id))?.activeBusinessId, 'biz-3');
    await assert.rejects(store.setActiveBusiness(record.id, ''));
  });

  it('delete reports whether the session existed and the session is gone for every connection', async () => {
    const [a, b] = await factory({ idleTtlMs: LONG }, 2);
    const record = sessionRecord();
    await a!.create(record);
    assert.notEqual(await b!.touch(record.id), null);
    assert.equal(await b!.delete(record.id), true);
    assert.equal(await a!.delete(record.id), false);
    assert.equal(await a!.touch(record.id), null);
  });

  it('never brings a deleted session back', async () => {
    const [a, b] = await factory({ idleTtlMs: LONG }, 2);
    const record = sessionRecord();
    await a!.create(record);
    await b!.delete(record.id);
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? a! : b!).setActiveBusiness(record.id, `biz-${i}`)));
    assert.deepEqual(new Set(results), new Set([false]));
    assert.equal(await a!.touch(record.id), null);
  });

  it('expires after the idle TTL', async () => {
    const store = await one(200);
    const record = sessionRecord();
    await store.create(record);
    assert.notEqual(await store.touch(record.id), null);
    await sleep(400);
    assert.equal(await store.touch(record.id), null);
    assert.equal(await store.setActiveBusiness(record.id, 'biz'), false, 'no resurrection after expiry');
    assert.equal(await store.touch(record.id), null);
    assert.equal(await store.delete(record.id), false);
  });

  it('touch pushes the idle expiry out', async () => {
    const store = await one(400);
    const record = sessionRecord();
    await store.create(record);
    for (let i = 0; i < 4; i++) {
      await sleep(150);
      assert.notEqual(await store.touch(record.id), null, `touch ${i}`); // 600 ms after create, alive thanks to touches
    }
    await sleep(650);
    assert.equal(await store.touch(record.id), null);
  });

  it('setActiveBusiness does not extend the TTL', async () => {
    const store = await one(400);
    const record = sessionRecord();
    await store.create(record);
    await sleep(100);
    assert.equal(await store.setActiveBusiness(record.id, 'biz'), true);
    await sleep(500);
    assert.equal(await store.touch(record.id), null);
  });

  it('never outlives principal.expiresAt, however often it is touched', async () => {
    const store = await one(LONG);
    // Margins wide enough for a busy CI machine: the point is the cap, not the precise instant.
    const record = sessionRecord({}, { expiresAt: Date.now() + 1500 });
    await store.create(record);
    assert.notEqual(await store.touch(record.id), null);
    await sleep(100);
    assert.notEqual(await store.touch(record.id), null);
    await sleep(1600);
    assert.equal(await store.touch(record.id), null);
    assert.equal(await store.setActiveBusiness(record.id, 'biz'), false);
  });

  it("a later credential of the session's own principal moves the cap (a refreshed token); another principal's never does", async () => {
    const [a, b] = await factory({ idleTtlMs: LONG }, 2);
    const mine = sessionRecord({}, { expiresAt: Date.now() + 1000 });
    const theirs = sessionRecord({}, { expiresAt: Date.now() + 1000 });
    const forever = sessionRecord({}, { expiresAt: Date.now() + 1000 });
    for (const r of [mine, theirs, forever]) await a!.create(r);
    assert.notEqual(await b!.touch(mine.id, { uid: mine.principal.uid, expiresAt: Date.now() + LONG }), null);
    assert.notEqual(await b!.touch(theirs.id, { uid: 'someone-else', expiresAt: Date.now() + LONG }), null);
    // An API key (no expiry) of the same user lifts the cap entirely.
    assert.notEqual(await a!.touch(forever.id, { uid: forever.principal.uid, expiresAt: undefined }), null);
    // An earlier expiry never shortens the cap.
    assert.notEqual(await a!.touch(mine.id, { uid: mine.principal.uid, expiresAt: Date.now() + 10 }), null);
    await sleep(1400);
    assert.notEqual(await a!.touch(mine.id), null, 'renewed: alive past the first credential');
    assert.notEqual(await a!.touch(forever.id), null, 'renewed without a cap');
    assert.equal(await a!.touch(theirs.id), null, "another user's credential did not keep it");
  });

  it('does not create a session whose principal has already expired', async () => {
    const store = await one(LONG);
    const record = sessionRecord({}, { expiresAt: Date.now() - 1 });
    await store.create(record);
    assert.equal(await store.touch(record.id), null);
    assert.equal(await store.setActiveBusiness(record.id, 'biz'), false);
  });

  it('keeps sessions apart', async () => {
    const store = await one();
    const a = sessionRecord({ activeBusinessId: 'biz-a' });
    const b = sessionRecord({ activeBusinessId: 'biz-b' });
    await Promise.all([store.create(a), store.create(b)]);
    await store.setActiveBusiness(a.id, 'biz-a2');
    await store.delete(b.id);
    assert.equal((await store.touch(a.id))?.activeBusinessId, 'biz-a2');
    assert.equal(await store.touch(b.id), null);
  });
}
