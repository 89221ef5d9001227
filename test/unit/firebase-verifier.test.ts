import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { FirebaseTokenError, FirebaseVerifier, type FirebaseVerifierOptions } from '../../src/auth/firebase-verifier.js';
import { startJwksServer, type JwksFixture } from '../helpers/jwks.js';

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

async function refused(p: Promise<unknown>, reason: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof FirebaseTokenError, String(err));
    assert.equal(err.reason, reason, err.message);
    return true;
  });
}

/** Firebase ID token verification against real RSA keys served by a local JWKS endpoint, on a frozen clock. */
describe('Firebase ID token verification', () => {
  let jwks: JwksFixture;
  before(async () => {
    jwks = await startJwksServer({ projectId: 'flowpos-test' });
  });
  after(() => jwks.stop());

  const verifier = (over: Partial<FirebaseVerifierOptions> = {}) =>
    new FirebaseVerifier({ projectId: jwks.projectId, jwksUrl: jwks.url, now: () => T0, jwksCooldownMs: 0, ...over });

  test('a valid token yields the uid, email and name', async () => {
    const token = await jwks.idToken('alice', { email: 'alice@example.test', name: 'Alice' }, { now: T0 });
    assert.deepEqual(await verifier().verify(token), { uid: 'alice', email: 'alice@example.test', name: 'Alice' });
  });

  test('expired (past exp beyond the tolerance) → expired; within tolerance → accepted', async () => {
    const token = await jwks.idToken('bob', {}, { now: T0 });
    const exp = T0 + 3570_000;
    await refused(verifier({ now: () => exp + 6_000 }).verify(token), 'expired');
    assert.equal((await verifier({ now: () => exp + 4_000 }).verify(token)).uid, 'bob');
  });

  test('another project (aud) → wrong_audience; another issuer → wrong_issuer', async () => {
    await refused(verifier().verify(await jwks.idToken('c', { aud: 'someone-elses-project' }, { now: T0 })), 'wrong_audience');
    await refused(verifier().verify(await jwks.idToken('c', { iss: 'https://securetoken.google.com/someone-elses-project' }, { now: T0 })), 'wrong_issuer');
    await refused(verifier().verify(await jwks.idToken('c', { iss: 'https://accounts.google.com' }, { now: T0 })), 'wrong_issuer');
    // A verifier for another project refuses our project's tokens.
    await refused(verifier({ projectId: 'other-project' }).verify(await jwks.idToken('c', {}, { now: T0 })), 'wrong_audience');
  });

  test('sub must be a non-empty string of at most 128 characters', async () => {
    await refused(verifier().verify(await jwks.idToken('x', { sub: '' }, { now: T0 })), 'bad_claims');
    await refused(verifier().verify(await jwks.idToken('x', { sub: undefined }, { now: T0 })), 'bad_claims');
    await refused(verifier().verify(await jwks.idToken('y'.repeat(129), {}, { now: T0 })), 'bad_claims');
    assert.equal((await verifier().verify(await jwks.idToken('y'.repeat(128), {}, { now: T0 }))).uid.length, 128);
  });

  test('iat and auth_time must be in the past; auth_time must be there', async () => {
    const s = T0 / 1000;
    await refused(verifier().verify(await jwks.idToken('x', { iat: s + 600 }, { now: T0 })), 'bad_claims');
    await refused(verifier().verify(await jwks.idToken('x', { auth_time: s + 600 }, { now: T0 })), 'bad_claims');
    await refused(verifier().verify(await jwks.idToken('x', { auth_time: undefined }, { now: T0 })), 'bad_claims');
  });

  test('a token signed by a key not in the set → unknown_key; a known kid with the wrong key → bad_signature', async () => {
    const stranger = await jwks.strangerKey();
    await refused(verifier().verify(await jwks.idToken('x', {}, { now: T0, kid: 'not-a-google-kid', key: stranger })), 'unknown_key');
    await refused(verifier().verify(await jwks.idToken('x', {}, { now: T0, key: stranger })), 'bad_signature');
  });

  test('alg none is refused unless the emulator is configured; then its tokens pass the same claim checks', async () => {
    const unsigned = jwks.unsignedIdToken('emu-user', {}, { now: T0 });
    await refused(verifier().verify(unsigned), 'bad_algorithm');
    assert.equal((await verifier({ emulator: true }).verify(unsigned)).uid, 'emu-user');
    await refused(verifier({ emulator: true }).verify(jwks.unsignedIdToken('e', { aud: 'other' }, { now: T0 })), 'wrong_audience');
    await refused(verifier({ emulator: true, now: () => T0 + 7200_000 }).verify(unsigned), 'expired');
    // Signed tokens are still checked properly in emulator mode.
    await refused(verifier({ emulator: true }).verify(await jwks.idToken('x', {}, { now: T0, key: await jwks.strangerKey() })), 'bad_signature');
  });

  test('HS256 and other algorithms are refused before any key is looked up', async () => {
    const [, payload] = (await jwks.idToken('x', {}, { now: T0 })).split('.');
    const hs = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')}.${payload}.c2ln`;
    await refused(verifier().verify(hs), 'bad_algorithm');
  });

  test('garbage is malformed', async () => {
    for (const junk of ['', 'abc', 'a.b.c', 'x'.repeat(9000)]) await refused(verifier().verify(junk), 'malformed');
  });

  test('key rotation: a token signed with a new key triggers a refetch and verifies', async () => {
    const v = verifier();
    assert.equal((await v.verify(await jwks.idToken('r1', {}, { now: T0 }))).uid, 'r1');
    const fetchesBefore = jwks.fetches;
    await jwks.rotate();
    assert.equal((await v.verify(await jwks.idToken('r2', {}, { now: T0 }))).uid, 'r2');
    assert.equal(jwks.fetches, fetchesBefore + 1, 'one refetch for the unknown kid');
    // Cached: a second token with the same key costs no fetch.
    await v.verify(await jwks.idToken('r3', {}, { now: T0 }));
    assert.equal(jwks.fetches, fetchesBefore + 1);
  });

  test('JWKS unreachable or failing → keys_unavailable (not the caller\'s fault)', async () => {
    jwks.failing(true);
    try {
      await refused(verifier().verify(await jwks.idToken('x', {}, { now: T0 })), 'keys_unavailable');
    } finally {
      jwks.failing(false);
    }
    await refused(verifier({ jwksUrl: 'http://127.0.0.1:9/nothing-listens-here' }).verify(await jwks.idToken('x', {}, { now: T0 })), 'keys_unavailable');
  });
});
