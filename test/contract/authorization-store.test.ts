import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { MemoryAuthorizationStore } from '../../src/state/memory-authorization-store.js';
import { RedisAuthorizationStore } from '../../src/state/redis-authorization-store.js';
import { authorizationStoreContract } from './authorization-store.contract.js';
import { sharedMemory, useRedis } from './support.js';

describe('MemoryAuthorizationStore', () => {
  authorizationStoreContract(sharedMemory((_opts) => new MemoryAuthorizationStore({ sweepIntervalMs: 50 })));
});

describe('RedisAuthorizationStore', () => {
  const { clients, redis } = useRedis();
  authorizationStoreContract(async (_opts, connections = 1) =>
    (await clients.many(connections)).map((client) => new RedisAuthorizationStore(client, clients.keys)),
  );

  it('stores codes and refresh tokens only as digests, every key with a TTL, a family in one slot', async () => {
    const [client] = await clients.many(1);
    const store = new RedisAuthorizationStore(client!, clients.keys);
    const code = randomBytes(32).toString('base64url');
    const codeHash = createHash('sha256').update(code).digest('base64url');
    const fid = randomBytes(16).toString('base64url');
    const token = randomBytes(32).toString('base64url');
    await store.putCode(codeHash, { clientId: 'c', redirectUri: 'http://127.0.0.1/cb', resource: 'r', scopes: ['pos:read'], codeChallenge: 'x', subject: 's' }, 60_000);
    await store.createFamily(fid, { subject: 's', clientId: 'c', scopes: ['pos:read'], resource: 'r', expiresAt: Date.now() + 120_000 }, createHash('sha256').update(token).digest('base64url'), 60_000, { jti: 'j', expiresAt: Date.now() + 1000 });
    const prefix = redis().keyPrefix;
    const keys = [`${prefix}oauth:code:${codeHash}`, `${prefix}oauth:rt:{${fid}}`];
    assert.equal(await client!.exists(keys), 2);
    for (const key of keys) {
      const ttl = await client!.pTTL(key);
      assert.ok(ttl > 0 && ttl <= 60_000, `${key} TTL ${ttl}`);
      const dump = JSON.stringify(await client!.hGetAll(key));
      assert.ok(!dump.includes(code) && !dump.includes(token), 'no secret stored in clear');
    }
    assert.equal(clients.keys.refreshFamily(fid).used, `${prefix}oauth:rt:{${fid}}:used`);
  });
});
