import { after, before, describe } from 'node:test';
import { MemoryPreferenceStore } from '../../src/state/memory-preference-store.js';
import { RedisPreferenceStore } from '../../src/state/redis-preference-store.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { preferenceStoreContract } from './preference-store.contract.js';
import { RedisClients } from './support.js';

describe('MemoryPreferenceStore', () => {
  const stores: MemoryPreferenceStore[] = [];
  after(() => stores.forEach((s) => s.close()));
  preferenceStoreContract(async (opts, connections = 1) => {
    const store = new MemoryPreferenceStore({ ...opts, sweepIntervalMs: 50 });
    stores.push(store);
    return Array.from({ length: connections }, () => store);
  });
});

describe('RedisPreferenceStore', () => {
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
  preferenceStoreContract(async (opts, connections = 1) =>
    (await clients.many(connections)).map((client) => new RedisPreferenceStore(client, clients.keys, opts)),
  );
});
