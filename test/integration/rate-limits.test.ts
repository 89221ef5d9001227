import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createApiKey } from '../../src/auth/api-key-repo.js';
import { ensureUser } from '../../src/db/users-repo.js';
import { Client, StreamableHTTPClientTransport } from '@modelcontextprotocol/client';
import { startInstances, type Instances } from '../helpers/instances.js';
import { LogCapture } from '../helpers/log-capture.js';
import { roundRobin } from '../helpers/round-robin.js';
import { baseHeaders, callTool, callToolModern, LEGACY_VERSION, openSession, post, structured, type RpcResponse } from '../helpers/mcp-http.js';

const REQUESTS = 8;
const WRITES = 2;
const WINDOW_S = 3;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Per-user limits hold across instances (they are counted in the shared Redis), refuse with 429 + Retry-After
 * before anything runs, leave other users alone, and lift when the window has passed.
 */
describe('rate limits across instances', () => {
  let it: Instances;
  let A: string;
  let B: string;
  const logs = [new LogCapture(), new LogCapture()];

  before(async () => {
    it = await startInstances({
      count: 2,
      env: {
        RATE_LIMIT_REQUESTS_PER_MINUTE: String(REQUESTS),
        RATE_LIMIT_WRITES_PER_MINUTE: String(WRITES),
        RATE_LIMIT_WINDOW_SECONDS: String(WINDOW_S),
        LOG_LEVEL: 'info',
      },
      serverOptions: (i) => ({ logStream: logs[i]! }),
    });
    [A, B] = it.urls as [string, string];
  });
  after(() => it?.stop());

  /** A key of a new user of its own, so each test starts with empty buckets. */
  const freshKey = async () => {
    const db = it.servers[0]!.db;
    const user = await ensureUser(db, { id: `rl-${randomUUID()}` });
    return (await createApiKey(db, { userId: user.id, name: 'rate limit test', scopes: ['pos:read', 'pos:write'] })).key;
  };
  const retryAfterOf = (res: RpcResponse) => {
    const retryAfter = Number(res.headers.get('retry-after'));
    assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= WINDOW_S, `Retry-After: ${res.headers.get('retry-after')}`);
    return retryAfter;
  };
  /** A refused request other than a tool call: 429 and a JSON-RPC error. */
  const assertLimited = (res: RpcResponse, limit: 'requests' | 'writes') => {
    assert.equal(res.status, 429, res.text);
    const retryAfter = retryAfterOf(res);
    assert.equal(res.body?.jsonrpc, '2.0');
    assert.equal(res.body.error.code, -32000);
    assert.deepEqual(res.body.error.data, { code: 'rate_limited', limit, retryAfterSeconds: retryAfter });
    assert.match(res.body.error.message, /Too Many Requests/);
    return retryAfter;
  };
  /** A refused tool call: the tool's error result, which the agent reads, with Retry-After on the HTTP answer. */
  const assertToolLimited = (res: RpcResponse, limit: 'requests' | 'writes', id: unknown = undefined) => {
    assert.equal(res.status, 200, res.text);
    const retryAfter = retryAfterOf(res);
    assert.equal(res.body?.jsonrpc, '2.0');
    if (id !== undefined) assert.equal(res.body.id, id);
    assert.equal(res.body.error, undefined, res.text);
    const result = res.body.result;
    assert.equal(result.isError, true);
    assert.equal(result.structuredContent.error.code, 'rate_limited');
    assert.equal(result.structuredContent.error.limit, limit);
    assert.equal(result.structuredContent.error.retry_after_seconds, retryAfter);
    assert.match(result.content[0].text, new RegExp(`^Rate limited: .*Retry in ${retryAfter} s`));
    return { retryAfter, text: result.content[0].text as string };
  };

  test('requests alternating between instances hit the per-user limit at the configured count; others are unaffected', async () => {
    const [key, otherKey] = await Promise.all([freshKey(), freshKey()]);
    const started = Date.now();
    for (let i = 0; i < REQUESTS; i++) {
      const res = await callToolModern(i % 2 ? B : A, key, 'list_businesses');
      assert.equal(res.status, 200, `request ${i + 1}: ${res.text}`);
    }
    const refused = await callToolModern(A, key, 'list_businesses');
    assert.ok(Date.now() - started < WINDOW_S * 1000, 'the requests took longer than a window; the test proves nothing');
    const { retryAfter } = assertToolLimited(refused, 'requests');
    assertLimited(await post(B, { jsonrpc: '2.0', id: 1, method: 'ping' }, baseHeaders(key)), 'requests');
    // Another user, on either instance, is served as usual.
    for (const url of [A, B]) assert.equal((await callToolModern(url, otherKey, 'list_businesses')).status, 200);

    await sleep(retryAfter * 1000 + 100);
    assert.equal((await callToolModern(B, key, 'list_businesses')).status, 200, 'served again once the window has passed');

    const limited = [...logs[0]!.requests(), ...logs[1]!.requests()].filter((l) => l.error === 'rate_limited');
    assert.equal(limited.length, 2);
    assert.deepEqual(limited.map((l) => l.httpRequest.status).sort(), [200, 429], 'the tool call refused as a tool result, the ping with 429');
    assert.ok(limited.every((l) => l.error === 'rate_limited' && l.principal?.uid?.startsWith('rl-')));
    assert.ok(
      limited.some((l) => l.mcp?.method === 'tools/call' && l.mcp?.tool === 'list_businesses' && l.mcp?.era === 'modern'),
      'a refused call is logged as the call it was',
    );
  });

  test('write tools have their own, smaller limit: the refused call changes nothing and says when to retry', async () => {
    const key = it.keys.demo2;
    const sid = await openSession(A, key);
    const business = structured(await callTool(B, key, sid, 'list_businesses')).businesses[0].id;
    structured(await callTool(B, key, sid, 'set_active_business', { business_id: business }));
    const product = structured(await callTool(A, key, sid, 'search_products', { limit: 10 })).products.find((p: { stock: number }) => p.stock >= 5);
    const cart = `rl-${randomUUID().slice(0, 8)}`;
    for (let i = 0; i < WRITES; i++) structured(await callTool(i % 2 ? A : B, key, sid, 'add_item_to_cart', { sku: product.sku, quantity: 1, cart_id: cart }));
    const refused = await callTool(A, key, sid, 'add_item_to_cart', { sku: product.sku, quantity: 1, cart_id: cart });
    const { retryAfter, text } = assertToolLimited(refused, 'writes');
    assert.match(text, /not made/);
    // Reads go on (they count as requests only), and the cart holds exactly the admitted writes.
    const view = structured(await callTool(B, key, sid, 'view_cart', { cart_id: cart }));
    assert.deepEqual(
      view.lines.map((l: { sku: string; quantity: number }) => [l.sku, l.quantity]),
      [[product.sku, WRITES]],
    );
    assertToolLimited(await callToolModern(B, key, 'checkout', { cart_id: cart, idempotency_key: randomUUID() }), 'writes');

    await sleep(retryAfter * 1000 + 100);
    structured(await callTool(B, key, sid, 'add_item_to_cart', { sku: product.sku, quantity: 1, cart_id: cart }));
    const after = structured(await callTool(A, key, sid, 'view_cart', { cart_id: cart }));
    assert.equal(after.lines[0].quantity, WRITES + 1);
    await fetch(`${A}/mcp`, { method: 'DELETE', headers: baseHeaders(key, { 'mcp-session-id': sid, 'mcp-protocol-version': LEGACY_VERSION }) });
  });

  test('the official SDK client hands the refusal of a write to its caller as a tool result it can show', async () => {
    const key = await freshKey();
    const rr = roundRobin([A, B]);
    const transport = new StreamableHTTPClientTransport(new URL(`${A}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${key}` } }, fetch: rr.fetch });
    const client = new Client({ name: 'rate-limit-test', version: '1.0.0' });
    await client.connect(transport);
    const product = { sku: 'COF-LATTE-12', quantity: 1, cart_id: `rl-${randomUUID().slice(0, 8)}` };
    // A user of no business: each call is refused by the tool (no_active_business), but still counts as a write.
    for (let i = 0; i < WRITES; i++) assert.equal((await client.callTool({ name: 'add_item_to_cart', arguments: product })).isError, true);
    const refused = await client.callTool({ name: 'add_item_to_cart', arguments: product });
    assert.equal(refused.isError, true);
    assert.equal((refused.structuredContent as { error: { code: string } }).error.code, 'rate_limited');
    assert.match((refused.content as { text: string }[])[0]!.text, /Retry in \d+ s/);
    assert.ok(rr.hits.every((h) => h > 0), `both instances served the session: ${rr.hits}`);
    await transport.terminateSession();
    await client.close();
  });

  test('refusals are counted in /metrics by limit', async () => {
    const texts = await Promise.all([A, B].map(async (url) => (await fetch(`${url}/metrics`)).text()));
    const count = (limit: string) =>
      texts.reduce((sum, t) => sum + Number(new RegExp(`^flowpos_rate_limited_total\\{limit="${limit}"\\} (\\d+)$`, 'm').exec(t)?.[1] ?? 0), 0);
    assert.equal(count('requests'), 2);
    assert.equal(count('writes'), 3);
  });
});
