import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DEMO } from '../../src/db/seed.js';
import { startInstances, type Instances } from '../helpers/instances.js';
import { baseHeaders, callTool, LEGACY_VERSION, MODERN_VERSION, openSession, structured } from '../helpers/mcp-http.js';
import { SseReader } from '../helpers/sse.js';

/**
 * Long-lived streams end on the server's terms: after MCP_SSE_MAX_STREAM_SECONDS (so one idle listener does not
 * hold a connection, a Cloud Run concurrency slot, on one instance forever) and at shutdown. Both end with a retry
 * hint, and the client resumes with Last-Event-ID wherever the balancer sends it, missing nothing.
 */

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

/** Reads a response body to its end (or fails after ms). */
async function readToEnd(res: Response, ms: number): Promise<string> {
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  const deadline = Date.now() + ms;
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const chunk = await Promise.race([
      reader.read(),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`stream still open after ${ms} ms: ${JSON.stringify(text)}`)), Math.max(1, deadline - Date.now()));
      }),
    ]).finally(() => clearTimeout(timer));
    if (chunk.done) return text;
    text += decoder.decode(chunk.value, { stream: true });
  }
}

describe('MCP_SSE_MAX_STREAM_SECONDS', () => {
  let it: Instances;
  let A: string;
  let B: string;
  before(async () => {
    it = await startInstances({ count: 2, env: { MCP_SSE_MAX_STREAM_SECONDS: '1', MCP_SSE_KEEPALIVE_SECONDS: '15' } });
    [A, B] = it.urls as [string, string];
  });
  after(() => it.stop());

  test('a GET stream ends after about that long with a retry hint; resumed on the other instance, nothing is missed', async () => {
    const key = it.keys.demo;
    const sid = await openSession(A, key);
    structured(await callTool(A, key, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));

    const openedAt = Date.now();
    const first = await openGet(A, key, sid);
    assert.equal(first.status, 200);
    const text = await readToEnd(first, 3_000);
    const lived = Date.now() - openedAt;
    assert.ok(lived >= 850 && lived < 2_500, `the stream lived ${lived} ms (limit 1 s, jittered down by up to 10 %)`);
    const primingId = /^id: (\S+)$/m.exec(text)?.[1];
    assert.ok(primingId, `priming event with an id: ${JSON.stringify(text)}`);
    assert.match(text, /retry: \d+\n\n$/, 'the stream ends with a retry hint');

    // While the client is between streams, the session's cart changes.
    structured(await callTool(B, key, sid, 'add_item_to_cart', { sku: 'COF-LATTE-12', quantity: 1, cart_id: 'lifetime' }));

    const resumed = new SseReader(await openGet(B, key, sid, primingId));
    const { data } = await resumed.until((d) => d.method === 'notifications/resources/updated', 3_000);
    assert.equal(data.params.uri, 'pos://carts/lifetime');
    // The resumed stream has a lifetime of its own.
    const rest = await resumed.next(3_000);
    assert.equal(rest, null, 'the resumed stream ends too');
  });
});

describe('shutdown ends long-lived streams', () => {
  let it: Instances;
  before(async () => {
    it = await startInstances({ count: 1, state: 'memory', env: { SHUTDOWN_GRACE_SECONDS: '8' } });
  });
  after(() => it.stop());

  test('close() ends GET and subscriptions/listen streams at once instead of waiting out the grace period', async () => {
    const [url] = it.urls as [string];
    const key = it.keys.demo;
    const sid = await openSession(url, key);
    const get = await openGet(url, key, sid);
    assert.equal(get.status, 200);
    const getReader = new SseReader(get);
    assert.ok(await getReader.next(), 'priming event');

    const listen = await fetch(`${url}/mcp`, {
      method: 'POST',
      headers: baseHeaders(key, { 'mcp-protocol-version': MODERN_VERSION, 'mcp-method': 'subscriptions/listen' }),
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'subscriptions/listen',
        params: {
          notifications: { resourceSubscriptions: ['pos://carts/default'] },
          _meta: {
            'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
            'io.modelcontextprotocol/clientInfo': { name: 't', version: '1' },
            'io.modelcontextprotocol/clientCapabilities': {},
          },
        },
      }),
    });
    assert.equal(listen.status, 200);
    const listenReader = new SseReader(listen);
    await listenReader.until((d) => d.method === 'notifications/subscriptions/acknowledged');

    const started = Date.now();
    const closing = it.servers[0]!.close();
    const listenRest = async () => {
      const events = [];
      for (let ev = await listenReader.next(3_000); ev; ev = await listenReader.next(3_000)) events.push(ev);
      return events;
    };
    const [getEnd, listenTail] = await Promise.all([getReader.next(3_000), listenRest()]);
    assert.equal(getEnd, null, 'the GET stream ended');
    // The SDK ends a listen stream with its final result ("complete"), after which the client may listen again.
    const final = listenTail.map((e) => JSON.parse(e.data) as { id?: number; result?: { resultType?: string } }).find((m) => m.id === 1);
    assert.equal(final?.result?.resultType, 'complete', `the listen stream ended with its result: ${JSON.stringify(listenTail)}`);
    await closing;
    const took = Date.now() - started;
    assert.ok(took < 3_000, `close() took ${took} ms; open streams must not hold it for the 8 s grace period`);
  });
});
