import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO } from '../../src/db/seed.js';
import { createKeySpace } from '../../src/state/keys.js';
import { closeRedisClient, connectRedisClient, createRedisCluster, type StateRedisCluster } from '../../src/state/redis-client.js';
import { startInstances, type Instances } from '../helpers/instances.js';
import { baseHeaders, callTool, LEGACY_VERSION, openSession, structured } from '../helpers/mcp-http.js';
import { startRedisCluster, type TestRedisCluster } from '../helpers/redis-cluster.js';

/**
 * Two instances whose only shared state is a three-master Redis Cluster (REDIS_CLUSTER_NODES) and PostgreSQL
 * serve one 2025-era session alternately, as they would behind a load balancer without session affinity.
 */
describe('one session across two instances over a Redis Cluster', () => {
  let cluster: TestRedisCluster;
  let it: Instances;
  let inspector: StateRedisCluster;
  let A: string;
  let B: string;
  const keys = createKeySpace('mcp:');

  before(async () => {
    cluster = await startRedisCluster();
    it = await startInstances({ count: 2, redisClusterNodes: cluster.nodes });
    [A, B] = it.urls as [string, string];
    inspector = createRedisCluster({ nodes: cluster.nodes.map((n) => `redis://${n}`), onError: () => {} });
    await connectRedisClient(inspector, 5000, 'inspection client');
  });
  after(async () => {
    if (inspector) await closeRedisClient(inspector);
    await it?.stop();
    await cluster?.stop();
  });

  test('initialize on A, set_active_business on B, add_item_to_cart on A, view_cart on B', async () => {
    for (const server of it.servers) assert.equal(server.config.redisClusterNodes?.length, 3, 'both instances run on the cluster');
    const key = it.keys.demo;
    const sku = DEMO.products.coffee.lowStock;

    const sid = await openSession(A, key);
    const chosen = structured(await callTool(B, key, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    assert.equal(chosen.active_business.id, DEMO.businesses.coffee);
    const added = structured(await callTool(A, key, sid, 'add_item_to_cart', { sku, quantity: 2 }));
    assert.ok(added, 'add_item_to_cart answered');
    const cart = structured(await callTool(B, key, sid, 'view_cart'));
    assert.equal(cart.business_id, DEMO.businesses.coffee, 'B sees the business chosen on B, through the session in the cluster');
    assert.deepEqual(
      cart.lines.map((l: { sku: string; quantity: number }) => [l.sku, l.quantity]),
      [[sku, 2]],
      'B sees the line added on A',
    );

    // And it is the cluster that holds them: the session hash and the cart, each on the master owning its slot.
    const session = await inspector.hGetAll(keys.session(sid));
    assert.equal(session.b, DEMO.businesses.coffee);
    const cartKey = keys.cart({ businessId: DEMO.businesses.coffee, userId: DEMO.users.demo, handle: cart.cart_id });
    assert.equal((await inspector.hGetAll(cartKey))[`s:${sku}`], '2');
    assert.ok((await inspector.pTTL(keys.session(sid))) > 0);
    assert.ok((await inspector.pTTL(cartKey)) > 0);
  });

  test("the session bus crosses instances over sharded pub/sub: B's GET stream hears A's change, and A's DELETE ends it", async () => {
    const key = it.keys.demo;
    const sid = await openSession(A, key);
    structured(await callTool(A, key, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    const stream = await fetch(`${B}/mcp`, {
      method: 'GET',
      headers: { accept: 'text/event-stream', authorization: `Bearer ${key}`, 'mcp-session-id': sid, 'mcp-protocol-version': LEGACY_VERSION },
    });
    assert.equal(stream.status, 200);
    const reader = stream.body!.getReader();

    // The stream's subscription is a sharded one, on the shard that owns the session's channel.
    const channel = keys.sessionChannel(sid);
    const owner = await inspector.getNodeClientForKey(channel);
    assert.equal(Number((await owner.pubSubShardNumSub([channel]))[channel] ?? 0), 1);

    structured(await callTool(A, key, sid, 'add_item_to_cart', { sku: DEMO.products.coffee.lowStock, quantity: 1 }));
    let seen = '';
    const deadline = Date.now() + 5000;
    while (!seen.includes('notifications/resources/updated') && Date.now() < deadline) {
      const { value, done } = await reader.read();
      if (done) break;
      seen += new TextDecoder().decode(value);
    }
    assert.match(seen, /"method":"notifications\/resources\/updated"/);

    const del = await fetch(`${A}/mcp`, { method: 'DELETE', headers: baseHeaders(key, { 'mcp-session-id': sid }) });
    assert.equal(del.status, 204);
    for (;;) {
      const { done } = await reader.read(); // ends only when B ends the stream on the bus's close message
      if (done) break;
    }
    assert.equal((await inspector.exists(keys.session(sid))), 0);
  });
});
