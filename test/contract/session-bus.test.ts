import { after, before, describe } from 'node:test';
import { MemorySessionBus } from '../../src/state/memory-session-bus.js';
import { RedisSessionBus } from '../../src/state/redis-session-bus.js';
import type { SessionBus } from '../../src/state/session-bus.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { sessionBusContract } from './session-bus.contract.js';
import { RedisClients } from './support.js';

describe('MemorySessionBus', () => {
  const buses: SessionBus[] = [];
  after(async () => {
    await Promise.all(buses.map((b) => b.close()));
  });
  sessionBusContract({
    async buses(n, opts) {
      // One process has one bus: "instances" share it.
      const bus = new MemorySessionBus({ onError: opts?.onError ?? (() => {}) });
      buses.push(bus);
      return Array.from({ length: n }, () => bus);
    },
  });
});

describe('RedisSessionBus', () => {
  let redis: TestRedis;
  const clients = new RedisClients(
    () => redis.url,
    () => redis.keyPrefix,
  );
  const buses: SessionBus[] = [];
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await Promise.all(buses.map((b) => b.close()));
    await clients.closeAll();
    await redis?.stop();
  });
  sessionBusContract({
    async buses(n, opts) {
      const created = await Promise.all(
        Array.from({ length: n }, async () =>
          RedisSessionBus.connect(await clients.connect(), clients.keys, {
            onError: opts?.onError ?? (() => {}),
            onConnectionError: () => {},
          }),
        ),
      );
      buses.push(...created);
      return created;
    },
    async subscriptionCount(sessionId) {
      const client = await clients.connect();
      const channel = clients.keys.sessionChannel(sessionId);
      const counts = await client.pubSubNumSub(channel);
      return Number(counts[channel] ?? 0);
    },
  });
});
