import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO } from '../../src/db/seed.js';
import { openSharedDb, startInstances, type Instances } from '../helpers/instances.js';
import { baseHeaders, callTool, LEGACY_VERSION, openSession, post, structured } from '../helpers/mcp-http.js';
import { SseReader } from '../helpers/sse.js';

/**
 * Resumable streams and server→client requests with no affinity: whatever instance a client reconnects or
 * answers to, it gets exactly its own missed events, and its answers reach the instance that asked.
 */
describe('streams and server→client requests across instances', () => {
  let it: Instances;
  let A: string;
  let B: string;
  before(async () => {
    it = await startInstances({ count: 2, env: { CHECKOUT_CONFIRM_TIMEOUT_SECONDS: '5' } });
    [A, B] = it.urls as [string, string];
  });
  after(() => it.stop());

  const openGet = (url: string, key: string, sid: string, lastEventId?: string) =>
    fetch(`${url}/mcp`, {
      headers: {
        accept: 'text/event-stream',
        authorization: `Bearer ${key}`,
        'mcp-session-id': sid,
        'mcp-protocol-version': LEGACY_VERSION,
        ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
      },
    });

  const shopReady = async (url: string, key: string, sid: string) => {
    structured(await callTool(url, key, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    const p = structured(await callTool(url, key, sid, 'search_products', { limit: 10 })).products.find((x: { stock: number }) => x.stock >= 20);
    return p as { sku: string; price_minor: number };
  };

  test('GET stream resumed on the other instance replays exactly what was missed, then goes on live', async () => {
    const key = it.keys.demo;
    const sid = await openSession(A, key);
    const other = await openSession(B, key);
    const p = await shopReady(A, key, sid);

    const first = new SseReader(await openGet(A, key, sid));
    const priming = await first.next();
    const primingId = priming?.id;
    assert.ok(primingId?.startsWith('g/'), `priming event carries an id: ${JSON.stringify(priming)}`);
    assert.equal(priming?.data, '');
    await first.cancel(); // the connection drops

    for (let i = 0; i < 3; i++) structured(await callTool(i % 2 ? A : B, key, sid, 'add_item_to_cart', { sku: p.sku, quantity: 1, cart_id: `c${i}` }));
    structured(await callTool(B, key, other, 'add_item_to_cart', { sku: p.sku, quantity: 1, cart_id: 'other-session' }));

    const resumed = await openGet(B, key, sid, primingId);
    assert.equal(resumed.status, 200);
    const reader = new SseReader(resumed);
    const uris: string[] = [];
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { event, data } = await reader.until((d) => d.method === 'notifications/resources/updated');
      uris.push(data.params.uri);
      ids.push(event.id!);
    }
    assert.deepEqual(uris, ['pos://carts/c0', 'pos://carts/c1', 'pos://carts/c2'], 'exactly the missed events, in order, none of the other session');
    assert.ok(ids.every((id) => id.startsWith('g/')));
    // Live tail: an event produced now, on the other instance, arrives on this resumed stream.
    structured(await callTool(A, key, sid, 'add_item_to_cart', { sku: p.sku, quantity: 1, cart_id: 'live' }));
    const live = await reader.until((d) => d.method === 'notifications/resources/updated');
    assert.equal(live.data.params.uri, 'pos://carts/live');
    await reader.cancel();
  });

  test('a Last-Event-ID from another session replays nothing of that session', async () => {
    const key = it.keys.demo;
    const s1 = await openSession(A, key);
    const s2 = await openSession(A, key);
    const p = await shopReady(A, key, s1);
    const r1 = new SseReader(await openGet(A, key, s1));
    const primingOfS1 = (await r1.next())!.id!;
    await r1.cancel();
    structured(await callTool(B, key, s1, 'add_item_to_cart', { sku: p.sku, quantity: 1, cart_id: 'secret-of-s1' }));
    const r2 = new SseReader(await openGet(B, key, s2, primingOfS1));
    // s2 has no events after that position: only the retry hint arrives, never s1's notification.
    await assert.rejects(r2.until((d) => d.method === 'notifications/resources/updated', 1000), /timed out/);
    await r2.cancel();
  });

  test('a malformed Last-Event-ID is refused with 400', async () => {
    const sid = await openSession(A, it.keys.demo);
    const res = await openGet(B, it.keys.demo, sid, '../../etc/passwd');
    assert.equal(res.status, 400);
    assert.match((await res.json()).error.message, /Last-Event-ID/);
  });

  const checkoutStream = async (url: string, key: string, sid: string, args: Record<string, unknown>) => {
    const res = await fetch(`${url}/mcp`, {
      method: 'POST',
      headers: baseHeaders(key, { 'mcp-session-id': sid, 'mcp-protocol-version': LEGACY_VERSION }),
      body: JSON.stringify({ jsonrpc: '2.0', id: 'checkout-1', method: 'tools/call', params: { name: 'checkout', arguments: args } }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/, 'checkout for an eliciting client is streamed');
    return new SseReader(res);
  };
  const answer = (url: string, key: string, sid: string, id: string, result: Record<string, unknown>) =>
    post(url, { jsonrpc: '2.0', id, result }, baseHeaders(key, { 'mcp-session-id': sid, 'mcp-protocol-version': LEGACY_VERSION }));

  const orderCount = async () => {
    const db = await openSharedDb(it.databaseUrl!);
    try {
      return Number((await db.query<{ n: string }>('select count(*) as n from orders')).rows[0]!.n);
    } finally {
      await db.close();
    }
  };

  test('checkout asks for confirmation; the answer posted to the other instance reaches the one waiting', async () => {
    const key = it.keys.demo;
    const sid = await openSession(A, key, { elicitation: {} });
    const p = await shopReady(B, key, sid);
    structured(await callTool(A, key, sid, 'add_item_to_cart', { sku: p.sku, quantity: 2, cart_id: 'confirm-accept' }));
    const stream = await checkoutStream(A, key, sid, { cart_id: 'confirm-accept', idempotency_key: 'elicit-accept' });
    const { data: ask } = await stream.until((d) => d.method === 'elicitation/create');
    assert.match(ask.params.message, /Place this order for/);
    assert.equal(typeof ask.id, 'string', 'server→client request ids are unique strings, not per-server counters');
    const ack = await answer(B, key, sid, ask.id, { action: 'accept', content: { confirm: true } });
    assert.equal(ack.status, 202);
    const { data: done } = await stream.until((d) => d.id === 'checkout-1');
    assert.equal(done.result.isError, undefined, JSON.stringify(done));
    assert.equal(done.result.structuredContent.created, true);
    assert.equal(done.result.structuredContent.order.total_minor, p.price_minor * 2);
  });

  test('a declined confirmation orders nothing and keeps the cart', async () => {
    const key = it.keys.demo;
    const sid = await openSession(B, key, { elicitation: {} });
    const p = await shopReady(A, key, sid);
    structured(await callTool(B, key, sid, 'add_item_to_cart', { sku: p.sku, quantity: 1, cart_id: 'confirm-decline' }));
    const before = await orderCount();
    const stream = await checkoutStream(B, key, sid, { cart_id: 'confirm-decline' });
    const { data: ask } = await stream.until((d) => d.method === 'elicitation/create');
    await answer(A, key, sid, ask.id, { action: 'decline' });
    const { data: done } = await stream.until((d) => d.id === 'checkout-1');
    assert.equal(done.result.isError, true);
    assert.equal(done.result.structuredContent.error.code, 'checkout_declined');
    assert.equal(await orderCount(), before);
    assert.equal(structured(await callTool(A, key, sid, 'view_cart', { cart_id: 'confirm-decline' })).item_count, 1);
  });

  test('no answer in time: the checkout is cancelled and nothing changes', async () => {
    const key = it.keys.demo;
    const sid = await openSession(A, key, { elicitation: {} });
    const p = await shopReady(A, key, sid);
    structured(await callTool(A, key, sid, 'add_item_to_cart', { sku: p.sku, quantity: 1, cart_id: 'confirm-timeout' }));
    const before = await orderCount();
    const stream = await checkoutStream(A, key, sid, { cart_id: 'confirm-timeout' });
    await stream.until((d) => d.method === 'elicitation/create');
    const { data: done } = await stream.until((d) => d.id === 'checkout-1', 15_000);
    assert.equal(done.result.structuredContent.error.code, 'confirmation_timeout');
    assert.equal(await orderCount(), before);
    assert.equal(structured(await callTool(B, key, sid, 'view_cart', { cart_id: 'confirm-timeout' })).item_count, 1);
  });

  test('a client that lost its POST stream resumes it on the other instance and gets the result', async () => {
    const key = it.keys.demo;
    const sid = await openSession(A, key, { elicitation: {} });
    const p = await shopReady(B, key, sid);
    structured(await callTool(A, key, sid, 'add_item_to_cart', { sku: p.sku, quantity: 1, cart_id: 'resume-post' }));
    const stream = await checkoutStream(A, key, sid, { cart_id: 'resume-post', idempotency_key: 'resume-post' });
    const { event, data: ask } = await stream.until((d) => d.method === 'elicitation/create');
    assert.ok(event.id, 'events of a streamed answer carry ids');
    await stream.cancel(); // connection lost after the question arrived
    await answer(B, key, sid, ask.id, { action: 'accept', content: { confirm: true } });
    const resumed = new SseReader(await openGet(B, key, sid, event.id));
    const { data: done } = await resumed.until((d) => d.id === 'checkout-1');
    assert.equal(done.result.structuredContent.created, true);
    assert.equal(await resumed.next(2000), null, 'the resumed POST stream ends after its response');
  });
});
