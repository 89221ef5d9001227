import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, test } from 'node:test';
import { decodeJwt, decodeProtectedHeader, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { AccessTokenError, AccessTokens, type AccessTokenOptions } from '../../src/auth/access-tokens.js';
import { startJwksServer } from '../helpers/jwks.js';

const SECRET = 'a'.repeat(16) + 'secret-for-unit-tests-0123456789';
const OTHER_SECRET = 'b'.repeat(16) + 'another-secret-of-enough-length';
const ISSUER = 'https://pos.example.test';
const AUDIENCE = 'https://pos.example.test/mcp';
const T0 = Date.UTC(2030, 0, 1, 12, 0, 0);

/** A clock the test moves by hand. */
function frozenClock(start = T0) {
  let now = start;
  return { now: () => now, advance: (ms: number) => (now += ms) };
}

function tokens(over: Partial<AccessTokenOptions> = {}) {
  return new AccessTokens({ issuer: ISSUER, audience: AUDIENCE, secret: SECRET, ttlSeconds: 3600, ...over });
}

async function refused(p: Promise<unknown>, reason: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof AccessTokenError, String(err));
    assert.equal(err.reason, reason, err.message);
    return true;
  });
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
/** An HS256 JWT made by hand, so nothing in jose stops an attacker-shaped token from being built. */
function handSigned(header: Record<string, unknown>, payload: Record<string, unknown>, secret: string | Buffer): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}

describe('access tokens (RFC 9068, HS256)', () => {
  test('mint → verify round trip with every claim RFC 9068 asks for', async () => {
    const clock = frozenClock();
    const t = tokens({ now: clock.now });
    const minted = await t.mint({ subject: 'user-1', scopes: ['pos:write', 'pos:read'], clientId: 'cli' });
    assert.equal(minted.expiresIn, 3600);
    const header = decodeProtectedHeader(minted.token);
    assert.equal(header.alg, 'HS256');
    assert.equal(header.typ, 'at+jwt');
    assert.equal(typeof header.kid, 'string');
    const claims = decodeJwt(minted.token);
    assert.deepEqual(
      { iss: claims.iss, aud: claims.aud, sub: claims.sub, iat: claims.iat, exp: claims.exp, scope: claims.scope, client_id: claims.client_id },
      { iss: ISSUER, aud: AUDIENCE, sub: 'user-1', iat: T0 / 1000, exp: T0 / 1000 + 3600, scope: 'pos:read pos:write', client_id: 'cli' },
    );
    assert.equal(claims.jti, minted.jti);
    const verified = await t.verify(minted.token);
    assert.deepEqual(verified, { sub: 'user-1', jti: minted.jti, iat: T0 / 1000, exp: T0 / 1000 + 3600, aud: AUDIENCE, scopes: ['pos:read', 'pos:write'], clientId: 'cli' });
  });

  test('every token gets its own jti', async () => {
    const t = tokens();
    const a = await t.mint({ subject: 'u', scopes: ['pos:read'], clientId: 'c' });
    const b = await t.mint({ subject: 'u', scopes: ['pos:read'], clientId: 'c' });
    assert.notEqual(a.jti, b.jti);
  });

  test('expiry on a frozen clock: valid within tolerance, refused after', async () => {
    const clock = frozenClock();
    const t = tokens({ now: clock.now, clockToleranceSeconds: 5 });
    const { token } = await t.mint({ subject: 'u', scopes: ['pos:read'], clientId: 'c' });
    clock.advance(3600_000 + 4_000);
    assert.equal((await t.verify(token)).sub, 'u');
    clock.advance(2_000);
    await refused(t.verify(token), 'expired');
  });

  test('a shorter lifetime may be asked for, never a longer one', async () => {
    const t = tokens({ now: frozenClock().now });
    assert.equal((await t.mint({ subject: 'u', scopes: [], clientId: 'c', ttlSeconds: 60 })).expiresIn, 60);
    assert.equal((await t.mint({ subject: 'u', scopes: [], clientId: 'c', ttlSeconds: 999_999 })).expiresIn, 3600);
  });

  test('another audience or issuer is refused', async () => {
    const clock = frozenClock();
    const { token: otherAud } = await tokens({ now: clock.now, audience: 'https://elsewhere.example/mcp' }).mint({ subject: 'u', scopes: [], clientId: 'c' });
    await refused(tokens({ now: clock.now }).verify(otherAud), 'wrong_audience');
    const { token: otherIss } = await tokens({ now: clock.now, issuer: 'https://elsewhere.example' }).mint({ subject: 'u', scopes: [], clientId: 'c' });
    await refused(tokens({ now: clock.now }).verify(otherIss), 'wrong_issuer');
  });

  test('alg none is refused', async () => {
    const unsigned = new UnsecuredJWT({ iss: ISSUER, aud: AUDIENCE, sub: 'u', jti: 'j', scope: 'pos:read pos:write' }).setIssuedAt().setExpirationTime('1h').encode();
    await refused(tokens().verify(unsigned), 'bad_algorithm');
    // Even with our typ and a kid, and a signature tacked on.
    const dressed = `${b64({ alg: 'none', typ: 'at+jwt' })}.${unsigned.split('.')[1]}.${'x'.repeat(43)}`;
    await refused(tokens().verify(dressed), 'bad_algorithm');
  });

  test('HS/RS confusion: an HS256 token keyed with an RSA public key PEM is refused, and so is a real RS256 token', async () => {
    const jwks = await startJwksServer();
    try {
      const pem = await jwks.publicKeyPem();
      const now = Math.floor(Date.now() / 1000);
      const payload = { iss: ISSUER, aud: AUDIENCE, sub: 'attacker', jti: 'j1', scope: 'pos:read pos:write', iat: now, exp: now + 600 };
      const confused = handSigned({ alg: 'HS256', typ: 'at+jwt' }, payload, pem);
      await refused(tokens().verify(confused), 'bad_signature');
      const { privateKey } = await generateKeyPair('RS256');
      const rs = await new SignJWT(payload).setProtectedHeader({ alg: 'RS256', typ: 'at+jwt' }).sign(privateKey);
      await refused(tokens().verify(rs), 'bad_algorithm');
    } finally {
      await jwks.stop();
    }
  });

  test('a token signed with another secret is refused, with or without a kid', async () => {
    const { token } = await tokens({ secret: OTHER_SECRET }).mint({ subject: 'u', scopes: [], clientId: 'c' });
    await refused(tokens().verify(token), 'bad_signature');
    const now = Math.floor(Date.now() / 1000);
    const noKid = handSigned({ alg: 'HS256', typ: 'at+jwt' }, { iss: ISSUER, aud: AUDIENCE, sub: 'u', jti: 'j', scope: 'pos:read', iat: now, exp: now + 60 }, OTHER_SECRET);
    await refused(tokens().verify(noKid), 'bad_signature');
  });

  test('a tampered payload is refused', async () => {
    const { token } = await tokens().mint({ subject: 'u', scopes: ['pos:read'], clientId: 'c' });
    const [h, p, s] = token.split('.');
    const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
    const forged = `${h}.${b64({ ...claims, scope: 'pos:read pos:write' })}.${s}`;
    await refused(tokens().verify(forged), 'bad_signature');
  });

  test('the right key but the wrong typ (a plain JWT) is refused', async () => {
    const now = Math.floor(Date.now() / 1000);
    const plain = handSigned({ alg: 'HS256', typ: 'JWT' }, { iss: ISSUER, aud: AUDIENCE, sub: 'u', jti: 'j', scope: 'pos:read', iat: now, exp: now + 60 }, SECRET);
    await refused(tokens().verify(plain), 'bad_type');
  });

  test('rotation: tokens of the previous secret still verify; new ones are signed with the current one', async () => {
    const before = tokens({ secret: OTHER_SECRET });
    const { token: old } = await before.mint({ subject: 'u', scopes: ['pos:read'], clientId: 'c' });
    const rotated = tokens({ secret: SECRET, previousSecret: OTHER_SECRET });
    assert.equal((await rotated.verify(old)).sub, 'u');
    const { token: fresh } = await rotated.mint({ subject: 'u', scopes: ['pos:read'], clientId: 'c' });
    assert.equal((await tokens({ secret: SECRET }).verify(fresh)).sub, 'u', 'signed with the current secret');
    await refused(before.verify(fresh), 'bad_signature');
    // Once the previous secret is dropped, its tokens stop working.
    await refused(tokens({ secret: SECRET }).verify(old), 'bad_signature');
  });

  test('garbage, oversized and non-JWT credentials are malformed, not errors', async () => {
    for (const junk of ['', 'abc', 'a.b.c', `${'x'.repeat(5000)}.y.z`]) await refused(tokens().verify(junk), 'malformed');
  });

  test('short secrets are refused at construction', () => {
    assert.throws(() => tokens({ secret: 'short' }), /at least 32/);
  });
});
