import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type AddressInfo, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { SignJWT } from 'jose';
import { AccessTokens } from '../../src/auth/access-tokens.js';
import { API_KEY_PREFIX, parseApiKey } from '../../src/auth/api-key-format.js';
import { createApiKey, revokeApiKey } from '../../src/auth/api-key-repo.js';
import { mcpResourceUrl } from '../../src/auth/oauth-metadata.js';
import { isLoopbackOrigin } from '../../src/http/guards.js';
import { DEMO } from '../../src/db/seed.js';
import { baseHeaders, callTool, callToolModern, LEGACY_VERSION, openSession, post, structured, toolError, type RpcResponse } from '../helpers/mcp-http.js';
import { SseReader } from '../helpers/sse.js';
import { startTcpProxy, type TcpProxy } from '../helpers/tcp-proxy.js';
import { assertAlive, assertEveryKeyExpires, COFFEE, legacyHeaders, NO_RATE_LIMITS, postBounded, rawHttp, startBench, type Bench } from './support.js';
import { freePort } from '../../src/cluster/ports.js';

/**
 * An API key's secret and everything before it. The secret is base64url and may itself contain `_`, so the key is
 * split where its format says (the key id never contains `_`), not at the last `_`: a secret with a `_` would
 * otherwise leave a two-letter "secret" that any log line may contain by chance.
 */
function secretOf(key: string): string {
  return parseApiKey(key)!.secret;
}
function headOf(key: string): string {
  return `${API_KEY_PREFIX}${parseApiKey(key)!.keyId}_`;
}

/**
 * Who may reach what. Each threat of docs/security.md is a named test here (or in the battery it names):
 * session hijacking, broken object-level authorization across users and tenants, credentials that must no longer
 * work, DNS rebinding, token passthrough, the confused deputy, SSRF, secrets in logs and error messages, and keys
 * that would outlive their purpose in Redis.
 */

const BOOKS = DEMO.businesses.books;
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: LEGACY_VERSION, capabilities: {}, clientInfo: { name: 'sec', version: '1' } } };
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

let b: Bench;
/** demo-user-2's key and session; demo-user-2 is a member of Page Turner Books and (for these tests) of Corner Coffee. */
let key2: string;
let sid2: string;
let A: string;
let B: string;

function refusedWith(res: RpcResponse, status: number, rpc: number): void {
  assert.equal(res.status, status, res.text.slice(0, 300));
  assert.equal(res.body?.error?.code, rpc, res.text.slice(0, 300));
}

describe('security: who may reach what', { timeout: 85_000 }, () => {
  before(async () => {
    // Rate limits on, but far above what these tests send, so their keys exist in Redis for the TTL check.
    b = await startBench({ RATE_LIMIT_REQUESTS_PER_MINUTE: '100000', RATE_LIMIT_WRITES_PER_MINUTE: '100000' });
    [A, B] = b.urls;
    key2 = b.it.keys.demo2;
    // Two users of one business: the setting in which a cart handle could be mistaken for someone else's.
    await b.db.query(`INSERT INTO memberships (user_id, business_id, role) VALUES ($1, $2, 'staff')`, [DEMO.users.demo2, COFFEE]);
    sid2 = await openSession(B, key2);
  });
  after(() => b?.stop());

  test('session hijacking: another principal presenting a valid session id gets 404 and no data, on every method; the owner carries on', async () => {
    const hijack = legacyHeaders(key2, b.sid);
    const call = await postBounded(A, JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/call', params: { name: 'view_cart', arguments: { cart_id: 'hostile-a' } } }), hijack, 'hijack');
    refusedWith(call, 404, -32001);
    assert.doesNotMatch(call.text, /COF-|hostile-a|Corner Coffee/, 'nothing of the session or its carts');
    refusedWith(await postBounded(B, JSON.stringify({ jsonrpc: '2.0', id: 6, method: 'tools/list' }), hijack, 'hijack list'), 404, -32001);
    const stream = await rawHttp(B, { method: 'GET', headers: { authorization: `Bearer ${key2}`, accept: 'text/event-stream', 'mcp-session-id': b.sid } });
    assert.equal(stream.status, 404);
    const del = await rawHttp(A, { method: 'DELETE', headers: { authorization: `Bearer ${key2}`, 'mcp-session-id': b.sid } });
    assert.equal(del.status, 404);
    // Same answer as for an id that never existed: a leaked id tells its finder nothing.
    const unknown = await postBounded(A, JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/list' }), legacyHeaders(key2, 'AAAAAAAAAAAAAAAAAAAAAA'), 'unknown');
    assert.deepEqual({ ...unknown.body, id: 5 }, { ...(await postBounded(A, JSON.stringify({ jsonrpc: '2.0', id: 5, method: 'tools/list' }), hijack, 'hijack')).body, id: 5 });
    // The owner's session survived the DELETE attempt, on both instances.
    assert.equal(structured(await callTool(A, b.key, b.sid, 'view_cart', { cart_id: 'hostile-a' })).lines.length, 2);
    assert.equal(structured(await callTool(B, b.key, b.sid, 'view_cart', { cart_id: 'hostile-a' })).lines.length, 2);
  });

  test("BOLA: another tenant's business_id is refused and the active business does not move (both eras)", async () => {
    assert.equal(toolError(await callTool(A, b.key, b.sid, 'set_active_business', { business_id: BOOKS })).code, 'business_not_found');
    assert.equal(toolError(await callToolModern(B, b.key, 'set_active_business', { business_id: BOOKS })).code, 'business_not_found');
    assert.equal(structured(await callTool(B, b.key, b.sid, 'get_active_business')).active_business.id, COFFEE);
    assert.equal(structured(await callToolModern(A, b.key, 'get_active_business')).active_business.id, COFFEE);
    // Nothing of that business reads through the catalog either.
    const search = structured(await callTool(A, b.key, b.sid, 'search_products', { query: 'BK-' }));
    assert.equal(search.total, 0);
    assert.equal(toolError(await callTool(B, b.key, b.sid, 'get_product', { sku: DEMO.products.books.lowStock })).code, 'product_not_found');
  });

  test("BOLA: another user's order_id reads as not found, through the tool and the resource, and never lists", async () => {
    structured(await callTool(B, key2, sid2, 'set_active_business', { business_id: BOOKS }));
    const products = structured(await callTool(A, key2, sid2, 'search_products', { limit: 50 })).products as { sku: string; stock: number }[];
    const sku = products.find((p) => p.stock > 5)!.sku;
    structured(await callTool(B, key2, sid2, 'add_item_to_cart', { sku, quantity: 1, cart_id: 'theirs' }));
    const order = structured(await callTool(A, key2, sid2, 'checkout', { cart_id: 'theirs', idempotency_key: 'sec-order' })).order;
    const got = toolError(await callTool(B, b.key, b.sid, 'get_order', { order_id: order.order_id }));
    assert.equal(got.code, 'order_not_found');
    assert.doesNotMatch(JSON.stringify(got), new RegExp(`${order.total_minor}|BK-`));
    assert.equal(toolError(await callToolModern(A, b.key, 'get_order', { order_id: order.order_id })).code, 'order_not_found');
    const resource = await post(B, { jsonrpc: '2.0', id: 3, method: 'resources/read', params: { uri: `pos://orders/${order.order_id}` } }, legacyHeaders(b.key, b.sid));
    assert.equal(resource.body.error.code, -32602);
    assert.doesNotMatch(resource.text, /BK-/);
    const mine = structured(await callTool(A, b.key, b.sid, 'list_orders', { limit: 100 }));
    assert.ok(!mine.orders.some((o: { order_id: string }) => o.order_id === order.order_id));
    // The owner still reads it.
    assert.equal(structured(await callTool(B, key2, sid2, 'get_order', { order_id: order.order_id })).order.order_id, order.order_id);
  });

  test("BOLA: another user's cart_id in the same business reads as an empty cart of your own, never theirs; checkout and clear cannot touch it", async () => {
    structured(await callTool(A, key2, sid2, 'set_active_business', { business_id: COFFEE }));
    structured(await callTool(B, key2, sid2, 'add_item_to_cart', { sku: 'COF-FLATWHITE-8', quantity: 4, cart_id: 'team' }));
    const stockBefore = Number((await b.db.query<{ stock: number }>('SELECT stock FROM products WHERE business_id = $1 AND sku = $2', [COFFEE, 'COF-FLATWHITE-8'])).rows[0]!.stock);
    for (const read of [
      () => callTool(A, b.key, b.sid, 'view_cart', { cart_id: 'team' }),
      () => callToolModern(B, b.key, 'view_cart', { cart_id: 'team' }),
    ]) {
      const view = structured(await read());
      assert.equal(view.cart_id, 'team');
      assert.deepEqual(view.lines, [], 'an empty cart of your own');
      assert.equal(view.item_count, 0);
    }
    const resource = await post(A, { jsonrpc: '2.0', id: 4, method: 'resources/read', params: { uri: 'pos://carts/team' } }, legacyHeaders(b.key, b.sid));
    assert.deepEqual(JSON.parse(resource.body.result.contents[0].text).lines, []);
    assert.equal(toolError(await callTool(B, b.key, b.sid, 'checkout', { cart_id: 'team', idempotency_key: 'steal' })).code, 'cart_empty');
    structured(await callTool(A, b.key, b.sid, 'clear_cart', { cart_id: 'team' }));
    assert.equal(toolError(await callTool(B, b.key, b.sid, 'remove_item_from_cart', { sku: 'COF-FLATWHITE-8', cart_id: 'team' })).code, 'not_in_cart');
    // Theirs is untouched, and no stock moved.
    const theirs = structured(await callTool(A, key2, sid2, 'view_cart', { cart_id: 'team' }));
    assert.deepEqual(theirs.lines.map((l: { sku: string; quantity: number }) => [l.sku, l.quantity]), [['COF-FLATWHITE-8', 4]]);
    const stockAfter = Number((await b.db.query<{ stock: number }>('SELECT stock FROM products WHERE business_id = $1 AND sku = $2', [COFFEE, 'COF-FLATWHITE-8'])).rows[0]!.stock);
    assert.equal(stockAfter, stockBefore);
  });

  test("BOLA: a Last-Event-ID naming another session's stream replays only your own session's events", async () => {
    // demo-user-2 makes events on their session's GET stream.
    const theirStream = await fetch(`${A}/mcp`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${key2}`, 'mcp-session-id': sid2, 'mcp-protocol-version': LEGACY_VERSION } });
    const reader = new SseReader(theirStream);
    const priming = (await reader.next())!;
    structured(await callTool(B, key2, sid2, 'add_item_to_cart', { sku: 'COF-CHAI-12', quantity: 1, cart_id: 'their-secret-cart' }));
    await reader.until((d: { method?: string }) => d.method === 'notifications/resources/updated');
    await reader.cancel();
    // demo-user's own session logs an event after that moment too.
    const own = await fetch(`${A}/mcp`, { headers: { accept: 'text/event-stream', authorization: `Bearer ${b.key}`, 'mcp-session-id': b.sid, 'mcp-protocol-version': LEGACY_VERSION } });
    const ownReader = new SseReader(own);
    await ownReader.next();
    structured(await callTool(A, b.key, b.sid, 'add_item_to_cart', { sku: 'COF-CHAI-12', quantity: 1, cart_id: 'own-cart' }));
    await ownReader.until((d: { method?: string }) => d.method === 'notifications/resources/updated');
    await ownReader.cancel();
    // demo-user resumes "after" demo-user-2's priming event id, on demo-user's own session.
    const replay = await fetch(`${B}/mcp`, {
      headers: { accept: 'text/event-stream', authorization: `Bearer ${b.key}`, 'mcp-session-id': b.sid, 'mcp-protocol-version': LEGACY_VERSION, 'last-event-id': priming.id! },
    });
    assert.equal(replay.status, 200);
    const replayed = new SseReader(replay);
    const uris: string[] = [];
    for (;;) {
      const ev = await replayed.next(1_500).catch(() => null);
      if (!ev) break;
      if (ev.data) uris.push(String((JSON.parse(ev.data) as { params?: { uri?: string } }).params?.uri));
    }
    await replayed.cancel();
    assert.ok(uris.includes('pos://carts/own-cart'), `your own events replay: ${uris.join(', ')}`);
    assert.ok(!uris.some((u) => u.includes('their-secret-cart')), `nothing of the other session: ${uris.join(', ')}`);
  });

  test('broken authentication: revoked, expired, malformed keys and a valid key id with a wrong secret → 401, one message for all', async () => {
    const db = b.db;
    const revoked = await createApiKey(db, { userId: DEMO.users.demo, name: 'sec revoked', scopes: ['pos:read', 'pos:write'] });
    const sid = await openSession(A, revoked.key);
    assert.equal(await revokeApiKey(db, revoked.record.keyId), true);
    const expired = await createApiKey(db, { userId: DEMO.users.demo, name: 'sec expired', scopes: ['pos:read'], expiresAt: new Date(Date.now() - 1000) });
    const valid = b.key;
    const secret = secretOf(valid);
    const flip = (s: string) => s.slice(0, -1) + (s.endsWith('A') ? 'B' : 'A');
    const candidates: [string, string][] = [
      ['revoked', revoked.key],
      ['expired', expired.key],
      ['valid id, wrong secret', flip(valid)],
      ['valid id, empty secret', headOf(valid)],
      ['valid id, secret of another key', `${headOf(valid)}${secretOf(key2)}`],
      ['valid key with one extra character', `${valid}x`],
      ['valid key truncated', valid.slice(0, -1)],
      ['upper-cased key id', valid.replace(/^fpk_([a-z2-7]+)/, (_m, id: string) => `fpk_${id.toUpperCase()}`)],
      ['no prefix', valid.slice(4)],
      ['just the secret', secret],
      ['SQL in the key id', `fpk_' OR '1'='1_${secret}`],
      ['glob key id', `fpk_************_${secret}`],
      ['nonsense', 'nonsense'],
      ['8 KB', 'x'.repeat(8000)],
    ];
    for (const [name, credential] of candidates) {
      for (const url of [A, B]) {
        const res = await post(url, INIT, baseHeaders(credential));
        assert.equal(res.status, 401, `${name}: ${res.status} ${res.text.slice(0, 200)}`);
        assert.equal(res.body.error.data.code, 'invalid_token', name);
        assert.match(res.headers.get('www-authenticate') ?? '', /error="invalid_token"/, name);
        assert.ok(!res.text.includes(secret), `${name}: the error does not echo a secret`);
      }
    }
    // The session opened before the revocation is no key: the revoked key cannot use it.
    refusedWith(await callTool(B, revoked.key, sid, 'view_cart'), 401, -32000);
  });

  test('DNS rebinding: foreign Host and Origin → 403, including names that merely start like loopback', async () => {
    for (const origin of ['https://evil.example', 'http://127.0.0.1.evil.example', 'http://localhost.evil.example:4000', 'null']) {
      const res = await post(A, INIT, baseHeaders(b.key, { origin }));
      assert.equal(res.status, 403, origin);
      assert.equal(res.body.error.data.code, 'forbidden_origin', origin);
      const preflight = await fetch(`${B}/mcp`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization' } });
      assert.equal(preflight.headers.get('access-control-allow-origin'), null, `no CORS grant for ${origin}`);
    }
    for (const host of ['evil.example', '127.0.0.1.evil.example', '[::1].evil.example', 'localhost.evil.example:80']) {
      const res = await rawHttp(B, { headers: { ...baseHeaders(b.key), host }, body: JSON.stringify(INIT) });
      assert.equal(res.status, 403, host);
      assert.equal(res.body.error.data.code, 'forbidden_host', host);
    }
    assert.equal(isLoopbackOrigin('http://127.0.0.1.evil.example'), false);
    assert.equal(isLoopbackOrigin('http://127.0.0.1:6274'), true);
    assert.equal(isLoopbackOrigin('http://[::1]:6274'), true);
  });

  test('token passthrough: a token minted for another audience or issuer (or by nobody) is never accepted', async () => {
    const secret = new TextEncoder().encode('x'.repeat(48));
    const foreign = await new SignJWT({ scope: 'pos:read pos:write' })
      .setProtectedHeader({ alg: 'HS256', typ: 'at+jwt' })
      .setIssuer('https://accounts.example')
      .setAudience('https://some-other-api.example')
      .setSubject(DEMO.users.demo)
      .setJti('sec-1')
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(secret);
    const firebaseLike = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://securetoken.google.com/some-project')
      .setAudience('some-project')
      .setSubject(DEMO.users.demo)
      .setIssuedAt()
      .setExpirationTime('1h')
      .sign(secret);
    const unsigned = `${Buffer.from('{"alg":"none","typ":"at+jwt"}').toString('base64url')}.${Buffer.from(JSON.stringify({ sub: DEMO.users.demo, scope: 'pos:write' })).toString('base64url')}.`;
    for (const [name, token] of [['foreign audience', foreign], ['upstream identity token', firebaseLike], ['alg none', unsigned]] as const) {
      const res = await post(A, INIT, baseHeaders(token));
      assert.equal(res.status, 401, `${name}: ${res.text.slice(0, 200)}`);
      const tool = await callToolModern(B, token, 'view_cart');
      assert.equal(tool.status, 401, name);
    }
  });

  test('confused deputy: a session carries no authority; every request acts with its own credential only', async () => {
    // A session opened with a read-write key, then used with a read-only key of the same user: writes are refused.
    const readOnly = b.it.keys.readOnly;
    const sid = await openSession(A, b.key);
    structured(await callTool(B, b.key, sid, 'set_active_business', { business_id: COFFEE }));
    const before = structured(await callTool(A, readOnly, sid, 'view_cart', { cart_id: 'deputy' }));
    for (const [name, args] of [
      ['add_item_to_cart', { sku: 'COF-LATTE-12', quantity: 1, cart_id: 'deputy' }],
      ['update_cart_item', { sku: 'COF-LATTE-12', quantity: 3, cart_id: 'deputy' }],
      ['clear_cart', { cart_id: 'hostile-a' }],
      ['checkout', { cart_id: 'hostile-a', idempotency_key: 'deputy' }],
    ] as const) {
      const res = await callTool(B, readOnly, sid, name, args);
      assert.equal(toolError(res).code, 'insufficient_scope', name);
    }
    assert.deepEqual(structured(await callTool(A, readOnly, sid, 'view_cart', { cart_id: 'deputy' })), before);
    assert.equal(structured(await callTool(A, b.key, b.sid, 'view_cart', { cart_id: 'hostile-a' })).lines.length, 2);
    // Arguments cannot name another principal or price: extra fields are ignored, the line is yours at the catalog price.
    const added = structured(await callTool(B, b.key, sid, 'add_item_to_cart', { sku: 'COF-LATTE-12', quantity: 1, cart_id: 'deputy', user_id: DEMO.users.demo2, business_id: BOOKS, unit_price_minor: 1 }));
    assert.equal(added.business_id, COFFEE);
    assert.equal(added.lines[0].unit_price_minor, 450);
    assert.deepEqual(structured(await callTool(A, key2, sid2, 'view_cart', { cart_id: 'deputy' })).lines, []);
  });

  test('SSRF: URIs naming internal addresses or files are never fetched', async () => {
    let connections = 0;
    const trap: Server = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => trap.listen(0, '127.0.0.1', resolve));
    const port = (trap.address() as AddressInfo).port;
    try {
      for (const uri of [`http://127.0.0.1:${port}/`, `http://localhost:${port}/admin`, 'http://169.254.169.254/latest/meta-data/', 'file:///etc/passwd', `gopher://127.0.0.1:${port}/_x`, `pos://products/..%2F..%2Fhttp:%2F%2F127.0.0.1:${port}`]) {
        const res = await post(A, { jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri } }, legacyHeaders(b.key, b.sid));
        assert.equal(res.body?.error?.code, -32602, `${uri}: ${res.text.slice(0, 200)}`);
        assert.doesNotMatch(res.text, /root:|ami-id/);
      }
      // A tool argument shaped like a URL is just a string that names nothing.
      assert.equal((await callTool(B, b.key, b.sid, 'get_product', { sku: `http://127.0.0.1:${port}` })).body.result.isError, true);
      await new Promise((resolve) => setTimeout(resolve, 100));
      assert.equal(connections, 0, 'the server never connected to the address it was given');
    } finally {
      await new Promise((resolve) => trap.close(resolve));
    }
  });

  test('secrets are absent from logs and error messages: API keys, a wrong secret, the database password (a real `serve` process, its stdout read)', async () => {
    const dbPassword = 'Db-Pa55word-that-must-not-leak';
    const proxy: TcpProxy = await startTcpProxy('127.0.0.1', Number(new URL(b.it.databaseUrl!).port || 5432));
    const dbUrl = new URL(b.it.databaseUrl!);
    dbUrl.password = dbPassword; // trust authentication ignores it; the logs must too
    dbUrl.hostname = '127.0.0.1';
    dbUrl.port = String(proxy.port);
    const port = await freePort();
    const output: string[] = [];
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli.ts', 'serve'], {
      cwd: ROOT,
      env: {
        ...process.env,
        NODE_ENV: 'test',
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'debug',
        DATABASE_URL: dbUrl.toString(),
        REDIS_URL: b.it.redisUrl!,
        MCP_REDIS_KEY_PREFIX: b.it.redis!.keyPrefix,
        DEMO_SEED: 'false',
        API_KEY_CACHE_SECONDS: '0',
        ...NO_RATE_LIMITS,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d: Buffer) => output.push(d.toString()));
    child.stderr.on('data', (d: Buffer) => output.push(d.toString()));
    const url = `http://localhost:${port}`;
    const bodies: string[] = [];
    try {
      const deadline = Date.now() + 45_000;
      for (;;) {
        const ok = await fetch(`${url}/ready`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status === 200, () => false);
        if (ok) break;
        assert.ok(Date.now() < deadline, `serve was not ready within 45 s:\n${output.join('').slice(-3000)}`);
        assert.equal(child.exitCode, null, `serve exited: ${output.join('')}`);
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const key = b.key;
      const secretPart = secretOf(key);
      const wrongSecret = `${headOf(key)}${'Z'.repeat(32)}`;
      const note = async (res: { text: string } | Promise<{ text: string }>) => bodies.push((await res).text);
      const sid = await openSession(url, key);
      await note(callTool(url, key, sid, 'set_active_business', { business_id: COFFEE }));
      await note(callTool(url, key, sid, 'add_item_to_cart', { sku: 'NOPE', quantity: 1 }));
      await note(post(url, INIT, baseHeaders(wrongSecret)));
      await note(post(url, INIT, { ...baseHeaders(), authorization: `Basic ${Buffer.from(`demo:${secretPart}`).toString('base64')}` }));
      await note(postBounded(url, '{"broken', baseHeaders(key), 'broken'));
      await note(rawHttp(url, { path: `/mcp?api_key=${key}&token=${secretPart}`, headers: baseHeaders(key), body: JSON.stringify(INIT) }));
      await note(rawHttp(url, { path: `/nowhere?password=${dbPassword}`, method: 'GET', headers: { authorization: `Bearer ${key}` } }));
      await note(post(url, INIT, baseHeaders(key, { 'x-api-key': key, cookie: `session=${secretPart}` })));
      // The database goes away: the 503s and the logs name the database, never its password.
      await proxy.cut();
      await note(callTool(url, key, sid, 'search_products', { query: 'latte' }));
      await note(post(url, INIT, baseHeaders(key)));
      await note(fetch(`${url}/ready`).then(async (r) => ({ text: await r.text() })));
      await proxy.restore();
      await new Promise((resolve) => setTimeout(resolve, 300));
      const logs = output.join('');
      assert.match(logs, /"status":401/, `the request log lines were captured:\n${logs.slice(-3000)}`);
      assert.match(logs, /"status":503/, `the outage was logged:\n${logs.slice(-3000)}`);
      for (const [name, secret] of [['API key secret', secretPart], ['wrong secret', 'Z'.repeat(32)], ['database password', dbPassword]] as const) {
        assert.ok(!logs.includes(secret), `${name} appears in the log:\n${logs.split('\n').filter((l) => l.includes(secret)).join('\n').slice(0, 1000)}`);
        for (const body of bodies) assert.ok(!body.includes(secret), `${name} appears in an answer: ${body.slice(0, 300)}`);
      }
    } finally {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(timer);
      }
      await proxy.close();
    }
  });

  test('every Redis key carries a TTL after all of the above (sessions, carts, streams, preferences, rate limits)', async () => {
    // A streamed answer (progress token) and a GET stream leave event logs behind too.
    await post(A, { jsonrpc: '2.0', id: 77, method: 'tools/call', params: { name: 'view_cart', arguments: {}, _meta: { progressToken: 'p1' } } }, legacyHeaders(b.key, b.sid));
    await assertAlive(b.urls);
    const checked = await assertEveryKeyExpires(b);
    assert.ok(checked >= 5, `keys were written (${checked})`);
  });
});

/**
 * Access tokens (OAuth, src/auth/access-tokens.ts). test/integration/oauth.test.ts covers the named refusals (expired,
 * wrong audience/issuer, alg none, HS/RS confusion, wrong key, revocation, rotation, the session never outliving
 * its token); these are the hostile additions: arbitrary corruption of a valid token, a valid token for someone
 * with no membership, and scopes a token cannot invent.
 */
describe('security: access tokens (JWT)', { timeout: 60_000 }, () => {
  const SECRET = 'hostile-access-token-secret-hostile-access-token-secret';
  let t: Bench;
  let mint: (subject: string, scopes: ('pos:read' | 'pos:write')[]) => Promise<string>;
  before(async () => {
    t = await startBench({ MCP_TOKEN_SECRET: SECRET });
    const { publicUrl } = t.it.servers[0]!.config;
    const tokens = new AccessTokens({ issuer: publicUrl, audience: mcpResourceUrl(publicUrl), secret: SECRET, ttlSeconds: 600 });
    mint = async (subject, scopes) => (await tokens.mint({ subject, scopes, clientId: 'hostile' })).token;
  });
  after(() => t?.stop());

  test('a valid token corrupted anywhere (header, payload, signature, segments) → 401 invalid_token, never a 500', async () => {
    const token = await mint(DEMO.users.demo, ['pos:read', 'pos:write']);
    assert.equal((await post(t.urls[0], INIT, baseHeaders(token))).status, 200, 'the uncorrupted token works');
    const [h, p, sig] = token.split('.') as [string, string, string];
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
    const mutation = fc.oneof(
      // one character of one segment replaced
      fc.record({ at: fc.nat({ max: token.length - 1 }), ch: fc.constantFrom(...'AaZz09-_.=+/ ') }).map(({ at, ch }) => token.slice(0, at) + ch + token.slice(at + 1)),
      fc.integer({ min: 1, max: token.length - 1 }).map((n) => token.slice(0, n)),
      fc.constantFrom(`${token}.`, `${token}.${sig}`, `${h}.${p}`, `${h}..${sig}`, `.${p}.${sig}`, `${h}.${p}.`, token.split('').reverse().join('')),
      // a claim changed without re-signing: who, what, for whom, until when
      fc
        .record({ name: fc.constantFrom('sub', 'scope', 'aud', 'iss', 'exp', 'jti', 'client_id'), value: fc.jsonValue({ maxDepth: 1 }) })
        .map(({ name, value }) => `${h}.${b64({ ...claims, [name]: value })}.${sig}`),
      fc.constantFrom({ alg: 'none', typ: 'at+jwt' }, { alg: 'HS512', typ: 'at+jwt' }, { alg: 'RS256', typ: 'at+jwt' }, { alg: 'HS256' }, { alg: 'HS256', typ: 'at+jwt', kid: '../../etc' }, { alg: 'HS256', typ: 'at+jwt', crit: ['x'] }).map((hdr) => `${b64(hdr)}.${p}.${sig}`),
    );
    let k = 0;
    await fc.assert(
      // (Mutations that decode to the very same bytes are left out: base64url's slack bits and padding let
      // `…Y` and `…Z` or `…=` name the same signature, and the JWT library accepts those, as most do.)
      fc.asyncProperty(mutation.filter((m) => m !== token && !sameBytes(m, token)), async (bad) => {
        const res = await postBounded(t.urls[k++ % 2]!, JSON.stringify(INIT), baseHeaders(bad), `token ${bad.slice(0, 80)}`);
        assert.equal(res.status, 401, `${bad.slice(0, 120)} → ${res.status} ${res.text.slice(0, 200)}`);
        assert.equal(res.body?.error?.data?.code, 'invalid_token');
      }),
      { numRuns: 80 },
    );
    await assertAlive(t.urls);
  });

  test('a correctly signed token for a subject with no membership reaches no business (BOLA by sub)', async () => {
    const ghost = await mint('no-such-user', ['pos:read', 'pos:write']);
    const sid = await openSession(t.urls[0], ghost);
    assert.deepEqual(structured(await callTool(t.urls[1], ghost, sid, 'list_businesses')).businesses, []);
    assert.equal(toolError(await callTool(t.urls[0], ghost, sid, 'set_active_business', { business_id: COFFEE })).code, 'business_not_found');
    assert.equal(toolError(await callToolModern(t.urls[1], ghost, 'view_cart', { cart_id: 'hostile-a' })).code, 'no_active_business');
    // demo-user-2 (Page Turner Books only) cannot act for Corner Coffee with a valid token either.
    const other = await mint(DEMO.users.demo2, ['pos:read', 'pos:write']);
    assert.equal(toolError(await callToolModern(t.urls[0], other, 'set_active_business', { business_id: COFFEE })).code, 'business_not_found');
    // And nobody's token opens demo-user's session.
    refusedWith(await callTool(t.urls[1], other, t.sid, 'view_cart', { cart_id: 'hostile-a' }), 404, -32001);
  });

  test('a read-only token cannot write: 403 insufficient_scope before the tool runs, nothing changes', async () => {
    const readOnly = await mint(DEMO.users.demo, ['pos:read']);
    const before = await t.snapshot();
    for (const [name, args] of [
      ['add_item_to_cart', { sku: 'COF-LATTE-12', quantity: 1, cart_id: 'hostile-a' }],
      ['clear_cart', { cart_id: 'hostile-a' }],
      ['checkout', { cart_id: 'hostile-a', idempotency_key: 'ro-token' }],
    ] as const) {
      const res = await callTool(t.urls[0], readOnly, t.sid, name, args);
      assert.equal(res.status, 403, `${name}: ${res.text.slice(0, 200)}`);
      assert.match(res.headers.get('www-authenticate') ?? '', /insufficient_scope/);
    }
    assert.deepEqual(await t.snapshot(), before);
  });
});

/** Whether two compact JWTs decode to the same bytes segment by segment (lenient base64url, as libraries read it). */
function sameBytes(a: string, b: string): boolean {
  const norm = (t: string) => t.split('.').map((seg) => Buffer.from(seg, 'base64url').toString('hex'));
  const [x, y] = [norm(a), norm(b)];
  return x.length === y.length && x.every((seg, i) => seg === y[i]);
}


