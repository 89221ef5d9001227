import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, it } from 'node:test';
import { createKeySpace } from '../../src/state/keys.js';
import {
  closeRedisClient,
  CommandWatchdog,
  commandWatchdog,
  connectRedisClient,
  createRedisClient,
  isRedisUnavailableError,
} from '../../src/state/redis-client.js';
import type { BusMessage } from '../../src/state/session-bus.js';
import { createStores, type Stores } from '../../src/state/stores.js';
import { sessionRecord } from '../contract/session-store.contract.js';
import { sleep, waitFor } from '../contract/support.js';
import { startRedis, type TestRedis } from '../helpers/redis-server.js';
import { freePort } from '../../src/cluster/ports.js';

/**
 * Redis goes away: store calls must fail fast with an error the HTTP layer recognises (→ 503), never hang; and
 * when Redis is back the same store objects work again.
 */

/**
 * Well under the client's 2 s command timeout, so passing proves calls are refused at once (offline queue
 * disabled), not merely abandoned when the timeout fires.
 */
const BOUND_MS = 1500;

let redis: TestRedis;
let stores: Stores;

before(async () => {
  redis = await startRedis({ spawnOnly: true });
  stores = await createStores({
    redisUrl: redis.url,
    keyPrefix: `${redis.keyPrefix}outage:`,
    sessionIdleTtlMs: 60_000,
    cartTtlMs: 60_000,
    maxLineQuantity: 100,
    maxLines: 10,
    preferenceTtlMs: 60_000,
    onRedisError: () => {},
  });
});

after(async () => {
  await stores?.close();
  await redis?.stop();
});

/** Resolves with the rejection; fails if the call resolves or takes longer than BOUND_MS. */
async function rejectsFast(what: string, call: () => Promise<unknown>): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const started = Date.now();
  const outcome = await Promise.race([
    call().then(
      (value) => ({ kind: 'resolved' as const, value }),
      (error: unknown) => ({ kind: 'rejected' as const, error }),
    ),
    new Promise<{ kind: 'hung' }>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'hung' }), BOUND_MS);
    }),
  ]);
  clearTimeout(timer);
  assert.notEqual(outcome.kind, 'hung', `${what} did not settle within ${BOUND_MS} ms`);
  assert.equal(outcome.kind, 'rejected', `${what} should reject while Redis is down`);
  const error = (outcome as { error: unknown }).error;
  assert.ok(
    isRedisUnavailableError(error),
    `${what}: isRedisUnavailableError should recognise ${String(error)} (after ${Date.now() - started} ms)`,
  );
  return error;
}

function everyCall(sessionId: string, userId: string) {
  const ref = { businessId: 'biz', userId, handle: 'default' };
  return {
    'sessions.create': () => stores.sessions.create(sessionRecord()),
    'sessions.touch': () => stores.sessions.touch(sessionId),
    'sessions.setActiveBusiness': () => stores.sessions.setActiveBusiness(sessionId, 'biz'),
    'sessions.delete': () => stores.sessions.delete(randomUUID()),
    'carts.get': () => stores.carts.get(ref),
    'carts.addItem': () => stores.carts.addItem(ref, 'A', 1),
    'carts.setItem': () => stores.carts.setItem(ref, 'A', 3),
    'carts.removeItem': () => stores.carts.removeItem(ref, 'B'),
    'carts.clear': () => stores.carts.clear(ref),
    'preferences.getActiveBusiness': () => stores.preferences.getActiveBusiness(userId),
    'preferences.setActiveBusiness': () => stores.preferences.setActiveBusiness(userId, 'biz'),
    'bus.publish': () => stores.bus.publish(sessionId, { kind: 'message', message: { n: 1 } }),
    'bus.subscribe': () => stores.bus.subscribe(randomUUID(), () => {}),
    ping: () => stores.ping(),
  } satisfies Record<string, () => Promise<unknown>>;
}

it('fails fast while Redis is down and recovers without recreating the stores', async () => {
  const record = sessionRecord();
  const userId = randomUUID();
  await stores.sessions.create(record);
  await stores.carts.addItem({ businessId: 'biz', userId, handle: 'default' }, 'A', 1);
  const received: BusMessage[] = [];
  const unsubscribe = await stores.bus.subscribe(record.id, (m) => received.push(m));
  const leftDuringOutage = randomUUID();
  const unsubscribeDuringOutage = await stores.bus.subscribe(leftDuringOutage, () => {});

  await redis.stop();

  // Right after the server went away, and again once the client is in its reconnect loop.
  for (const round of [1, 2, 3]) {
    for (const [name, call] of Object.entries(everyCall(record.id, userId))) {
      await rejectsFast(`${name} (round ${round})`, call);
    }
    await sleep(700);
  }
  // Unsubscribing during an outage neither hangs nor throws (stream teardown must never get stuck on Redis).
  let timer: NodeJS.Timeout | undefined;
  const left = await Promise.race([
    unsubscribeDuringOutage().then(() => 'resolved'),
    new Promise((resolve) => (timer = setTimeout(() => resolve('hung'), BOUND_MS + 500))),
  ]);
  clearTimeout(timer);
  assert.equal(left, 'resolved');

  await redis.restart!();

  // Reconnection happens in the background with a capped backoff; wait for it (liveness bound, not timing).
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await stores.ping();
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }

  // The restarted server is empty (no persistence); everything works again on the same objects.
  const again = sessionRecord();
  await stores.sessions.create(again);
  assert.equal((await stores.sessions.touch(again.id))?.id, again.id);
  assert.equal(await stores.sessions.setActiveBusiness(again.id, 'biz-2'), true);
  const added = await stores.carts.addItem({ businessId: 'biz', userId, handle: 'default' }, 'A', 2);
  assert.equal(added.ok, true);
  assert.deepEqual(added.cart.lines, [{ sku: 'A', quantity: 2 }]);
  await stores.preferences.setActiveBusiness(userId, 'biz-2');
  assert.equal(await stores.preferences.getActiveBusiness(userId), 'biz-2');

  // The subscription made before the outage is restored by the client itself.
  // Pub/sub keeps nothing, so publish until the re-established subscription hears one.
  const resubscribed = Date.now() + 10_000;
  while (received.length === 0) {
    assert.ok(Date.now() < resubscribed, 'the subscription made before the outage was not restored');
    await stores.bus.publish(record.id, { kind: 'close' });
    await sleep(50);
  }
  assert.deepEqual(received[0], { kind: 'close' });

  // The unsubscribe made during the outage is carried out once the connection is back: no orphan subscription.
  const inspector = createRedisClient({ url: redis.url, onError: () => {} });
  await connectRedisClient(inspector, 5000, 'inspection client');
  try {
    const keys = createKeySpace(`${redis.keyPrefix}outage:`);
    const subscribers = async (sessionId: string) => {
      const channel = keys.sessionChannel(sessionId);
      return Number((await inspector.pubSubNumSub(channel))[channel] ?? 0);
    };
    const orphanDeadline = Date.now() + 5000;
    while ((await subscribers(leftDuringOutage)) !== 0) {
      assert.ok(Date.now() < orphanDeadline, 'the channel left during the outage is still subscribed');
      await sleep(50);
    }
    assert.equal(await subscribers(record.id), 1);
    await unsubscribe();
    assert.equal(await subscribers(record.id), 0);
  } finally {
    await closeRedisClient(inspector);
  }

  // New subscriptions work too.
  const fresh: BusMessage[] = [];
  const session = randomUUID();
  const unsubscribeFresh = await stores.bus.subscribe(session, (m) => fresh.push(m));
  await stores.bus.publish(session, { kind: 'message', message: { after: 'restart' } });
  await waitFor(() => fresh.length === 1, 'message after restart');
  await unsubscribeFresh();
});

it('close() does not hang while Redis is down', async () => {
  const server = await startRedis({ spawnOnly: true });
  try {
    const doomed = await createStores({
      redisUrl: server.url,
      keyPrefix: `${server.keyPrefix}close:`,
      sessionIdleTtlMs: 60_000,
      cartTtlMs: 60_000,
      maxLineQuantity: 1,
      maxLines: 1,
      preferenceTtlMs: 60_000,
      onRedisError: () => {},
    });
    await doomed.bus.subscribe(randomUUID(), () => {});
    await server.stop();
    await rejectsFast('ping after stop', () => doomed.ping());
    let timer: NodeJS.Timeout | undefined;
    const closed = await Promise.race([
      doomed.close().then(() => 'closed'),
      new Promise((resolve) => (timer = setTimeout(() => resolve('hung'), 3000))),
    ]);
    clearTimeout(timer);
    assert.equal(closed, 'closed');
    await assert.rejects(doomed.sessions.touch(randomUUID()), (err) => isRedisUnavailableError(err));
  } finally {
    await server.stop();
  }
});

it('createStores names REDIS_URL (without the password) when Redis cannot be reached at start-up', async () => {
  const port = await freePort(); // nobody listens there
  const started = Date.now();
  await assert.rejects(
    createStores({
      redisUrl: `redis://:s3cret@127.0.0.1:${port}`,
      keyPrefix: 'x:',
      sessionIdleTtlMs: 1000,
      cartTtlMs: 1000,
      maxLineQuantity: 1,
      maxLines: 1,
      preferenceTtlMs: 1000,
      startupTimeoutMs: 1000,
      onRedisError: () => {},
    }),
    (err: Error) => {
      assert.match(err.message, /REDIS_URL/);
      assert.doesNotMatch(err.message, /s3cret/);
      assert.ok(isRedisUnavailableError(err));
      return true;
    },
  );
  assert.ok(Date.now() - started < 5000, 'start-up gives up within a few seconds');
});

/**
 * A fake Redis that answers +OK to every command until told to hang; then it keeps the connection open and never
 * answers again (a frozen server, a black-holed network path).
 */
async function startHangingRedis(): Promise<{ url: string; hang(): void; commands(): number; close(): Promise<void> }> {
  let hanging = false;
  let received = 0;
  const sockets = new Set<import('node:net').Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    let buffer = Buffer.alloc(0);
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      // Whole RESP arrays of bulk strings only: `*<n>\r\n` then n × `$<len>\r\n<bytes>\r\n`.
      for (;;) {
        let at = 0;
        const line = () => {
          const end = buffer.indexOf('\r\n', at);
          if (end === -1) return null;
          const text = buffer.toString('latin1', at, end);
          at = end + 2;
          return text;
        };
        const head = line();
        if (head === null || head[0] !== '*') return;
        let complete = true;
        for (let i = 0; i < Number(head.slice(1)); i++) {
          const len = line();
          if (len === null || buffer.length < at + Number(len.slice(1)) + 2) {
            complete = false;
            break;
          }
          at += Number(len.slice(1)) + 2;
        }
        if (!complete) return;
        buffer = buffer.subarray(at);
        received++;
        if (!hanging) socket.write('+OK\r\n');
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `redis://127.0.0.1:${port}`,
    hang: () => {
      hanging = true;
    },
    commands: () => received,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

it('a Redis that stops answering without closing the connection fails each command after the command timeout, not never', async () => {
  const fake = await startHangingRedis();
  const client = createRedisClient({ url: fake.url, name: 'hang-test', commandTimeoutMs: 400, onError: () => {} });
  try {
    await connectRedisClient(client, 2000, 'hanging redis');
    assert.equal(await client.sendCommand(['SET', 'a', 'b']), 'OK');
    const watchdog = commandWatchdog(client);
    assert.ok(watchdog, 'the client has a command watchdog');
    assert.equal(watchdog.pending, 0);
    fake.hang();
    const before = fake.commands();
    const started = Date.now();
    const outcomes = await Promise.allSettled([client.sendCommand(['SET', 'a', 'c']), client.get('a'), client.eventAppend('k', '{}', '10', '0-0', '1000')]);
    const took = Date.now() - started;
    for (const outcome of outcomes) {
      assert.equal(outcome.status, 'rejected');
      assert.ok(isRedisUnavailableError(outcome.reason), String(outcome.reason));
    }
    assert.equal(fake.commands() - before, 3, 'the commands were sent (they hung waiting for replies, not for the socket)');
    assert.ok(took >= 400 && took < 400 * 1.25 + 300, `rejected after ${took} ms (timeout 400 ms, checked every 100 ms)`);
    assert.equal(watchdog.pending, 0);
  } finally {
    client.destroy();
    await fake.close();
  }
});

it('the command watchdog rejects only what is overdue, in issue order, and leaves no timer behind', async () => {
  const watchdog = new CommandWatchdog(200);
  const never = new Promise<never>(() => {});
  const early = watchdog.watch(never);
  await sleep(120);
  const late = watchdog.watch(never);
  const answered = watchdog.watch(Promise.resolve('yes'));
  assert.equal(await answered, 'yes');
  const earlyAt = Date.now();
  await assert.rejects(early, (err) => isRedisUnavailableError(err));
  const lateAt = await late.then(
    () => assert.fail('a command that never answers must be rejected'),
    (err: unknown) => {
      assert.ok(isRedisUnavailableError(err));
      return Date.now();
    },
  );
  assert.ok(lateAt - earlyAt >= 50, 'the later command was given its own full timeout');
  assert.equal(watchdog.pending, 0);
  await assert.rejects(watchdog.watch(Promise.reject(new Error('boom'))), /boom/);
  assert.throws(() => new CommandWatchdog(0), TypeError);
});
