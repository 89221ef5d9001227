import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { it } from 'node:test';
import type { AuthorizationStore, CodeGrant, PendingAuthorization, RefreshFamily } from '../../src/state/authorization-store.js';
import { sleep, type StoreFactory } from './support.js';

const id = () => randomBytes(16).toString('base64url');
const hash = (s: string) => createHash('sha256').update(s).digest('base64url');

const pending = (over: Partial<PendingAuthorization> = {}): PendingAuthorization => ({
  clientId: 'fpc_client',
  redirectUri: 'http://127.0.0.1:33418/callback',
  state: 'xyz',
  codeChallenge: hash('verifier'),
  resource: 'http://localhost:4000/mcp',
  scopes: ['pos:read', 'pos:write'],
  ...over,
});
const grant = (over: Partial<CodeGrant> = {}): CodeGrant => ({
  clientId: 'fpc_client',
  redirectUri: 'http://127.0.0.1:33418/callback',
  resource: 'http://localhost:4000/mcp',
  scopes: ['pos:read'],
  codeChallenge: hash('verifier'),
  subject: 'user-1',
  ...over,
});
const family = (over: Partial<RefreshFamily> = {}): RefreshFamily => ({
  subject: 'user-1',
  clientId: 'fpc_client',
  scopes: ['pos:read', 'pos:write'],
  resource: 'http://localhost:4000/mcp',
  expiresAt: Date.now() + 3_600_000,
  ...over,
});
const access = () => ({ jti: crypto.randomUUID(), expiresAt: Date.now() + 60_000 });

/** The behaviour every AuthorizationStore must have. `factory` gives stores over one shared backend. */
export function authorizationStoreContract(factory: StoreFactory<AuthorizationStore, Record<string, never>>): void {
  it('a pending authorization written on one connection is read, updated and taken on another; a take is single', async () => {
    const [a, b] = await factory({}, 2);
    const pid = id();
    await a!.putPending(pid, pending(), 60_000);
    assert.deepEqual(await b!.getPending(pid), pending());
    assert.equal(await b!.bindPending(pid, undefined, pending({ subject: 'user-1', browserBinding: hash('cookie') })), 'ok');
    assert.equal((await a!.getPending(pid))?.subject, 'user-1');
    const takes = await Promise.all([a!.takePending(pid), b!.takePending(pid)]);
    assert.equal(takes.filter(Boolean).length, 1, 'exactly one of two concurrent takes wins');
    assert.equal(await a!.getPending(pid), undefined);
    assert.equal(await a!.bindPending(pid, hash('cookie'), pending()), 'gone', 'an update never resurrects a taken one');
  });

  it('a sign-in binds a pending authorization only over the binding it read: of two browsers signing in at once, one wins', async () => {
    const [a, b] = await factory({}, 2);
    const pid = id();
    await a!.putPending(pid, pending(), 60_000);
    const results = await Promise.all([
      a!.bindPending(pid, undefined, pending({ subject: 'one', browserBinding: hash('browser-1') })),
      b!.bindPending(pid, undefined, pending({ subject: 'two', browserBinding: hash('browser-2') })),
    ]);
    assert.deepEqual([...results].sort(), ['ok', 'taken']);
    const winner = (await a!.getPending(pid))!;
    assert.equal(winner.subject, results[0] === 'ok' ? 'one' : 'two');
    // The winning browser may sign in again (another account); a stale expectation is refused.
    assert.equal(await b!.bindPending(pid, winner.browserBinding, pending({ subject: 'three', browserBinding: hash('browser-3') })), 'ok');
    assert.equal(await a!.bindPending(pid, winner.browserBinding, pending({ subject: 'four' })), 'taken');
    assert.equal((await b!.getPending(pid))!.subject, 'three');
  });

  it('a pending authorization expires, and an update does not extend it', async () => {
    const [store] = await factory({});
    const pid = id();
    await store!.putPending(pid, pending(), 600);
    await sleep(300);
    assert.equal(await store!.bindPending(pid, undefined, pending({ subject: 'u' })), 'ok');
    await sleep(500);
    assert.equal(await store!.getPending(pid), undefined);
  });

  it('a code is redeemed once; a replay names what the first redemption produced and marks the code replayed', async () => {
    const [a, b] = await factory({}, 2);
    const code = hash(id());
    await a!.putCode(code, grant(), 60_000);
    const [f1, f2] = [id(), id()];
    const [t1, t2] = [access(), access()];
    assert.equal(await a!.codeReplayed(code), false);
    const results = await Promise.all([a!.redeemCode(code, f1, t1), b!.redeemCode(code, f2, t2)]);
    const ok = results.filter((r) => r.status === 'ok');
    const used = results.filter((r) => r.status === 'used');
    assert.equal(ok.length, 1);
    assert.equal(used.length, 1);
    assert.deepEqual(ok[0]!.status === 'ok' && ok[0]!.grant, grant());
    const [winner, token] = results[0]!.status === 'ok' ? [f1, t1] : [f2, t2];
    assert.deepEqual(used[0], { status: 'used', familyId: winner, accessToken: token });
    assert.equal(await b!.codeReplayed(code), true, 'the replay is visible to the first redemption');
    assert.deepEqual(await b!.redeemCode(code, id(), access()), { status: 'used', familyId: winner, accessToken: token });
    assert.deepEqual(await b!.redeemCode(hash(id()), id(), access()), { status: 'unknown' });
    assert.equal(await b!.codeReplayed(hash(id())), false);
  });

  it('a code expires unredeemed', async () => {
    const [store] = await factory({});
    const code = hash(id());
    await store!.putCode(code, grant(), 300);
    await sleep(500);
    assert.deepEqual(await store!.redeemCode(code, id(), access()), { status: 'unknown' });
  });

  it('a refresh token rotates once; the old one then revokes the family with its last access token', async () => {
    const [a, b] = await factory({}, 2);
    const fid = id();
    const [t1, t2, t3] = [hash(id()), hash(id()), hash(id())];
    const f = family();
    await a!.createFamily(fid, f, t1, 60_000, access());
    const second = access();
    assert.deepEqual(await b!.rotate(fid, t1, t2, 'fpc_client', 60_000, second), { status: 'ok', family: f });
    // t2 is current; t1 is used: presenting t1 again is the theft signal.
    const reuse = await a!.rotate(fid, t1, t3, 'fpc_client', 60_000, access());
    assert.equal(reuse.status, 'reused');
    assert.deepEqual(reuse.status === 'reused' && reuse.lastAccessToken, second, 'the access token minted with t2 is handed back for the deny-list');
    assert.deepEqual(await b!.rotate(fid, t2, t3, 'fpc_client', 60_000, access()), { status: 'unknown' }, 'the current token died with its family');
    assert.equal(await a!.revokeFamily(fid), undefined);
  });

  it('concurrent rotations of the same token: one wins, the other is treated as reuse', async () => {
    const [a, b] = await factory({}, 2);
    const fid = id();
    const t1 = hash(id());
    await a!.createFamily(fid, family(), t1, 60_000, access());
    const results = await Promise.all([a!.rotate(fid, t1, hash(id()), 'fpc_client', 60_000, access()), b!.rotate(fid, t1, hash(id()), 'fpc_client', 60_000, access())]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['ok', 'reused']);
  });

  it('another client cannot rotate a family, and a token it never issued changes nothing', async () => {
    const [store] = await factory({});
    const fid = id();
    const t1 = hash(id());
    await store!.createFamily(fid, family(), t1, 60_000, access());
    assert.deepEqual(await store!.rotate(fid, t1, hash(id()), 'fpc_other', 60_000, access()), { status: 'wrong_client' });
    assert.deepEqual(await store!.rotate(fid, hash(id()), hash(id()), 'fpc_client', 60_000, access()), { status: 'unknown' });
    assert.equal((await store!.rotate(fid, t1, hash(id()), 'fpc_client', 60_000, access())).status, 'ok', 'still usable by its own client');
  });

  it('a family lives its idle TTL, renewed by rotation, but never past its absolute expiry', async () => {
    const [store] = await factory({});
    const idle = id();
    const t = hash(id());
    await store!.createFamily(idle, family(), t, 400, access());
    await sleep(600);
    assert.deepEqual(await store!.rotate(idle, t, hash(id()), 'fpc_client', 400, access()), { status: 'unknown' }, 'idle too long');

    const capped = id();
    let current = hash(id());
    await store!.createFamily(capped, family({ expiresAt: Date.now() + 700 }), current, 60_000, access());
    const next = hash(id());
    assert.equal((await store!.rotate(capped, current, next, 'fpc_client', 60_000, access())).status, 'ok');
    current = next;
    await sleep(900);
    assert.deepEqual(await store!.rotate(capped, current, hash(id()), 'fpc_client', 60_000, access()), { status: 'unknown' }, 'past its absolute expiry');
  });

  it('revoking a family returns it once', async () => {
    const [a, b] = await factory({}, 2);
    const fid = id();
    const first = access();
    await a!.createFamily(fid, family(), hash(id()), 60_000, first);
    const revoked = await b!.revokeFamily(fid);
    assert.equal(revoked?.family.subject, 'user-1');
    assert.deepEqual(revoked?.lastAccessToken, first);
    assert.equal(await a!.revokeFamily(fid), undefined);
  });

  it('refuses ids that are not ours', async () => {
    const [store] = await factory({});
    await assert.rejects(store!.getPending('short'));
    await assert.rejects(store!.putPending('x:{y}'.repeat(4), pending(), 1000));
    await assert.rejects(store!.redeemCode('*'.repeat(43), id(), access()));
    await assert.rejects(store!.revokeFamily(''));
    await assert.rejects(store!.putCode(hash(id()), grant(), 0));
  });
}
