import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { API_KEY_PREFIX, generateApiKey, hashSecret, parseApiKey, secretMatches } from '../../src/auth/api-key-format.js';
import { createApiKey, findApiKey, listApiKeys, revokeApiKey, touchApiKeysLastUsed, UnknownUserError } from '../../src/auth/api-key-repo.js';
import type { Scope } from '../../src/auth/principal.js';
import { DEMO } from '../../src/db/seed.js';
import { forEachDbBackend } from '../helpers/db-backends.js';
import { addUser } from '../helpers/db-fixtures.js';

describe('API key format', () => {
  it('generates fpk_<12 base32>_<32 base64url> keys that parse back', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) {
      const { key, keyId, secretHash } = generateApiKey();
      assert.match(key, /^fpk_[a-z2-7]{12}_[A-Za-z0-9_-]{32}$/);
      const parsed = parseApiKey(key);
      assert.ok(parsed, key);
      assert.equal(parsed.keyId, keyId);
      assert.equal(`${API_KEY_PREFIX}${parsed.keyId}_${parsed.secret}`, key);
      assert.equal(hashSecret(parsed.secret), secretHash);
      assert.ok(secretMatches(parsed.secret, secretHash));
      assert.ok(!key.includes(secretHash));
      seen.add(keyId);
    }
    assert.equal(seen.size, 200, 'key ids are random');
  });

  it('parses secrets containing _ and - by position, not by splitting on every _', () => {
    const secret = '_abc-DEF_ghi-JKL_mno-PQR_stu-VW_';
    assert.equal(secret.length, 32);
    assert.deepEqual(parseApiKey(`fpk_abcdefgh2345_${secret}`), { keyId: 'abcdefgh2345', secret });
  });

  it('rejects malformed keys', () => {
    const good = 'fpk_abcdefgh2345_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    assert.ok(parseApiKey(good));
    const bad = [
      '',
      'fpk_',
      good.slice(0, -1), // secret too short
      `${good}A`, // secret too long
      good.replace('fpk_', 'fpx_'),
      good.replace('fpk_', 'FPK_'),
      ` ${good}`,
      `${good}\n`,
      `Bearer ${good}`,
      'fpk_ABCDEFGH2345_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', // upper-case key id
      'fpk_abcdefgh2301_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', // 0 and 1 are not base32
      'fpk_abcdefgh234_5AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', // key id 11 chars
      'fpk_abcdefgh2345-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', // wrong separator
      'fpk_abcdefgh_345_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA', // _ inside key id
      'fpk_abcdefgh2345_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=', // padding
      'fpk_abcdefgh2345_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA+',
      'fpk_abcdefgh2345_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAé',
    ];
    for (const key of bad) assert.equal(parseApiKey(key), null, JSON.stringify(key));
    assert.equal(parseApiKey(undefined as unknown as string), null);
  });

  it('secretMatches is exact and tolerates a malformed stored hash', () => {
    const { key, secretHash } = generateApiKey();
    const { secret } = parseApiKey(key)!;
    assert.equal(secretMatches(secret, secretHash), true);
    assert.equal(secretMatches(`${secret.slice(0, -1)}${secret.endsWith('A') ? 'B' : 'A'}`, secretHash), false);
    assert.equal(secretMatches('', secretHash), false);
    assert.equal(secretMatches(secret, secretHash.toUpperCase()), false);
    assert.equal(secretMatches(secret, secretHash.slice(0, 62)), false);
    assert.equal(secretMatches(secret, ''), false);
    assert.equal(hashSecret('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });
});

forEachDbBackend('API key repository', (ctx) => {
  const scopes: Scope[] = ['pos:read', 'pos:write'];

  it('creates a key, stores only the hash, and finds it by id', async () => {
    const db = ctx.db();
    const { key, record } = await createApiKey(db, { userId: DEMO.users.demo, name: 'laptop', scopes });
    const parsed = parseApiKey(key);
    assert.ok(parsed);
    assert.equal(record.keyId, parsed.keyId);
    assert.deepEqual({ ...record, createdAt: null }, {
      keyId: parsed.keyId,
      userId: DEMO.users.demo,
      name: 'laptop',
      scopes,
      createdAt: null,
      expiresAt: null,
      lastUsedAt: null,
      revokedAt: null,
    });
    assert.ok(record.createdAt instanceof Date);
    assert.ok(!('secretHash' in record), 'the listing record has no secret material');

    const found = await findApiKey(db, parsed.keyId);
    assert.ok(found);
    assert.deepEqual({ ...found, secretHash: undefined }, { ...record, secretHash: undefined });
    assert.equal(found.secretHash, hashSecret(parsed.secret));
    assert.ok(secretMatches(parsed.secret, found.secretHash));

    const { rows } = await db.query<Record<string, unknown>>('SELECT * FROM mcp_api_key WHERE key_id = $1', [parsed.keyId]);
    assert.ok(!JSON.stringify(rows).includes(parsed.secret), 'the secret is not stored');
  });

  it('a wrong secret for a real key id does not match', async () => {
    const { key } = await createApiKey(ctx.db(), { userId: DEMO.users.demo, name: 'x', scopes: ['pos:read'] });
    const { keyId } = parseApiKey(key)!;
    const forged = parseApiKey(`fpk_${keyId}_${'A'.repeat(32)}`)!;
    const found = await findApiKey(ctx.db(), keyId);
    assert.equal(secretMatches(forged.secret, found!.secretHash), false);
    assert.equal(await findApiKey(ctx.db(), 'aaaaaaaaaaaa'), null);
    assert.equal(await findApiKey(ctx.db(), "' OR 1=1 --"), null);
  });

  it('keeps expiry, including one already past', async () => {
    const future = new Date(Date.now() + 3_600_000);
    const past = new Date(Date.now() - 1_000);
    const a = await createApiKey(ctx.db(), { userId: DEMO.users.demo, name: 'future', scopes, expiresAt: future });
    const b = await createApiKey(ctx.db(), { userId: DEMO.users.demo, name: 'past', scopes, expiresAt: past });
    assert.equal(a.record.expiresAt?.getTime(), future.getTime());
    assert.equal((await findApiKey(ctx.db(), b.record.keyId))?.expiresAt?.getTime(), past.getTime());
  });

  it('refuses unknown users and unknown scopes', async () => {
    await assert.rejects(createApiKey(ctx.db(), { userId: 'ghost', name: 'x', scopes }), UnknownUserError);
    await assert.rejects(createApiKey(ctx.db(), { userId: DEMO.users.demo, name: 'x', scopes: ['pos:admin' as Scope] }), RangeError);
  });

  it('revokes once: true the first time, false when already revoked or unknown', async () => {
    const { record } = await createApiKey(ctx.db(), { userId: DEMO.users.demo, name: 'to revoke', scopes });
    assert.equal(await revokeApiKey(ctx.db(), record.keyId), true);
    const revoked = await findApiKey(ctx.db(), record.keyId);
    assert.ok(revoked?.revokedAt instanceof Date);
    assert.equal(await revokeApiKey(ctx.db(), record.keyId), false);
    assert.equal((await findApiKey(ctx.db(), record.keyId))?.revokedAt?.getTime(), revoked.revokedAt.getTime(), 'first revocation time kept');
    assert.equal(await revokeApiKey(ctx.db(), 'zzzzzzzzzzzz'), false);
  });

  it('lists keys, all or one user’s, oldest first, without secrets', async () => {
    const db = ctx.db();
    const user = await addUser(db);
    const other = await addUser(db);
    const k1 = await createApiKey(db, { userId: user, name: 'one', scopes: ['pos:read'] });
    const k2 = await createApiKey(db, { userId: user, name: 'two', scopes });
    const k3 = await createApiKey(db, { userId: other, name: 'three', scopes });

    const mine = await listApiKeys(db, { userId: user });
    assert.deepEqual(mine.map((k) => k.keyId), [k1.record.keyId, k2.record.keyId]);
    assert.deepEqual(mine[0], k1.record);
    assert.ok(mine.every((k) => !('secretHash' in k)));
    const all = (await listApiKeys(db)).map((k) => k.keyId);
    for (const id of [k1.record.keyId, k2.record.keyId, k3.record.keyId]) assert.ok(all.includes(id));
    assert.deepEqual(await listApiKeys(db, { userId: 'nobody' }), []);
  });

  it('touches last_used_at for a batch in one call, never moving it backwards', async () => {
    const db = ctx.db();
    const a = await createApiKey(db, { userId: DEMO.users.demo, name: 'a', scopes });
    const b = await createApiKey(db, { userId: DEMO.users.demo, name: 'b', scopes });
    const c = await createApiKey(db, { userId: DEMO.users.demo, name: 'c', scopes });
    const t1 = new Date('2030-01-01T10:00:00.000Z');
    const t0 = new Date('2030-01-01T09:00:00.000Z');

    assert.equal(await touchApiKeysLastUsed(db, [a.record.keyId, b.record.keyId, a.record.keyId, 'unknownkey22'], t1), 2);
    assert.equal((await findApiKey(db, a.record.keyId))?.lastUsedAt?.toISOString(), t1.toISOString());
    assert.equal((await findApiKey(db, b.record.keyId))?.lastUsedAt?.toISOString(), t1.toISOString());
    assert.equal((await findApiKey(db, c.record.keyId))?.lastUsedAt, null, 'untouched key stays null');

    assert.equal(await touchApiKeysLastUsed(db, [a.record.keyId], t0), 0, 'an older stamp is ignored');
    assert.equal((await findApiKey(db, a.record.keyId))?.lastUsedAt?.toISOString(), t1.toISOString());
    assert.equal(await touchApiKeysLastUsed(db, [], t1), 0);
  });
});
