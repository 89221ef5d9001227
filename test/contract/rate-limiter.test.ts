import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { MemoryRateLimiter } from '../../src/state/memory-rate-limiter.js';
import { clusterKeySlot } from '../../src/state/redis-client.js';
import { RedisRateLimiter } from '../../src/state/redis-rate-limiter.js';
import { rateLimiterContract } from './rate-limiter.contract.js';
import { sharedMemory, useRedis } from './support.js';

describe('MemoryRateLimiter', () => {
  const memory = sharedMemory(() => new MemoryRateLimiter({ sweepIntervalMs: 50 }));
  rateLimiterContract((connections = 1) => memory(undefined, connections));
});

describe('RedisRateLimiter', () => {
  const { clients, redis } = useRedis();
  rateLimiterContract(async (connections = 1) => (await clients.many(connections)).map((client) => new RedisRateLimiter(client, clients.keys)));

  it('keeps each bucket in <prefix>rl:{<user>}:<bucket>, one slot per user, expiring one window after the last hit', async () => {
    const client = await clients.connect();
    const limiter = new RedisRateLimiter(client, clients.keys);
    const user = randomUUID();
    assert.ok((await limiter.hit(user, [{ bucket: 'requests', limit: 5, windowMs: 30_000 }, { bucket: 'writes', limit: 5, windowMs: 10_000 }])).allowed);
    const keys = [`${redis().keyPrefix}rl:{${user}}:requests`, `${redis().keyPrefix}rl:{${user}}:writes`];
    assert.deepEqual(keys, [clients.keys.rateLimit(user, 'requests'), clients.keys.rateLimit(user, 'writes')]);
    assert.deepEqual(await Promise.all(keys.map((k) => client.type(k))), ['zset', 'zset']);
    const [ttlRequests, ttlWrites] = await Promise.all(keys.map((k) => client.pTTL(k)));
    assert.ok(ttlRequests! > 29_000 && ttlRequests! <= 30_000, String(ttlRequests));
    assert.ok(ttlWrites! > 9_000 && ttlWrites! <= 10_000, String(ttlWrites));
    assert.equal(clusterKeySlot(keys[0]!), clusterKeySlot(keys[1]!));
    // A refusal writes nothing new: the key still holds one hit.
    assert.equal((await limiter.hit(user, [{ bucket: 'writes', limit: 1, windowMs: 10_000 }])).allowed, false);
    assert.equal(await client.zCard(keys[1]!), 1);
  });
});
