import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { decodeJwt, UnsecuredJWT } from 'jose';
import { createClient } from 'redis';
import { AccessTokens } from '../../src/auth/access-tokens.js';
import { DEMO } from '../../src/db/seed.js';
import { getUser } from '../../src/db/users-repo.js';
import { startInstances, type Instances } from '../helpers/instances.js';
import { startJwksServer, type JwksFixture } from '../helpers/jwks.js';
import { baseHeaders, callTool, callToolModern, LEGACY_VERSION, openSession, post, structured, toolError } from '../helpers/mcp-http.js';
import { exchangeForm, exchangeSimple, ID_TOKEN_TYPE, postForm, postJson, TOKEN_EXCHANGE } from '../helpers/oauth.js';

const PUBLIC_URL = 'http://localhost:4999';
const MCP_URL = `${PUBLIC_URL}/mcp`;
const METADATA_URL = `${PUBLIC_URL}/.well-known/oauth-protected-resource/mcp`;
const SECRET = 'current-secret-for-integration-tests-000000';
const PREVIOUS = 'previous-secret-for-integration-tests-11111';
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: LEGACY_VERSION, capabilities: {}, clientInfo: { name: 't', version: '1' } } };

/**
 * OAuth V2 across two instances sharing Redis and PostgreSQL: Firebase ID tokens (signed by a local JWKS server with
 * real RSA keys) exchanged for access tokens, used at /mcp beside API keys, revoked on one instance and refused on the
 * other. Every refusal is checked for its exact status and error.
 */
describe('OAuth V2: token exchange, access tokens, revocation', () => {
  let it: Instances;
  let jwks: JwksFixture;
  let A: string;
  let B: string;
  let redis: ReturnType<typeof createClient>;
  /** Mints tokens as the servers would (same secret, issuer and audience), with a clock of the test's choosing. */
  const minter = (over: Partial<ConstructorParameters<typeof AccessTokens>[0]> = {}) =>
    new AccessTokens({ issuer: PUBLIC_URL, audience: MCP_URL, secret: SECRET, ttlSeconds: 86400, ...over });

  before(async () => {
    jwks = await startJwksServer({ projectId: 'flowpos-test' });
    it = await startInstances({
      count: 2,
      env: {
        PUBLIC_URL,
        FIREBASE_PROJECT_ID: jwks.projectId,
        FIREBASE_JWKS_URL: jwks.url,
        MCP_TOKEN_SECRET: SECRET,
        MCP_TOKEN_SECRET_PREVIOUS: PREVIOUS,
      },
    });
    [A, B] = it.urls as [string, string];
    redis = createClient({ url: it.redisUrl! });
    await redis.connect();
  });
  after(async () => {
    await redis?.close();
    await it?.stop();
    await jwks?.stop();
  });

  const sessionKey = (sid: string) => `${it.redis!.keyPrefix}session:${sid}`;
  const demoToken = async (extra: Record<string, string> = {}) => {
    const res = await exchangeForm(A, await jwks.idToken(DEMO.users.demo), extra);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body.access_token as string;
  };
  const expectOAuthError = (res: { status: number; body: any; headers: Headers }, status: number, error: string, description?: RegExp) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(res.status, status, JSON.stringify(res.body));
    assert.equal(res.body?.error, error, JSON.stringify(res.body));
    assert.equal(typeof res.body?.error_description, 'string');
    if (description) assert.match(res.body.error_description, description);
    assert.equal(res.headers.get('cache-control'), 'no-store');
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
  };
  const expectInvalidToken = (res: { status: number; body: any; headers: Headers }, message?: RegExp) => { // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(res.status, 401, JSON.stringify(res.body));
    assert.equal(res.body?.error?.data?.code, 'invalid_token');
    if (message) assert.match(res.body.error.message, message);
    assert.equal(res.headers.get('www-authenticate'), `Bearer resource_metadata="${METADATA_URL}", scope="pos:read pos:write", error="invalid_token"`);
  };

  describe('discovery', () => {
    test('RFC 8414 authorization server metadata', async () => {
      const res = await fetch(`${B}/.well-known/oauth-authorization-server`);
      assert.equal(res.status, 200);
      const doc = await res.json();
      assert.equal(doc.issuer, PUBLIC_URL);
      assert.equal(doc.token_endpoint, `${PUBLIC_URL}/mcp/token`);
      assert.equal(doc.revocation_endpoint, `${PUBLIC_URL}/mcp/token/revoke`);
      assert.ok(doc.grant_types_supported.includes(TOKEN_EXCHANGE));
      assert.deepEqual(doc.scopes_supported, ['pos:read', 'pos:write']);
      assert.deepEqual(doc.code_challenge_methods_supported, ['S256']);
      assert.deepEqual(doc.token_endpoint_auth_methods_supported, ['none']);
      assert.ok(Array.isArray(doc.response_types_supported));
    });

    test('RFC 9728 protected resource metadata, path form and root form, pointing at the issuer', async () => {
      const pathForm = await fetch(`${A}/.well-known/oauth-protected-resource/mcp`);
      const rootForm = await fetch(`${B}/.well-known/oauth-protected-resource`);
      assert.equal(pathForm.status, 200);
      assert.equal(rootForm.status, 200);
      const doc = await pathForm.json();
      assert.deepEqual(await rootForm.json(), doc);
      assert.equal(doc.resource, MCP_URL);
      assert.deepEqual(doc.authorization_servers, [PUBLIC_URL]);
      assert.deepEqual(doc.scopes_supported, ['pos:read', 'pos:write']);
      assert.deepEqual(doc.bearer_methods_supported, ['header']);
    });

    test('a 401 from /mcp names the metadata and the scopes; error="invalid_token" only when a credential was sent', async () => {
      const none = await post(A, INIT, baseHeaders());
      assert.equal(none.status, 401);
      assert.equal(none.headers.get('www-authenticate'), `Bearer resource_metadata="${METADATA_URL}", scope="pos:read pos:write"`);
      expectInvalidToken(await post(B, INIT, baseHeaders('not-a-token')));
    });

    test('CORS: browser clients on an allowed origin may discover, exchange and revoke', async () => {
      const origin = 'http://localhost:6274';
      for (const path of ['/mcp/token', '/mcp/token/revoke']) {
        const pre = await fetch(`${A}${path}`, { method: 'OPTIONS', headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' } });
        assert.ok(pre.status === 204 || pre.status === 200, `${path} preflight ${pre.status}`);
        assert.equal(pre.headers.get('access-control-allow-origin'), origin);
      }
      const meta = await fetch(`${A}/.well-known/oauth-protected-resource/mcp`, { headers: { origin } });
      assert.equal(meta.headers.get('access-control-allow-origin'), origin);
      const token = await postJson(`${B}/mcp/token`, { idToken: await jwks.idToken(DEMO.users.demo) }, { origin });
      assert.equal(token.status, 200);
      assert.equal(token.headers.get('access-control-allow-origin'), origin);
      const foreign = await postJson(`${B}/mcp/token`, { idToken: await jwks.idToken(DEMO.users.demo) }, { origin: 'https://evil.example' });
      expectOAuthError(foreign, 403, 'invalid_request', /Origin/);
    });
  });

  describe('token endpoint', () => {
    test('short form: {"idToken"} → {"accessToken","expiresIn"}, not cacheable', async () => {
      const res = await postJson(`${A}/mcp/token`, { idToken: await jwks.idToken(DEMO.users.demo) });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(typeof res.body.accessToken, 'string');
      assert.equal(res.body.expiresIn, 86400);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const claims = decodeJwt(res.body.accessToken);
      assert.equal(claims.sub, DEMO.users.demo);
      assert.equal(claims.aud, MCP_URL);
      assert.equal(claims.iss, PUBLIC_URL);
      assert.equal(claims.scope, 'pos:read pos:write');
    });

    test('RFC 8693 form (form-encoded and JSON), with resource and a scope subset', async () => {
      const idToken = await jwks.idToken(DEMO.users.demo);
      const res = await exchangeForm(B, idToken, { resource: MCP_URL, scope: 'pos:read', client_id: 'my-agent' });
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.deepEqual(Object.keys(res.body).sort(), ['access_token', 'expires_in', 'issued_token_type', 'scope', 'token_type']);
      assert.equal(res.body.issued_token_type, 'urn:ietf:params:oauth:token-type:access_token');
      assert.equal(res.body.token_type, 'Bearer');
      assert.equal(res.body.expires_in, 86400);
      assert.equal(res.body.scope, 'pos:read');
      assert.equal(res.headers.get('cache-control'), 'no-store');
      const claims = decodeJwt(res.body.access_token);
      assert.equal(claims.scope, 'pos:read');
      assert.equal(claims.client_id, 'my-agent');
      assert.equal(typeof claims.jti, 'string');
      const json = await postJson(`${A}/mcp/token`, { grant_type: TOKEN_EXCHANGE, subject_token: idToken, subject_token_type: 'urn:ietf:params:oauth:token-type:jwt' });
      assert.equal(json.status, 200, JSON.stringify(json.body));
      assert.equal(json.body.scope, 'pos:read pos:write');
    });

    test('the first exchange for a uid creates the user with its email and name', async () => {
      const uid = `firebase-${Date.now()}`;
      assert.equal(await getUser(it.servers[0]!.db, uid), null);
      await exchangeSimple(B, await jwks.idToken(uid, { email: 'new@example.test', name: 'New Person' }));
      const user = await getUser(it.servers[0]!.db, uid);
      assert.equal(user?.email, 'new@example.test');
      assert.equal(user?.displayName, 'New Person');
      // A user with no business can sign in and is told so.
      const token = await exchangeSimple(A, await jwks.idToken(uid));
      const sid = await openSession(A, token);
      assert.deepEqual(structured(await callTool(B, token, sid, 'list_businesses')).businesses, []);
    });

    test('bad, expired, foreign-project, wrong-issuer, unknown-key and unsigned ID tokens → 400 invalid_grant', async () => {
      const now = Date.now();
      const cases: [string, string, RegExp][] = [
        ['garbage', 'not-a-jwt', /not a JWT/],
        ['expired', await jwks.idToken(DEMO.users.demo, {}, { now: now - 2 * 3600_000 }), /expired/],
        ['foreign project', await jwks.idToken(DEMO.users.demo, { aud: 'other-project', iss: 'https://securetoken.google.com/other-project' }), /another Firebase project/],
        ['wrong audience only', await jwks.idToken(DEMO.users.demo, { aud: 'other-project' }), /another Firebase project/],
        ['wrong issuer', await jwks.idToken(DEMO.users.demo, { iss: 'https://accounts.google.com' }), /issuer/],
        ['unknown key', await jwks.idToken(DEMO.users.demo, {}, { kid: 'nope', key: await jwks.strangerKey() }), /not one of Google's current keys/],
        ['wrong key, known kid', await jwks.idToken(DEMO.users.demo, {}, { key: await jwks.strangerKey() }), /signature/],
        ['alg none (no emulator configured)', jwks.unsignedIdToken(DEMO.users.demo), /RS256/],
        ['no sub', await jwks.idToken(DEMO.users.demo, { sub: '' }), /subject/],
      ];
      for (const [what, token, description] of cases) {
        const res = await exchangeForm(A, token);
        assert.equal(res.status, 400, `${what}: ${JSON.stringify(res.body)}`);
        expectOAuthError(res, 400, 'invalid_grant', description);
      }
      expectOAuthError(await postJson(`${B}/mcp/token`, { idToken: await jwks.idToken(DEMO.users.demo, {}, { now: now - 2 * 3600_000 }) }), 400, 'invalid_grant', /expired/);
    });

    test('wrong grant_type → unsupported_grant_type; missing parameters → invalid_request', async () => {
      const idToken = await jwks.idToken(DEMO.users.demo);
      expectOAuthError(await postForm(`${A}/mcp/token`, { grant_type: 'authorization_code', code: 'x' }), 400, 'unsupported_grant_type', /token-exchange/);
      expectOAuthError(await postForm(`${A}/mcp/token`, { grant_type: 'client_credentials' }), 400, 'unsupported_grant_type');
      expectOAuthError(await postForm(`${A}/mcp/token`, {}), 400, 'invalid_request', /grant_type is required/);
      expectOAuthError(await postForm(`${A}/mcp/token`, { grant_type: TOKEN_EXCHANGE, subject_token_type: ID_TOKEN_TYPE }), 400, 'invalid_request', /subject_token is required/);
      expectOAuthError(await postForm(`${A}/mcp/token`, { grant_type: TOKEN_EXCHANGE, subject_token: idToken }), 400, 'invalid_request', /subject_token_type is required/);
      expectOAuthError(await exchangeForm(A, idToken, { subject_token_type: 'urn:ietf:params:oauth:token-type:saml2' }), 400, 'invalid_request', /not supported/);
      expectOAuthError(await exchangeForm(A, idToken, { actor_token: 'x', actor_token_type: ID_TOKEN_TYPE }), 400, 'invalid_request', /actor_token/);
      expectOAuthError(await exchangeForm(A, idToken, { grant_type: [TOKEN_EXCHANGE, TOKEN_EXCHANGE] }), 400, 'invalid_request', /once/);
      expectOAuthError(await postJson(`${A}/mcp/token`, { idToken: '' }), 400, 'invalid_request', /idToken/);
    });

    test('a resource or audience other than this server\'s MCP URL → invalid_target', async () => {
      const idToken = await jwks.idToken(DEMO.users.demo);
      expectOAuthError(await exchangeForm(A, idToken, { resource: 'https://evil.example/mcp' }), 400, 'invalid_target', new RegExp(MCP_URL));
      expectOAuthError(await exchangeForm(A, idToken, { resource: `${PUBLIC_URL}/mcp/` }), 400, 'invalid_target');
      expectOAuthError(await exchangeForm(A, idToken, { resource: [MCP_URL, 'https://evil.example/mcp'] }), 400, 'invalid_target', /one resource/);
      expectOAuthError(await exchangeForm(A, idToken, { audience: 'https://evil.example/mcp' }), 400, 'invalid_target');
    });

    test('unknown or empty scope → invalid_scope', async () => {
      const idToken = await jwks.idToken(DEMO.users.demo);
      expectOAuthError(await exchangeForm(A, idToken, { scope: 'pos:read admin' }), 400, 'invalid_scope', /"admin"/);
      expectOAuthError(await exchangeForm(A, idToken, { scope: ' ' }), 400, 'invalid_scope', /empty/);
    });

    test('bodies: wrong media type, broken JSON, non-string values, oversized', async () => {
      const res = await fetch(`${A}/mcp/token`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'idToken=x' });
      expectOAuthError({ status: res.status, headers: res.headers, body: await res.json() }, 400, 'invalid_request', /x-www-form-urlencoded/);
      expectOAuthError(await postJson(`${A}/mcp/token`, '{"idToken":'), 400, 'invalid_request', /not valid JSON/);
      expectOAuthError(await postJson(`${A}/mcp/token`, { idToken: 42 }), 400, 'invalid_request', /must be a string/);
      expectOAuthError(await postJson(`${A}/mcp/token`, '[1]'), 400, 'invalid_request', /JSON object/);
      expectOAuthError(await postForm(`${A}/mcp/token`, { subject_token: 'x'.repeat(20_000) }), 413, 'invalid_request', /16384 bytes/);
    });
  });

  describe('access tokens at /mcp', () => {
    test('the whole flow across instances: exchange on A, initialize on B, tools on A and B, revoke on A → refused on B', async () => {
      const token = await exchangeSimple(A, await jwks.idToken(DEMO.users.demo));
      const sid = await openSession(B, token);
      structured(await callTool(A, token, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
      const product = structured(await callTool(B, token, sid, 'search_products', { limit: 1 })).products[0];
      const cart = structured(await callTool(A, token, sid, 'add_item_to_cart', { sku: product.sku, quantity: 1, cart_id: 'oauth-flow' }));
      assert.equal(cart.lines[0].sku, product.sku);
      assert.equal(structured(await callToolModern(B, token, 'view_cart', { cart_id: 'oauth-flow' })).lines.length, 1, 'stateless requests accept it too');
      // API keys keep working on the same endpoint, for the same user's session.
      assert.equal(structured(await callTool(A, it.keys.demo, sid, 'view_cart', { cart_id: 'oauth-flow' })).lines.length, 1);

      const revoked = await postForm(`${A}/mcp/token/revoke`, { token, token_type_hint: 'access_token' });
      assert.equal(revoked.status, 200);
      assert.equal(revoked.headers.get('cache-control'), 'no-store');
      expectInvalidToken(await callTool(B, token, sid, 'view_cart'));
      expectInvalidToken(await post(B, INIT, baseHeaders(token)));
      expectInvalidToken(await callToolModern(A, token, 'view_cart'));
      const jti = decodeJwt(token).jti as string;
      const ttl = await redis.pTTL(`${it.redis!.keyPrefix}revoked:${jti}`);
      assert.ok(ttl > 0 && ttl <= 86_400_000, `deny-list entry TTL ${ttl}`);
    });

    test('refusals: expired, wrong audience, wrong issuer, alg none, HS/RS confusion, wrong key → 401 invalid_token', async () => {
      const now = Date.now();
      const claims = { subject: DEMO.users.demo, scopes: ['pos:read', 'pos:write'] as const, clientId: 't' };
      const expired = (await minter({ now: () => now - 2 * 3600_000, ttlSeconds: 3600 }).mint({ ...claims, scopes: [...claims.scopes] })).token;
      const wrongAud = (await minter({ audience: `${PUBLIC_URL}/other` }).mint({ ...claims, scopes: [...claims.scopes] })).token;
      const wrongIss = (await minter({ issuer: 'https://other.example' }).mint({ ...claims, scopes: [...claims.scopes] })).token;
      const wrongKey = (await minter({ secret: 'some-other-secret-of-sufficient-length-xx' }).mint({ ...claims, scopes: [...claims.scopes] })).token;
      const s = Math.floor(now / 1000);
      const payload = { iss: PUBLIC_URL, aud: MCP_URL, sub: DEMO.users.demo, jti: 'forged', scope: 'pos:read pos:write', iat: s, exp: s + 600 };
      const none = new UnsecuredJWT(payload).encode();
      const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      const input = `${b64({ alg: 'HS256', typ: 'at+jwt' })}.${b64(payload)}`;
      const confused = `${input}.${createHmac('sha256', await jwks.publicKeyPem()).update(input).digest('base64url')}`;
      for (const [what, token] of Object.entries({ expired, wrongAud, wrongIss, wrongKey, none, confused })) {
        const res = await post(what.length % 2 ? A : B, INIT, baseHeaders(token));
        assert.equal(res.status, 401, `${what}: ${res.text}`);
        expectInvalidToken(res, /invalid, expired or revoked/);
      }
    });

    test('a Firebase ID token presented at /mcp is refused (no passthrough), with directions', async () => {
      const res = await post(A, INIT, baseHeaders(await jwks.idToken(DEMO.users.demo)));
      expectInvalidToken(res, /exchange it at POST \/mcp\/token/);
    });

    test('rotation: a token signed with MCP_TOKEN_SECRET_PREVIOUS is still accepted', async () => {
      const old = (await minter({ secret: PREVIOUS }).mint({ subject: DEMO.users.demo, scopes: ['pos:read'], clientId: 'before-rotation' })).token;
      const sid = await openSession(B, old);
      assert.equal(structured(await callTool(A, old, sid, 'list_businesses')).businesses.length, 2);
    });

    test('revocation endpoint: always 200 for a well-formed request; token is required; API keys are not revoked there', async () => {
      for (const token of ['garbage', (await minter({ secret: 'unrelated-secret-unrelated-secret-unrelated' }).mint({ subject: 'x', scopes: [], clientId: 'c' })).token]) {
        assert.equal((await postForm(`${B}/mcp/token/revoke`, { token })).status, 200);
      }
      expectOAuthError(await postForm(`${B}/mcp/token/revoke`, {}), 400, 'invalid_request', /token is required/);
      expectOAuthError(await postForm(`${B}/mcp/token/revoke`, { token: it.keys.demo }), 400, 'unsupported_token_type', /apikey revoke/);
      assert.equal((await post(A, INIT, baseHeaders(it.keys.demo))).status, 200, 'the key still works');
    });

    test('a write tool without pos:write: 403 insufficient_scope for an access token, the tool error for an API key', async () => {
      const readOnly = await demoToken({ scope: 'pos:read' });
      const sid = await openSession(A, readOnly);
      structured(await callTool(B, readOnly, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
      const product = structured(await callTool(A, readOnly, sid, 'search_products', { limit: 1 })).products[0];
      const challenge = `Bearer error="insufficient_scope", error_description="This tool changes the cart or places orders: it needs the pos:write scope.", scope="pos:write", resource_metadata="${METADATA_URL}"`;
      for (const res of [
        await callTool(B, readOnly, sid, 'add_item_to_cart', { sku: product.sku, quantity: 1 }),
        await callTool(A, readOnly, sid, 'checkout', {}),
        await callToolModern(A, readOnly, 'clear_cart'),
      ]) {
        assert.equal(res.status, 403, res.text);
        assert.equal(res.headers.get('www-authenticate'), challenge);
      }
      const keySid = await openSession(A, it.keys.readOnly);
      structured(await callTool(A, it.keys.readOnly, keySid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
      assert.equal(toolError(await callTool(B, it.keys.readOnly, keySid, 'add_item_to_cart', { sku: product.sku, quantity: 1 })).code, 'insufficient_scope');
    });
  });

  describe('sessions opened with an access token', () => {
    test('the session record never outlives the token, even after set_active_business', async () => {
      const short = (await minter({ ttlSeconds: 120 }).mint({ subject: DEMO.users.demo, scopes: ['pos:read', 'pos:write'], clientId: 't' })).token;
      const sid = await openSession(A, short);
      const remaining = () => (decodeJwt(short).exp as number) * 1000 - Date.now();
      const ttl = await redis.pTTL(sessionKey(sid));
      assert.ok(ttl > 0 && ttl <= remaining() + 1000, `session TTL ${ttl} ms vs token's ${remaining()} ms (idle TTL is 3600 s)`);
      structured(await callTool(B, short, sid, 'set_active_business', { business_id: DEMO.businesses.bakery }));
      assert.equal(structured(await callTool(A, short, sid, 'get_active_business')).active_business.id, DEMO.businesses.bakery);
      const after = await redis.pTTL(sessionKey(sid));
      assert.ok(after > 0 && after <= remaining() + 1000, `after set_active_business: ${after} ms`);
    });

    test('a refreshed token keeps the session: its TTL moves to the new token, on either instance; another user\'s token moves nothing', async () => {
      const mint = (ttlSeconds: number, subject: string = DEMO.users.demo) =>
        minter({ ttlSeconds }).mint({ subject, scopes: ['pos:read', 'pos:write'], clientId: 't' }).then((m) => m.token);
      const first = await mint(2);
      const sid = await openSession(A, first);
      assert.ok((await redis.pTTL(sessionKey(sid))) <= 2000);
      // Someone else's longer token on this session: refused, and the cap stays.
      assert.equal((await callTool(B, await mint(600, DEMO.users.demo2), sid, 'view_cart')).status, 404);
      assert.ok((await redis.pTTL(sessionKey(sid))) <= 2000, 'not extended by another principal');
      // The same user's refreshed token, presented on the other instance.
      const refreshed = await mint(600);
      assert.equal((await callTool(B, refreshed, sid, 'list_businesses')).status, 200);
      const ttl = await redis.pTTL(sessionKey(sid));
      assert.ok(ttl > 2000 && ttl <= 600_000, `TTL follows the refreshed token: ${ttl} ms`);
      await new Promise((r) => setTimeout(r, 2500));
      assert.equal((await callTool(A, refreshed, sid, 'list_businesses')).status, 200, 'alive after the first token expired');
    });

    test('another subject\'s valid token on the session → 404, and the session is untouched', async () => {
      const mine = await demoToken();
      const theirs = await exchangeSimple(B, await jwks.idToken(DEMO.users.demo2));
      const sid = await openSession(A, mine);
      const res = await callTool(B, theirs, sid, 'view_cart');
      assert.equal(res.status, 404);
      assert.equal(res.body.error.code, -32001);
      assert.equal((await callTool(A, mine, sid, 'list_businesses')).status, 200);
    });

    test('DELETE: refused without valid credentials (nothing removed), ends the session with them (key gone)', async () => {
      const mine = await demoToken();
      const theirs = await exchangeSimple(A, await jwks.idToken(DEMO.users.demo2));
      const sid = await openSession(B, mine);
      const del = (headers: Record<string, string>, base = A) => fetch(`${base}/mcp`, { method: 'DELETE', headers: { 'mcp-session-id': sid, ...headers } });
      assert.equal((await del({})).status, 401);
      assert.equal((await del({ authorization: 'Bearer not-a-token' })).status, 401);
      assert.equal((await del({ authorization: `Bearer ${(await minter({ secret: 'x'.repeat(40) }).mint({ subject: DEMO.users.demo, scopes: [], clientId: 'c' })).token}` })).status, 401);
      assert.equal((await del({ authorization: `Bearer ${theirs}` }, B)).status, 404);
      assert.equal(await redis.exists(sessionKey(sid)), 1, 'still there after every refusal');
      assert.equal((await del({ authorization: `Bearer ${mine}` }, B)).status, 204);
      assert.equal(await redis.exists(sessionKey(sid)), 0, 'the key is gone');
      assert.equal((await callTool(A, mine, sid, 'view_cart')).status, 404);
    });
  });
});
