import { describe } from 'node:test';
import { MemorySessionStore } from '../../src/state/memory-session-store.js';
import { RedisSessionStore } from '../../src/state/redis-session-store.js';
import { sessionStoreContract } from './session-store.contract.js';
import { sharedMemory, useRedis } from './support.js';

describe('MemorySessionStore', () => {
  sessionStoreContract(sharedMemory((opts) => new MemorySessionStore({ ...opts, sweepIntervalMs: 50 })));
});

describe('RedisSessionStore', () => {
  const { clients } = useRedis();
  sessionStoreContract(async (opts, connections = 1) =>
    (await clients.many(connections)).map((client) => new RedisSessionStore(client, clients.keys, opts)),
  );
});
