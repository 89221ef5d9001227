import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { DEMO } from '../../src/db/seed.js';
import { startInstances, type Instances } from '../helpers/instances.js';
import { roundRobin } from '../helpers/round-robin.js';

async function shop(client: Client, session: boolean) {
  const call = async (name: string, args: Record<string, unknown> = {}) => {
    const res = await client.callTool({ name, arguments: args });
    assert.notEqual(res.isError, true, `${name}: ${JSON.stringify(res.content)}`);
    return res.structuredContent as any; // eslint-disable-line @typescript-eslint/no-explicit-any
  };
  const list = await call('list_businesses');
  assert.equal(list.businesses.length, 2);
  await call('set_active_business', { business_id: DEMO.businesses.coffee });
  const { products } = await call('search_products', { limit: 10 });
  const [a, b] = products.filter((p: { stock: number }) => p.stock >= 10);
  // A session's calls need no cart id (the session has a cart of its own); a stateless client passes back the id
  // its first add returned, as the tool descriptions say.
  const first = await call('add_item_to_cart', { sku: a.sku, quantity: 2 });
  const named = session ? {} : { cart_id: first.cart_id };
  assert.match(first.cart_id, session ? /^s_/ : /^c_/);
  await call('add_item_to_cart', { sku: b.sku, quantity: 1, ...named });
  const cart = await call('view_cart', named);
  assert.equal(cart.cart_id, first.cart_id);
  assert.equal(cart.item_count, 3);
  assert.equal(cart.subtotal_minor, a.price_minor * 2 + b.price_minor);
  const done = await call('checkout', { idempotency_key: `sdk-${Math.random()}`, ...named });
  assert.equal(done.created, true);
  assert.equal(done.cart_id, first.cart_id);
  assert.equal(done.order.total_minor, cart.subtotal_minor);
  assert.equal((await call('view_cart', { cart_id: first.cart_id })).item_count, 0);
  return done.order;
}

describe('the official SDK client, every request on the next instance', () => {
  let it: Instances;
  before(async () => {
    it = await startInstances({ count: 2 });
  });
  after(() => it.stop());

  test('2025-era (legacy) client: initialize, the shopping flow, terminate', async () => {
    const rr = roundRobin(it.urls);
    const transport = new StreamableHTTPClientTransport(new URL(`${it.urls[0]}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${it.keys.demo}` } },
      fetch: rr.fetch,
    });
    const client = new Client({ name: 'sdk-legacy-test', version: '1.0.0' });
    await client.connect(transport);
    assert.ok(transport.sessionId, 'a session id was issued');
    const tools = await client.listTools();
    assert.equal(tools.tools.length, 13);
    for (const t of tools.tools) {
      assert.ok(t.description && t.outputSchema && t.annotations, `${t.name} has description, output schema and annotations`);
    }
    await shop(client, true);
    assert.ok(rr.hits.every((h) => h > 3), `both instances served the session: ${rr.hits}`);
    await transport.terminateSession();
    await client.close();
  });

  test('2026-07-28 (modern) client: the same flow with no session at all', async () => {
    const rr = roundRobin(it.urls);
    const seen: (string | null)[] = [];
    const spy = (async (input: string | URL | Request, init?: RequestInit) => {
      const res = await rr.fetch(input, init);
      seen.push(res.headers.get('mcp-session-id'));
      return res;
    }) as typeof fetch;
    const transport = new StreamableHTTPClientTransport(new URL(`${it.urls[0]}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${it.keys.demo}` } },
      fetch: spy,
    });
    const client = new Client({ name: 'sdk-modern-test', version: '1.0.0' }, { versionNegotiation: { mode: { pin: '2026-07-28' } } });
    await client.connect(transport);
    await shop(client, false);
    assert.ok(seen.every((s) => s === null), 'no response carried a session id');
    assert.ok(rr.hits.every((h) => h > 3), `both instances served: ${rr.hits}`);
    await client.close();
  });

  test('resources and SKU completion', async () => {
    const transport = new StreamableHTTPClientTransport(new URL(`${it.urls[1]}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${it.keys.demo2}` } },
      fetch: roundRobin(it.urls).fetch,
    });
    const client = new Client({ name: 'sdk-resources-test', version: '1.0.0' });
    await client.connect(transport);
    const templates = await client.listResourceTemplates();
    assert.deepEqual(templates.resourceTemplates.map((t) => t.uriTemplate).sort(), ['pos://carts/{cart_id}', 'pos://orders/{order_id}', 'pos://products/{sku}']);
    const listed = await client.listResources();
    const product = listed.resources.find((r) => r.uri.startsWith('pos://products/'));
    assert.ok(product, 'the catalog is listed');
    const read = await client.readResource({ uri: product.uri });
    const body = JSON.parse((read.contents[0] as { text: string }).text);
    assert.equal(`pos://products/${body.sku}`, product.uri);
    const sku: string = body.sku;
    const done = await client.complete({ ref: { type: 'ref/resource', uri: 'pos://products/{sku}' }, argument: { name: 'sku', value: sku.slice(0, 3).toLowerCase() } });
    assert.ok(done.completion.values.includes(sku), `completion offers ${sku}: ${done.completion.values}`);
    await transport.terminateSession();
    await client.close();
  });
});
