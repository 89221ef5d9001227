import { after, before, describe } from 'node:test';
import { MemoryEventLog } from '../../src/state/memory-event-log.js';
import { RedisEventLog } from '../../src/state/redis-event-log.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { eventLogContract } from './event-log.contract.js';
import { RedisClients } from './support.js';

describe('MemoryEventLog', () => {
  const logs: MemoryEventLog[] = [];
  after(() => logs.forEach((l) => l.close()));
  eventLogContract(async (opts, connections = 1) => {
    const log = new MemoryEventLog(opts);
    logs.push(log);
    return Array.from({ length: connections }, () => log);
  });
});

describe('RedisEventLog', () => {
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
  eventLogContract(async (opts, connections = 1) => (await clients.many(connections)).map((client) => new RedisEventLog(client, clients.keys, opts)));
});
