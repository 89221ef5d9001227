import { after, before, describe } from 'node:test';
import { MemoryCartStore } from '../../src/state/memory-cart-store.js';
import { RedisCartStore } from '../../src/state/redis-cart-store.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { cartStoreContract } from './cart-store.contract.js';
import { RedisClients } from './support.js';

describe('MemoryCartStore', () => {
  const stores: MemoryCartStore[] = [];
  after(() => stores.forEach((s) => s.close()));
  cartStoreContract(async (opts, connections = 1) => {
    const store = new MemoryCartStore({ ...opts, sweepIntervalMs: 50 });
    stores.push(store);
    return Array.from({ length: connections }, () => store);
  });
});

describe('RedisCartStore', () => {
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
  cartStoreContract(async (opts, connections = 1) =>
    (await clients.many(connections)).map((client) => new RedisCartStore(client, clients.keys, opts)),
  );
});
