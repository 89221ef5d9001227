import { after, before, describe } from 'node:test';
import { MemorySessionStore } from '../../src/state/memory-session-store.js';
import { RedisSessionStore } from '../../src/state/redis-session-store.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { sessionStoreContract } from './session-store.contract.js';
import { RedisClients } from './support.js';

describe('MemorySessionStore', () => {
  const stores: MemorySessionStore[] = [];
  after(() => stores.forEach((s) => s.close()));
  sessionStoreContract(async (opts, connections = 1) => {
    const store = new MemorySessionStore({ ...opts, sweepIntervalMs: 50 });
    stores.push(store);
    return Array.from({ length: connections }, () => store);
  });
});

describe('RedisSessionStore', () => {
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
  sessionStoreContract(async (opts, connections = 1) =>
    (await clients.many(connections)).map((client) => new RedisSessionStore(client, clients.keys, opts)),
  );
});
