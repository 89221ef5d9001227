import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, it } from 'node:test';
import type { CartRef } from '../../src/state/cart-store.js';
import { createKeySpace } from '../../src/state/keys.js';
import {
  closeRedisClient,
  clusterKeySlot,
  connectRedisClient,
  createRedisCluster,
  isRedisUnavailableError,
  type StateRedisCluster,
} from '../../src/state/redis-client.js';
import type { BusMessage } from '../../src/state/session-bus.js';
import { createStores, type Stores } from '../../src/state/stores.js';
import { sessionRecord } from '../contract/session-store.contract.js';
import { sleep } from '../contract/support.js';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster.js';

/**
 * One master of a three-master cluster goes away: calls for its slots fail fast with an error the HTTP layer
 * recognises (→ 503) while the other shards keep serving; once the cluster declares itself down every call fails
 * fast (CLUSTERDOWN); when the master is back the same store objects work again and subscriptions are restored.
 */

/** Well under the 2 s command timeout: calls are refused at once, not abandoned when a timeout fires. */
const BOUND_MS = 1500;
const PREFIX = 'outage:';
const keys = createKeySpace(PREFIX);

let cluster: TestRedisCluster;
let stores: Stores;
let inspector: StateRedisCluster;

before(async () => {
  cluster = await startRedisCluster();
  const nodes = cluster.nodes.map((n) => `redis://${n}`);
  stores = await createStores({
    redisClusterNodes: nodes,
    keyPrefix: PREFIX,
    sessionIdleTtlMs: 60_000,
    cartTtlMs: 60_000,
    maxLineQuantity: 100,
    maxLines: 10,
    preferenceTtlMs: 60_000,
    onRedisError: () => {},
  });
  inspector = createRedisCluster({ nodes, onError: () => {} });
  await connectRedisClient(inspector, 5000, 'inspection client');
});

after(async () => {
  await stores?.close();
  if (inspector) await closeRedisClient(inspector);
  await cluster?.stop();
});

/** Draws ids until `key(id)` lands on (or off) the master at `address`. */
function idOn(address: string, key: (id: string) => string, on = true): string {
  for (;;) {
    const id = randomUUID();
    if ((inspector.slots[clusterKeySlot(key(id))]!.master.address === address) === on) return id;
  }
}

async function rejectsFast(what: string, call: () => Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    call().then(
      () => ({ kind: 'resolved' as const }),
      (error: unknown) => ({ kind: 'rejected' as const, error }),
    ),
    new Promise<{ kind: 'hung' }>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'hung' }), BOUND_MS);
    }),
  ]);
  clearTimeout(timer);
  assert.notEqual(outcome.kind, 'hung', `${what} did not settle within ${BOUND_MS} ms`);
  assert.equal(outcome.kind, 'rejected', `${what} should reject`);
  const { error } = outcome as { error: unknown };
  assert.ok(isRedisUnavailableError(error), `${what}: isRedisUnavailableError should recognise ${String(error)}`);
}

it('a lost master fails its calls fast, the cluster going down fails all fast, and everything recovers', async () => {
  const dead = cluster.nodes[0]!;
  const userDead = idOn(dead, (u) => keys.activeBusiness(u));
  const userLive = idOn(dead, (u) => keys.activeBusiness(u), false);
  const cartDead: CartRef = { businessId: 'biz', userId: idOn(dead, (u) => keys.cart({ businessId: 'biz', userId: u, handle: 'default' })), handle: 'default' };
  const cartLive: CartRef = { businessId: 'biz', userId: idOn(dead, (u) => keys.cart({ businessId: 'biz', userId: u, handle: 'default' }), false), handle: 'default' };
  const sessionDead = sessionRecord({ id: idOn(dead, (id) => keys.session(id)) });
  const sessionLive = sessionRecord({ id: idOn(dead, (id) => keys.session(id), false) });
  for (const r of [sessionDead, sessionLive]) await stores.sessions.create(r);
  await stores.carts.addItem(cartLive, 'A', 1);
  await stores.preferences.setActiveBusiness(userLive, 'biz');

  // Subscriptions whose channels live on the master about to go: one kept, one left during the outage.
  const kept = idOn(dead, (id) => keys.sessionChannel(id));
  const received: BusMessage[] = [];
  const unsubscribeKept = await stores.bus.subscribe(kept, (m) => received.push(m));
  const left = idOn(dead, (id) => keys.sessionChannel(id));
  const unsubscribeLeft = await stores.bus.subscribe(left, () => {});

  await cluster.stopNode(0);

  const deadShardCalls = {
    'sessions.touch': () => stores.sessions.touch(sessionDead.id),
    'sessions.setActiveBusiness': () => stores.sessions.setActiveBusiness(sessionDead.id, 'biz'),
    'sessions.create': () => stores.sessions.create(sessionRecord({ id: idOn(dead, (id) => keys.session(id)) })),
    'carts.get': () => stores.carts.get(cartDead),
    'carts.addItem': () => stores.carts.addItem(cartDead, 'A', 1),
    'carts.clear': () => stores.carts.clear(cartDead),
    'preferences.getActiveBusiness': () => stores.preferences.getActiveBusiness(userDead),
    'bus.publish': () => stores.bus.publish(kept, { kind: 'close' }),
    'bus.subscribe': () => stores.bus.subscribe(idOn(dead, (id) => keys.sessionChannel(id)), () => {}),
    ping: () => stores.ping(),
  } satisfies Record<string, () => Promise<unknown>>;

  // Right away (the cluster has not noticed yet): the lost master's slots fail fast, the others still serve.
  for (const [name, call] of Object.entries(deadShardCalls)) await rejectsFast(`${name} (lost master)`, call);
  assert.equal((await stores.sessions.touch(sessionLive.id))?.id, sessionLive.id);
  assert.equal((await stores.carts.addItem(cartLive, 'A', 1)).ok, true);
  assert.equal(await stores.preferences.getActiveBusiness(userLive), 'biz');

  // Unsubscribing from a channel on the lost master neither hangs nor throws.
  let timer: NodeJS.Timeout | undefined;
  const leaving = await Promise.race([
    unsubscribeLeft().then(() => 'resolved'),
    new Promise((resolve) => (timer = setTimeout(() => resolve('hung'), BOUND_MS))),
  ]);
  clearTimeout(timer);
  assert.equal(leaving, 'resolved');

  // Once the other masters mark it failed (cluster-node-timeout 3 s), the cluster is down: every call fails fast.
  const down = Date.now() + 15_000;
  for (;;) {
    const error = await stores.sessions.touch(sessionLive.id).then(
      () => undefined,
      (err: unknown) => err,
    );
    if (error && /CLUSTERDOWN/.test(String(error))) break;
    assert.ok(Date.now() < down, 'the cluster never reported CLUSTERDOWN');
    await sleep(200);
  }
  const liveShardCalls = {
    'sessions.touch': () => stores.sessions.touch(sessionLive.id),
    'carts.addItem': () => stores.carts.addItem(cartLive, 'A', 1),
    'preferences.setActiveBusiness': () => stores.preferences.setActiveBusiness(userLive, 'biz-2'),
  };
  for (const [name, call] of Object.entries({ ...deadShardCalls, ...liveShardCalls })) await rejectsFast(`${name} (cluster down)`, call);

  await cluster.restartNode(0);

  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await stores.ping();
      break;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(100);
    }
  }

  // The restarted master is empty (no persistence); the same objects work on every shard.
  const again = sessionRecord({ id: idOn(dead, (id) => keys.session(id)) });
  await stores.sessions.create(again);
  assert.equal((await stores.sessions.touch(again.id))?.id, again.id);
  assert.equal((await stores.carts.addItem(cartDead, 'A', 2)).ok, true);
  assert.deepEqual((await stores.carts.get(cartDead)).lines, [{ sku: 'A', quantity: 2 }]);
  await stores.preferences.setActiveBusiness(userDead, 'biz-3');
  assert.equal(await stores.preferences.getActiveBusiness(userDead), 'biz-3');
  assert.equal((await stores.sessions.touch(sessionLive.id))?.id, sessionLive.id, 'the surviving shards kept their data');

  // The subscription made before the outage is restored by the client; publish until it hears one.
  const heard = Date.now() + 10_000;
  while (received.length === 0) {
    assert.ok(Date.now() < heard, 'the subscription made before the outage was not restored');
    await stores.bus.publish(kept, { kind: 'close' });
    await sleep(50);
  }
  assert.deepEqual(received[0], { kind: 'close' });

  // The channel left during the outage is unsubscribed once its shard is back: no orphan subscription.
  const owner = await inspector.getNodeClientForKey(keys.sessionChannel(left));
  const count = async (id: string) => Number((await owner.pubSubShardNumSub([keys.sessionChannel(id)]))[keys.sessionChannel(id)] ?? 0);
  const orphanDeadline = Date.now() + 5000;
  while ((await count(left)) !== 0) {
    assert.ok(Date.now() < orphanDeadline, 'the channel left during the outage is still subscribed');
    await sleep(50);
  }
  assert.equal(await count(kept), 1);
  await unsubscribeKept();
  assert.equal(await count(kept), 0);
});

it('createStores names REDIS_CLUSTER_NODES (without the password) when no node answers at start-up', async () => {
  const started = Date.now();
  await assert.rejects(
    createStores({
      redisClusterNodes: ['redis://:s3cret@127.0.0.1:1', 'redis://:s3cret@127.0.0.1:2'],
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
      assert.match(err.message, /REDIS_CLUSTER_NODES/);
      assert.doesNotMatch(err.message, /s3cret/);
      assert.ok(isRedisUnavailableError(err));
      return true;
    },
  );
  assert.ok(Date.now() - started < 5000, 'start-up gives up within a few seconds');
});
