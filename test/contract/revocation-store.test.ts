import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { MemoryRevocationStore } from '../../src/state/memory-revocation-store.js';
import { RedisRevocationStore } from '../../src/state/redis-revocation-store.js';
import { revocationStoreContract } from './revocation-store.contract.js';
import { sharedMemory, useRedis } from './support.js';

describe('MemoryRevocationStore', () => {
  revocationStoreContract(sharedMemory((_opts) => new MemoryRevocationStore({ sweepIntervalMs: 50 })));
});

describe('RedisRevocationStore', () => {
  const { clients, redis } = useRedis();
  revocationStoreContract(async (_opts, connections = 1) =>
    (await clients.many(connections)).map((client) => new RedisRevocationStore(client, clients.keys)),
  );

  it('writes exactly `<prefix>revoked:<jti>`, with a TTL no longer than the token has left', async () => {
    const [client] = await clients.many(1);
    const jti = randomUUID();
    await new RedisRevocationStore(client!, clients.keys).revoke(jti, Date.now() + 90_000);
    const key = `${redis().keyPrefix}revoked:${jti}`;
    assert.equal(clients.keys.revokedToken(jti), key);
    const ttl = await client!.pTTL(key);
    assert.ok(ttl > 85_000 && ttl <= 90_000, `TTL ${ttl}`);
  });
});
