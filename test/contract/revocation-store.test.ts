import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { MemoryRevocationStore } from '../../src/state/memory-revocation-store.js';
import { RedisRevocationStore } from '../../src/state/redis-revocation-store.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { revocationStoreContract } from './revocation-store.contract.js';
import { RedisClients } from './support.js';

describe('MemoryRevocationStore', () => {
  const stores: MemoryRevocationStore[] = [];
  after(() => stores.forEach((s) => s.close()));
  revocationStoreContract(async (_opts, connections = 1) => {
    const store = new MemoryRevocationStore({ sweepIntervalMs: 50 });
    stores.push(store);
    return Array.from({ length: connections }, () => store);
  });
});

describe('RedisRevocationStore', () => {
  let redis: TestRedis;
  const clients = new RedisClients(
    () => redis.url,
    () => redis.keyPrefix,
  );
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await clients.closeAll();
    await redis?.stop();
  });
  revocationStoreContract(async (_opts, connections = 1) =>
    (await clients.many(connections)).map((client) => new RedisRevocationStore(client, clients.keys)),
  );

  it('writes exactly `<prefix>revoked:<jti>`, with a TTL no longer than the token has left', async () => {
    const [client] = await clients.many(1);
    const jti = randomUUID();
    await new RedisRevocationStore(client!, clients.keys).revoke(jti, Date.now() + 90_000);
    const key = `${redis.keyPrefix}revoked:${jti}`;
    assert.equal(clients.keys.revokedToken(jti), key);
    const ttl = await client!.pTTL(key);
    assert.ok(ttl > 85_000 && ttl <= 90_000, `TTL ${ttl}`);
  });
});
