import { describe } from 'node:test';
import { MemoryPreferenceStore } from '../../src/state/memory-preference-store.js';
import { RedisPreferenceStore } from '../../src/state/redis-preference-store.js';
import { preferenceStoreContract } from './preference-store.contract.js';
import { sharedMemory, useRedis } from './support.js';

describe('MemoryPreferenceStore', () => {
  preferenceStoreContract(sharedMemory((opts) => new MemoryPreferenceStore({ ...opts, sweepIntervalMs: 50 })));
});

describe('RedisPreferenceStore', () => {
  const { clients } = useRedis();
  preferenceStoreContract(async (opts, connections = 1) =>
    (await clients.many(connections)).map((client) => new RedisPreferenceStore(client, clients.keys, opts)),
  );
});
