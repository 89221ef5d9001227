import { describe } from 'node:test';
import { MemoryCartStore } from '../../src/state/memory-cart-store.js';
import { RedisCartStore } from '../../src/state/redis-cart-store.js';
import { cartStoreContract } from './cart-store.contract.js';
import { sharedMemory, useRedis } from './support.js';

describe('MemoryCartStore', () => {
  cartStoreContract(sharedMemory((opts) => new MemoryCartStore({ ...opts, sweepIntervalMs: 50 })));
});

describe('RedisCartStore', () => {
  const { clients } = useRedis();
  cartStoreContract(async (opts, connections = 1) =>
    (await clients.many(connections)).map((client) => new RedisCartStore(client, clients.keys, opts)),
  );
});
