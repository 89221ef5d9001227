import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { createApiKey, revokeApiKey } from '../../src/auth/api-key-repo.js';
import { DEMO } from '../../src/db/seed.js';
import { startInstances, type Instances } from '../helpers/instances.js';
import { baseHeaders, callTool, callToolModern, LEGACY_VERSION, MODERN_VERSION, openSession, post, structured } from '../helpers/mcp-http.js';

const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: LEGACY_VERSION, capabilities: {}, clientInfo: { name: 't', version: '1' } } };

/** Every bad request gets a precise status and a JSON-RPC error a person can act on — never a 500. */
describe('refusals at the HTTP edge', () => {
  let it: Instances;
  let A: string;
  let B: string;
  before(async () => {
    it = await startInstances({ count: 2, env: { MCP_MAX_BODY_BYTES: '4096' } });
    [A, B] = it.urls as [string, string];
  });
  after(() => it.stop());

  const expectError = (res: { status: number; body: any; headers: Headers }, status: number, rpc: number, pattern?: RegExp) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body?.jsonrpc, '2.0');
    assert.equal(res.body?.error?.code, rpc);
    if (pattern) assert.match(res.body.error.message, pattern);
  };

  test('invalid JSON → 400 parse error', async () => {
    expectError(await post(A, '{"jsonrpc":"2.0",', baseHeaders(it.keys.demo)), 400, -32700, /not valid JSON/);
  });
  test('empty JSON body → 400 parse error', async () => {
    expectError(await post(A, '', baseHeaders(it.keys.demo)), 400, -32700);
  });
  test('JSON that is not a JSON-RPC message → 400 invalid request', async () => {
    for (const body of ['42', '"x"', 'null', '{"hello":"world"}', '{"jsonrpc":"1.0","id":1,"method":"ping"}']) {
      const res = await post(B, body, baseHeaders(it.keys.demo));
      assert.ok(res.status === 400, `${body} → ${res.status} ${res.text}`);
      assert.ok([-32600, -32700].includes(res.body?.error?.code), `${body} → ${res.text}`);
    }
  });
  test('batch → 400 with the reason', async () => {
    expectError(await post(A, [INIT], baseHeaders(it.keys.demo)), 400, -32600, /batches are not supported/);
  });
  test('wrong Content-Type → 415', async () => {
    expectError(await post(A, JSON.stringify(INIT), { ...baseHeaders(it.keys.demo), 'content-type': 'text/plain' }), 415, -32000, /application\/json/);
  });
  test('Accept without text/event-stream → 406', async () => {
    expectError(await post(A, INIT, { ...baseHeaders(it.keys.demo), accept: 'application/json' }), 406, -32000, /Accept/);
  });
  test('body over the limit → 413', async () => {
    const big = { ...INIT, params: { ...INIT.params, clientInfo: { name: 'x'.repeat(10_000), version: '1' } } };
    expectError(await post(A, big, baseHeaders(it.keys.demo)), 413, -32000, /exceeds/);
  });
  test('missing Mcp-Session-Id on a non-initialize request → 400', async () => {
    expectError(
      await post(A, { jsonrpc: '2.0', id: 2, method: 'tools/list' }, baseHeaders(it.keys.demo, { 'mcp-protocol-version': LEGACY_VERSION })),
      400,
      -32000,
      /Mcp-Session-Id header is required/,
    );
  });
  test('unknown session → 404 with -32001', async () => {
    expectError(await callTool(B, it.keys.demo, 'no-such-session', 'view_cart'), 404, -32001, /initialize/);
  });
  test('malformed session id → 400', async () => {
    expectError(await callTool(A, it.keys.demo, 'x'.repeat(300), 'view_cart'), 400, -32000, /visible ASCII/);
  });
  test('unsupported MCP-Protocol-Version → 400', async () => {
    const sid = await openSession(A, it.keys.demo);
    const res = await post(A, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, baseHeaders(it.keys.demo, { 'mcp-session-id': sid, 'mcp-protocol-version': '1999-01-01' }));
    expectError(res, 400, -32000, /unsupported MCP-Protocol-Version/);
  });
  test('a supported MCP-Protocol-Version other than the negotiated one is served (the conformance suite 0.1 sends 2025-03-26 on a 2025-11-25 session)', async () => {
    const sid = await openSession(A, it.keys.demo);
    // Concurrent, on both instances, as server-sse-multiple-streams sends them.
    const answers = await Promise.all(
      [A, B, A, B].map((url, k) =>
        post(url, { jsonrpc: '2.0', id: 30 + k, method: 'tools/list', params: {} }, baseHeaders(it.keys.demo, { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-03-26' })),
      ),
    );
    assert.deepEqual(answers.map((r) => r.status), [200, 200, 200, 200], answers.map((r) => r.text.slice(0, 200)).join('\n'));
    for (const [k, r] of answers.entries()) {
      assert.equal(r.body.id, 30 + k);
      assert.equal(r.body.result.tools.length, 13);
    }
  });
  test('missing MCP-Protocol-Version is accepted (2025-03-26 clients do not send it)', async () => {
    const sid = await openSession(A, it.keys.demo);
    const res = await post(B, { jsonrpc: '2.0', id: 3, method: 'tools/list' }, baseHeaders(it.keys.demo, { 'mcp-session-id': sid }));
    assert.equal(res.status, 200);
    assert.equal(res.body.result.tools.length, 13);
  });
  test('foreign Origin → 403; loopback origin allowed', async () => {
    expectError(await post(A, INIT, baseHeaders(it.keys.demo, { origin: 'https://evil.example' })), 403, -32000, /Origin/);
    assert.equal((await post(A, INIT, baseHeaders(it.keys.demo, { origin: 'http://localhost:6274' }))).status, 200);
  });
  test('foreign Host (DNS rebinding) → 403', async () => {
    // fetch() will not send a forged Host, so speak HTTP directly, as a rebinding browser would.
    const { port } = new URL(A);
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, path: '/mcp', method: 'POST', headers: { ...baseHeaders(it.keys.demo), host: `evil.example:${port}` } }, (r) => {
        let body = '';
        r.on('data', (c: Buffer) => (body += c.toString()));
        r.on('end', () => resolve({ status: r.statusCode ?? 0, body }));
      });
      req.on('error', reject);
      req.end(JSON.stringify(INIT));
    });
    assert.equal(res.status, 403);
    assert.match(JSON.parse(res.body).error.message, /Host/);
  });
  // RFC 9728 §5.1: the challenge names the resource metadata, where MCP clients discover how to get a token.
  const challenge = () => `Bearer resource_metadata="${it.servers[0]!.config.publicUrl}/.well-known/oauth-protected-resource/mcp", scope="pos:read pos:write"`;
  test('no credentials → 401 with a Bearer challenge and no error attribute', async () => {
    const res = await post(A, INIT, baseHeaders());
    expectError(res, 401, -32000, /Authorization: Bearer/);
    assert.equal(res.headers.get('www-authenticate'), challenge());
  });
  test('bad credentials → 401 invalid_token', async () => {
    for (const key of ['nonsense', 'fpk_abc_def', `${it.keys.demo}x`, it.keys.demo.slice(0, -1) + (it.keys.demo.endsWith('A') ? 'B' : 'A')]) {
      const res = await post(A, INIT, baseHeaders(key));
      expectError(res, 401, -32000, /invalid, expired or revoked/);
      assert.equal(res.headers.get('www-authenticate'), `${challenge()}, error="invalid_token"`);
    }
    const basic = await post(A, INIT, { ...baseHeaders(), authorization: 'Basic dXNlcjpwYXNz' });
    expectError(basic, 401, -32000, /Bearer scheme/);
  });
  test('revoked and expired keys → 401, on every instance', async () => {
    const { key, record } = await createApiKey(it.servers[0]!.db, { userId: DEMO.users.demo, name: 'short-lived', scopes: ['pos:read'] });
    assert.equal((await post(A, INIT, baseHeaders(key))).status, 200);
    assert.equal(await revokeApiKey(it.servers[0]!.db, record.keyId), true);
    assert.equal((await post(B, INIT, baseHeaders(key))).status, 401);
    assert.equal((await post(A, INIT, baseHeaders(key))).status, 401);
    const expired = await createApiKey(it.servers[0]!.db, { userId: DEMO.users.demo, name: 'expired', scopes: ['pos:read'], expiresAt: new Date(Date.now() - 1000) });
    assert.equal((await post(B, INIT, baseHeaders(expired.key))).status, 401);
  });
  test('GET without text/event-stream → 406; without a session → 400', async () => {
    const sid = await openSession(A, it.keys.demo);
    const noAccept = await fetch(`${A}/mcp`, { headers: { authorization: `Bearer ${it.keys.demo}`, accept: 'application/json', 'mcp-session-id': sid } });
    assert.equal(noAccept.status, 406);
    const noSession = await fetch(`${B}/mcp`, { headers: { authorization: `Bearer ${it.keys.demo}`, accept: 'text/event-stream' } });
    assert.equal(noSession.status, 400);
  });
  test('DELETE without a session id → 400', async () => {
    const res = await fetch(`${A}/mcp`, { method: 'DELETE', headers: { authorization: `Bearer ${it.keys.demo}` } });
    assert.equal(res.status, 400);
  });
  test('unknown JSON-RPC method → -32601 inside the session', async () => {
    const sid = await openSession(A, it.keys.demo);
    const res = await post(B, { jsonrpc: '2.0', id: 9, method: 'no/such/method' }, baseHeaders(it.keys.demo, { 'mcp-session-id': sid, 'mcp-protocol-version': LEGACY_VERSION }));
    assert.equal(res.body.error.code, -32601);
  });
  test('invalid tool arguments are refused and change nothing', async () => {
    const sid = await openSession(A, it.keys.demo);
    structured(await callTool(A, it.keys.demo, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    const before = structured(await callTool(B, it.keys.demo, sid, 'view_cart', { cart_id: 'bad-input' }));
    for (const args of [
      { sku: 'COF-LATTE-12', quantity: -1 },
      { sku: 'COF-LATTE-12', quantity: 0 },
      { sku: 'COF-LATTE-12', quantity: 1.5 },
      { sku: 'COF-LATTE-12', quantity: 1e12 },
      { sku: "x' OR 1=1 --", quantity: 1 },
      { sku: 'a}{b:*', quantity: 1 },
      { quantity: 1 },
    ]) {
      const res = await callTool(A, it.keys.demo, sid, 'add_item_to_cart', { ...args, cart_id: 'bad-input' });
      const refused = res.body?.error?.code === -32602 || res.body?.result?.isError === true;
      assert.ok(res.status === 200 && refused, `${JSON.stringify(args)} → ${res.status} ${res.text.slice(0, 300)}`);
    }
    assert.deepEqual(structured(await callTool(B, it.keys.demo, sid, 'view_cart', { cart_id: 'bad-input' })), before);
  });
  test('CORS preflight exposes the session header to browser clients', async () => {
    const res = await fetch(`${A}/mcp`, {
      method: 'OPTIONS',
      headers: { origin: 'http://localhost:6274', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, mcp-session-id' },
    });
    assert.ok(res.status === 204 || res.status === 200);
    assert.equal(res.headers.get('access-control-allow-origin'), 'http://localhost:6274');
    const real = await post(A, INIT, baseHeaders(it.keys.demo, { origin: 'http://localhost:6274' }));
    assert.match(real.headers.get('access-control-expose-headers') ?? '', /mcp-session-id/);
    assert.match(real.headers.get('access-control-expose-headers') ?? '', /www-authenticate/);
  });
  test('health and readiness', async () => {
    const health = await fetch(`${A}/health`);
    assert.equal(health.status, 200);
    const ready = await fetch(`${B}/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual((await ready.json()).checks, { redis: 'ok', database: 'ok' });
  });
  test('token exchange without FIREBASE_PROJECT_ID → a clear OAuth error, and API keys work as ever', async () => {
    const res = await fetch(`${A}/mcp/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'urn:ietf:params:oauth:grant-type:token-exchange', subject_token: 'x', subject_token_type: 'urn:ietf:params:oauth:token-type:id_token' }).toString(),
    });
    assert.equal(res.status, 400);
    const body = await res.json();
    assert.equal(body.error, 'unsupported_grant_type');
    assert.match(body.error_description, /FIREBASE_PROJECT_ID is not set/);
    assert.equal((await post(B, INIT, baseHeaders(it.keys.demo))).status, 200);
  });
  test('unknown route → 404 JSON', async () => {
    const res = await fetch(`${A}/nope`);
    assert.equal(res.status, 404);
    assert.match((await res.json()).error.message, /No route/);
  });

  describe('2026-07-28 (stateless)', () => {
    test('server/discover and a tool call, no session involved', async () => {
      const meta = {
        'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
        'io.modelcontextprotocol/clientInfo': { name: 't', version: '1' },
        'io.modelcontextprotocol/clientCapabilities': {},
      };
      const discover = await post(A, { jsonrpc: '2.0', id: 1, method: 'server/discover', params: { _meta: meta } }, baseHeaders(it.keys.demo2, { 'mcp-protocol-version': MODERN_VERSION, 'mcp-method': 'server/discover' }));
      assert.equal(discover.status, 200, discover.text);
      assert.deepEqual(discover.body.result.supportedVersions, [MODERN_VERSION]);
      assert.equal(discover.headers.get('mcp-session-id'), null);
      const res = structured(await callToolModern(B, it.keys.demo2, 'get_active_business'));
      assert.equal(res.active_business.id, DEMO.businesses.books);
    });
    test('a modern request without credentials is refused like any other', async () => {
      const res = await callToolModern(A, '', 'list_businesses');
      assert.equal(res.status, 401);
    });
    test('a modern request missing its _meta envelope is a precise error, not a 500', async () => {
      const res = await post(A, { jsonrpc: '2.0', id: 1, method: 'tools/list', params: {} }, baseHeaders(it.keys.demo, { 'mcp-protocol-version': MODERN_VERSION, 'mcp-method': 'tools/list' }));
      assert.ok(res.status >= 400 && res.status < 500, `${res.status} ${res.text}`);
      assert.ok(res.body?.error?.code, res.text);
    });
  });
});
