import { describe } from 'node:test';
import { MemoryEventLog } from '../../src/state/memory-event-log.js';
import { RedisEventLog } from '../../src/state/redis-event-log.js';
import { eventLogContract } from './event-log.contract.js';
import { sharedMemory, useRedis } from './support.js';

describe('MemoryEventLog', () => {
  eventLogContract(sharedMemory((opts) => new MemoryEventLog(opts)));
});

describe('RedisEventLog', () => {
  const { clients } = useRedis();
  eventLogContract(async (opts, connections = 1) => (await clients.many(connections)).map((client) => new RedisEventLog(client, clients.keys, opts)));
});
