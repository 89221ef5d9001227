import { after, describe } from 'node:test';
import { MemoryEventLog } from '../../src/state/memory-event-log.js';
import { RedisEventLog } from '../../src/state/redis-event-log.js';
import { RedisSessionBus } from '../../src/state/redis-session-bus.js';
import type { SessionBus } from '../../src/state/session-bus.js';
import { announcingEventLogContract, eventLogContract } from './event-log.contract.js';
import { sharedMemory, useRedis } from './support.js';

describe('MemoryEventLog', () => {
  eventLogContract(sharedMemory((opts) => new MemoryEventLog(opts)));
});

describe('RedisEventLog', () => {
  const { clients } = useRedis();
  eventLogContract(async (opts, connections = 1) => (await clients.many(connections)).map((client) => new RedisEventLog(client, clients.keys, opts)));
  const buses: SessionBus[] = [];
  after(async () => {
    await Promise.all(buses.splice(0).map((b) => b.close()));
  });
  announcingEventLogContract(async () => {
    const [client, other] = await clients.many(2);
    const keys = clients.keys;
    const bus = await RedisSessionBus.connect(client!, keys, { onConnectionError: () => {} });
    const listener = await RedisSessionBus.connect(other!, keys, { onConnectionError: () => {} });
    buses.push(bus, listener);
    const opts = { ttlMs: 60_000, maxEvents: 100, maxAgeMs: 60_000 };
    const log = new RedisEventLog(client!, keys, opts, { bus, channel: (id) => keys.sessionChannel(id), command: 'PUBLISH' });
    return { log, bus, listener };
  });
});
