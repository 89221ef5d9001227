import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createKeySpace, type KeySpace } from '../../src/state/keys.js';
import { RedisAuthorizationStore } from '../../src/state/redis-authorization-store.js';
import { RedisCartStore } from '../../src/state/redis-cart-store.js';
import { RedisEventLog } from '../../src/state/redis-event-log.js';
import {
  closeRedisClient,
  clusterKeySlot,
  connectRedisClient,
  createRedisCluster,
  stateScripts,
  type StateRedisCluster,
} from '../../src/state/redis-client.js';
import { RedisPreferenceStore } from '../../src/state/redis-preference-store.js';
import { RedisSessionBus } from '../../src/state/redis-session-bus.js';
import { RedisSessionStore } from '../../src/state/redis-session-store.js';
import type { BusMessage, SessionBus } from '../../src/state/session-bus.js';
import { createStores, type Stores } from '../../src/state/stores.js';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster.js';
import { authorizationStoreContract } from './authorization-store.contract.js';
import { cartStoreContract } from './cart-store.contract.js';
import { announcingEventLogContract, eventLogContract } from './event-log.contract.js';
import { preferenceStoreContract } from './preference-store.contract.js';
import { sessionBusContract } from './session-bus.contract.js';
import { sessionRecord, sessionStoreContract } from './session-store.contract.js';
import { waitFor } from './support.js';

/**
 * The same contracts as the single-server suites, against stores over a three-master Redis Cluster; plus where
 * the keys land (slots), and that every key in every master expires.
 */

let cluster: TestRedisCluster;
const PREFIX = 'test:';
const keys: KeySpace = createKeySpace(PREFIX);
const opened: StateRedisCluster[] = [];

async function connect(): Promise<StateRedisCluster> {
  const client = createRedisCluster({ nodes: cluster.nodes.map((n) => `redis://${n}`), name: 'flowpos-mcp-test', onError: () => {} });
  await connectRedisClient(client, 5000, 'test cluster client');
  opened.push(client);
  return client;
}
const many = (n: number) => Promise.all(Array.from({ length: n }, connect));

/** A plain client on every master, for looking at what landed where. */
async function masters(client: StateRedisCluster) {
  return Promise.all(client.masters.map(async (m) => ({ address: m.address, node: await client.nodeClient(m) })));
}

/** The server's word on a key's or channel's slot. */
async function keyslot(client: StateRedisCluster, key: string): Promise<number> {
  return Number(await client.sendCommand(undefined, true, ['CLUSTER', 'KEYSLOT', key]));
}

before(async () => {
  cluster = await startRedisCluster();
});
after(async () => {
  await Promise.all(opened.splice(0).map((c) => closeRedisClient(c)));
  await cluster?.stop();
});

describe('RedisSessionStore on a Redis Cluster', () => {
  sessionStoreContract(async (opts, connections = 1) => (await many(connections)).map((c) => new RedisSessionStore(c, keys, opts)));
});

describe('RedisCartStore on a Redis Cluster', () => {
  cartStoreContract(async (opts, connections = 1) => (await many(connections)).map((c) => new RedisCartStore(c, keys, opts)));
});

describe('RedisPreferenceStore on a Redis Cluster', () => {
  preferenceStoreContract(async (opts, connections = 1) => (await many(connections)).map((c) => new RedisPreferenceStore(c, keys, opts)));
});

describe('RedisEventLog on a Redis Cluster', () => {
  eventLogContract(async (opts, connections = 1) => (await many(connections)).map((c) => new RedisEventLog(c, keys, opts)));
  // event-append.lua SPUBLISHes to the session channel from inside the script: allowed because the channel shares
  // the event stream's hash tag (its slot is the script's).
  const announcing: SessionBus[] = [];
  after(async () => {
    await Promise.all(announcing.splice(0).map((b) => b.close()));
  });
  announcingEventLogContract(async () => {
    const [client, other] = await many(2);
    const bus = await RedisSessionBus.connect(client!, keys, { onConnectionError: () => {} });
    const listener = await RedisSessionBus.connect(other!, keys, { onConnectionError: () => {} });
    announcing.push(bus, listener);
    const log = new RedisEventLog(client!, keys, { ttlMs: 60_000, maxEvents: 100, maxAgeMs: 60_000 }, { bus, channel: (id) => keys.sessionChannel(id), command: 'SPUBLISH' });
    return { log, bus, listener };
  });
});

describe('RedisAuthorizationStore on a Redis Cluster', () => {
  authorizationStoreContract(async (_opts, connections = 1) => (await many(connections)).map((c) => new RedisAuthorizationStore(c, keys)));
});

describe('RedisSessionBus on a Redis Cluster (sharded pub/sub)', () => {
  const buses: SessionBus[] = [];
  after(async () => {
    await Promise.all(buses.splice(0).map((b) => b.close()));
  });
  sessionBusContract({
    async buses(n, opts) {
      const created = await Promise.all(
        Array.from({ length: n }, async () =>
          RedisSessionBus.connect(await connect(), keys, { onError: opts?.onError ?? (() => {}), onConnectionError: () => {} }),
        ),
      );
      buses.push(...created);
      return created;
    },
    async subscriptionCount(sessionId) {
      // Sharded subscriptions are counted by the shard that owns the channel's slot.
      const channel = keys.sessionChannel(sessionId);
      const owner = await (await connect()).getNodeClientForKey(channel);
      const counts = await owner.pubSubShardNumSub([channel]);
      return Number(counts[channel] ?? 0);
    },
  });
});

describe('where the keys land on a Redis Cluster', () => {
  it('every Lua script names exactly one key, or keys of one hash tag, so none can span slots', () => {
    // rate-limit.lua takes one key per bucket, all of them keys.rateLimit(user, …): one hash tag (checked below).
    // refresh-rotate.lua and refresh-revoke.lua take a family and its set of spent tokens: keys.refreshFamily(id),
    // one hash tag (checked here).
    const oneHashTag = new Set(['rateLimit', 'refreshRotate', 'refreshRevoke']);
    for (const [name, script] of Object.entries(stateScripts())) {
      if (oneHashTag.has(name)) continue;
      assert.equal('NUMBER_OF_KEYS' in script ? script.NUMBER_OF_KEYS : undefined, 1, name);
      assert.doesNotMatch(script.SCRIPT, /KEYS\[[2-9]\]/, `${name} reads KEYS beyond the first`);
    }
    const family = keys.refreshFamily(randomBytes(16).toString('base64url'));
    assert.equal(clusterKeySlot(family.family), clusterKeySlot(family.used), "a refresh family's two keys share one slot");
  });

  it("a cart's keys share the slot of {business:user}; a user's key the slot of {user}; a session key its own", async () => {
    const client = await connect();
    const slot = (key: string) => keyslot(client, key);
    const user = randomUUID();
    const business = randomUUID();
    const hostile = { businessId: 'b}:x{', userId: `${user}:{y}`, handle: 'h}:{z}:*' };
    const carts = ['default', 'party', '{other}', 'x}'].map((handle) => keys.cart({ businessId: business, userId: user, handle }));
    const cartSlots = await Promise.all(carts.map(slot));
    assert.equal(new Set(cartSlots).size, 1, 'all carts of a user in a business share one slot');
    assert.equal(cartSlots[0], await slot(`${business}:${user}`));
    assert.equal(await slot(keys.cart(hostile)), await slot(keys.cart({ ...hostile, handle: 'default' })), 'braces in ids cannot move the tag');
    assert.equal(await slot(keys.activeBusiness(user)), await slot(user));
    assert.deepEqual(await Promise.all(['requests', 'writes'].map((b) => slot(keys.rateLimit(user, b)))), Array(2).fill(await slot(user)));
    const session = randomUUID();
    const streams = await Promise.all(['g', 'p:1', 'x}{'].map((stream) => slot(keys.eventStream(session, stream))));
    assert.deepEqual(streams, Array(3).fill(await slot(session)), "all event streams of a session share the session id's slot");
    assert.doesNotMatch(keys.session(session), /[{}]/, 'a session key has no hash tag: its slot is that of the whole key');
    // The bus computes channel slots itself; it must agree with the server on every kind of name.
    for (const name of [keys.sessionChannel(session), keys.session(session), ...carts, keys.cart(hostile), keys.activeBusiness(user), '', '{}', '{}x', 'a{b}c{d}', 'ä😀', '{user1000}.following']) {
      assert.equal(clusterKeySlot(name), await slot(name), name);
    }
  });

  it("a session's, a cart's, a user's and an event stream's keys and a session's channel live on the master that owns their slot", async () => {
    const client = await connect();
    const sessionStore = new RedisSessionStore(client, keys, { idleTtlMs: 60_000 });
    const carts = new RedisCartStore(client, keys, { ttlMs: 60_000, maxLineQuantity: 10, maxLines: 10 });
    const preferences = new RedisPreferenceStore(client, keys, { ttlMs: 60_000 });
    const record = sessionRecord();
    const ref = { businessId: randomUUID(), userId: record.principal.uid, handle: 'default' };
    await sessionStore.create(record);
    await carts.addItem(ref, 'A', 1);
    await carts.addItem({ ...ref, handle: 'second' }, 'A', 1);
    await preferences.setActiveBusiness(ref.userId, ref.businessId);
    const events = new RedisEventLog(client, keys, { ttlMs: 60_000, maxEvents: 10, maxAgeMs: 60_000 });
    await events.append(record.id, 'g', { n: 1 });
    const bus = await RedisSessionBus.connect(client, keys, { onConnectionError: () => {} });
    const unsubscribe = await bus.subscribe(record.id, () => {});
    try {
      const nodes = await masters(client);
      assert.equal(nodes.length, 3);
      const ownerOf = async (key: string) => client.slots[await keyslot(client, key)]!.master.address;
      // SCAN lists only the keys a node holds itself (EXISTS on another node would answer MOVED).
      const where = async (key: string) => {
        const found: string[] = [];
        const pattern = key.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
        for (const { address, node } of nodes) {
          for await (const batch of node.scanIterator({ MATCH: pattern, COUNT: 1000 })) if (batch.includes(key)) found.push(address);
        }
        return found;
      };
      for (const key of [
        keys.session(record.id),
        keys.cart(ref),
        keys.cart({ ...ref, handle: 'second' }),
        keys.activeBusiness(ref.userId),
        keys.eventStream(record.id, 'g'),
      ]) {
        assert.deepEqual(await where(key), [await ownerOf(key)], key);
      }
      const channel = keys.sessionChannel(record.id);
      const owner = await ownerOf(channel);
      for (const { address, node } of nodes) {
        const count = Number((await node.pubSubShardNumSub([channel]))[channel] ?? 0);
        assert.equal(count, address === owner ? 1 : 0, `subscriptions to ${channel} on ${address}`);
      }
      // Sessions spread over the shards (no common hash tag): 60 random sessions use all three.
      const shards = new Set(Array.from({ length: 60 }, () => clusterKeySlot(keys.session(randomUUID()))).map((slot) => client.slots[slot]!.master.address));
      assert.equal(shards.size, 3);
    } finally {
      await unsubscribe();
      await bus.close();
    }
  });

  it('every key written by every store, on every master, has a TTL', async () => {
    const prefix = `ttl-${randomUUID().slice(0, 8)}:`;
    const stores: Stores = await createStores({
      redisClusterNodes: cluster.nodes.map((n) => `redis://${n}`),
      keyPrefix: prefix,
      sessionIdleTtlMs: 60_000,
      cartTtlMs: 120_000,
      maxLineQuantity: 100,
      maxLines: 10,
      preferenceTtlMs: 30 * 86_400_000,
      onRedisError: () => {},
    });
    try {
      await stores.ping();
      const space = createKeySpace(prefix);
      const expected = new Set<string>();
      const users = Array.from({ length: 12 }, () => randomUUID());
      for (const [i, user] of users.entries()) {
        const business = randomUUID();
        const plain = sessionRecord({}, { uid: user });
        const capped = sessionRecord({ activeBusinessId: business }, { uid: user, expiresAt: Date.now() + 3_600_000 });
        const deleted = sessionRecord({}, { uid: user });
        for (const r of [plain, capped, deleted]) await stores.sessions.create(r);
        await stores.sessions.touch(plain.id);
        await stores.sessions.setActiveBusiness(plain.id, business);
        await stores.sessions.delete(deleted.id);
        await stores.sessions.setActiveBusiness(deleted.id, business);
        expected.add(space.session(plain.id)).add(space.session(capped.id));

        const ref = { businessId: business, userId: user, handle: `h${i}` };
        await stores.carts.addItem(ref, 'A', 2);
        await stores.carts.setItem(ref, 'B', 3);
        await stores.carts.addItem(ref, 'A', 1000); // refused
        await stores.carts.removeItem(ref, 'B');
        const emptied = { ...ref, handle: 'emptied' };
        const { cart } = await stores.carts.addItem(emptied, 'A', 1);
        await stores.carts.clear(emptied, cart.version);
        await stores.carts.setItem({ ...ref, handle: 'zero' }, 'A', 1);
        await stores.carts.setItem({ ...ref, handle: 'zero' }, 'A', 0);
        await stores.carts.get({ ...ref, handle: 'never-written' });
        await stores.carts.clear({ ...ref, handle: 'never-written' });
        expected.add(space.cart(ref)).add(space.cart(emptied)).add(space.cart({ ...ref, handle: 'zero' }));

        await stores.preferences.setActiveBusiness(user, business);
        expected.add(space.activeBusiness(user));

        await stores.events.append(plain.id, 'g', { n: i });
        await stores.events.append(capped.id, `p:${i}`, { n: i });
        expected.add(space.eventStream(plain.id, 'g')).add(space.eventStream(capped.id, `p:${i}`));

        // Both buses (session and user channels) work over sharded pub/sub and store nothing.
        const heard: BusMessage[] = [];
        const unsubscribe = await stores.bus.subscribe(plain.id, (m) => heard.push(m));
        const unsubscribeUser = await stores.userBus.subscribe(user, (m) => heard.push(m));
        await stores.bus.publish(plain.id, { kind: 'message', message: { n: i } });
        await stores.userBus.publish(user, { kind: 'message', message: { user: i } });
        await waitFor(() => heard.length === 2, 'both bus messages');
        await unsubscribe();
        await unsubscribeUser();
      }

      const inspector = await connect();
      const found = new Map<string, string>();
      for (const { address, node } of await masters(inspector)) {
        for await (const batch of node.scanIterator({ MATCH: space.scanPattern(), COUNT: 100 })) {
          for (const key of batch) found.set(key, address);
        }
        // Nothing without a TTL anywhere on this master, whoever wrote it.
        for await (const batch of node.scanIterator({ COUNT: 500 })) {
          for (const key of batch) assert.ok((await node.pTTL(key)) > 0, `${key} on ${address} has no TTL`);
        }
      }
      assert.deepEqual([...found.keys()].sort(), [...expected].sort());
      assert.equal(new Set(found.values()).size, 3, 'the keys are spread over all three masters');
    } finally {
      await stores.close();
    }
  });
});
