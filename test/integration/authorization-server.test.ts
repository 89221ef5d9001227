import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { createClient } from 'redis';
import { freePort } from '../../src/cluster/ports.js';
import { startInstances, type Instances } from '../helpers/instances.js';
import { startJwksServer, type JwksFixture } from '../helpers/jwks.js';
import { baseHeaders, LEGACY_VERSION } from '../helpers/mcp-http.js';
import { postForm, postJson, type OAuthResponse } from '../helpers/oauth.js';
import { metricSum } from '../helpers/metrics.js';

/**
 * Every refusal of the authorization server (issue #4), over real HTTP against two instances sharing Redis and
 * PostgreSQL, with the steps of one flow alternating between them: /authorize on A, sign-in on B, consent on A, token
 * on B. The person's Firebase sign-in is a Firebase-shaped ID token signed by a local JWKS server (real RSA keys), so
 * the headless flow below is what the sign-in page's script does after Firebase answers.
 */
const SECRET = 'authorization-server-test-secret-0123456789';
const REDIRECT = 'http://127.0.0.1:7777/callback';
const OTHER_REDIRECT = 'https://client.example/oauth/callback';
const INIT = { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: LEGACY_VERSION, capabilities: {}, clientInfo: { name: 't', version: '1' } } };

const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url');
function pkce(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: sha256(verifier) };
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

interface Page {
  status: number;
  headers: Headers;
  text: string;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<Page> {
  const res = await fetch(url, { redirect: 'manual', headers });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

/** An error page: the status, HTML, no redirect anywhere, and the message (HTML-escaped) in the text. */
function expectPage(page: Page, status: number, message: RegExp): void {
  assert.equal(page.status, status, page.text.slice(0, 500));
  assert.equal(page.headers.get('location'), null, 'never redirected');
  assert.match(page.headers.get('content-type') ?? '', /^text\/html/);
  assert.equal(page.headers.get('cache-control'), 'no-store');
  const text = page.text.replace(/&#(\d+);/g, (_, c: string) => String.fromCharCode(Number(c)));
  assert.match(text, message);
}

function expectOAuthError(res: OAuthResponse, status: number, error: string, description: RegExp): void {
  assert.equal(res.status, status, JSON.stringify(res.body));
  assert.equal(res.body?.error, error, JSON.stringify(res.body));
  assert.match(res.body?.error_description ?? '', description, JSON.stringify(res.body));
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.match(res.headers.get('content-type') ?? '', /application\/json/);
}

describe('authorization server: every refusal, over two instances', () => {
  let jwks: JwksFixture;
  let it: Instances;
  let bare: Instances;
  let A: string;
  let B: string;
  let PUBLIC_URL: string;
  let ORIGIN: string;
  let MCP_URL: string;
  let redis: ReturnType<typeof createClient>;
  let client: string;
  let other: string;

  before(async () => {
    jwks = await startJwksServer({ projectId: 'flowpos-authz' });
    // One issuer for both instances; the Host check accepts any loopback name and port, so the instances answer
    // requests sent to their own ports while both say PUBLIC_URL is this one.
    PUBLIC_URL = `http://localhost:${await freePort()}`;
    ORIGIN = new URL(PUBLIC_URL).origin;
    MCP_URL = `${PUBLIC_URL}/mcp`;
    const env = {
      PUBLIC_URL,
      FIREBASE_PROJECT_ID: jwks.projectId,
      FIREBASE_JWKS_URL: jwks.url,
      MCP_TOKEN_SECRET: SECRET,
    };
    // OAUTH_CLIENT_METADATA_ALLOW_PRIVATE is left unset: the SSRF guard is on.
    it = await startInstances({ count: 2, env: { ...env, FIREBASE_API_KEY: 'test-web-api-key' } });
    [A, B] = it.urls as [string, string];
    // Token exchange but no browser sign-in: no FIREBASE_API_KEY.
    bare = await startInstances({ count: 1, state: 'memory', db: 'pglite', env });
    redis = createClient({ url: it.redisUrl! });
    await redis.connect();
    client = await register(A, { client_name: 'Refusal Test Client', redirect_uris: [REDIRECT, OTHER_REDIRECT] });
    other = await register(B, { client_name: 'Other Client', redirect_uris: [REDIRECT] });
  });
  after(async () => {
    await redis?.close();
    await bare?.stop();
    await it?.stop();
    await jwks?.stop();
  });

  // -------------------------------------------------------------------------------------------------------------
  // The headless flow

  async function register(base: string, metadata: Record<string, unknown>): Promise<string> {
    const res = await postJson(`${base}/register`, { grant_types: ['authorization_code', 'refresh_token'], response_types: ['code'], token_endpoint_auth_method: 'none', ...metadata });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.match(res.body.client_id, /^fpc_/);
    return res.body.client_id as string;
  }

  interface AuthorizeParams {
    clientId?: string;
    redirectUri?: string;
    state?: string;
    challenge?: string;
    /** Replaces or (undefined) removes any parameter; an array sends it several times. */
    over?: Record<string, string | string[] | undefined>;
  }

  function authorizeUrl(base: string, p: AuthorizeParams = {}): string {
    const params: Record<string, string | string[] | undefined> = {
      response_type: 'code',
      client_id: p.clientId ?? client,
      redirect_uri: p.redirectUri ?? REDIRECT,
      state: p.state ?? 'state-123',
      code_challenge: p.challenge ?? pkce().challenge,
      code_challenge_method: 'S256',
      resource: MCP_URL,
      scope: 'pos:read pos:write',
      ...p.over,
    };
    const query = new URLSearchParams();
    for (const [name, value] of Object.entries(params)) {
      if (value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) query.append(name, v);
    }
    return `${base}/authorize?${query.toString()}`;
  }

  /** GET /authorize; returns the authorization id the sign-in page carries. */
  async function startAuthorization(base: string, p: AuthorizeParams = {}): Promise<string> {
    const page = await get(authorizeUrl(base, p));
    assert.equal(page.status, 200, page.text.slice(0, 500));
    const config = /<script type="application\/json" id="flowpos-config">([^<]*)<\/script>/.exec(page.text);
    assert.ok(config, 'the sign-in page carries its configuration');
    const { authorizationId } = JSON.parse(config[1]!) as { authorizationId: string };
    assert.match(authorizationId, /^[A-Za-z0-9_-]{22}$/);
    return authorizationId;
  }

  async function signIn(base: string, authorizationId: string, idToken: string, origin: string | undefined = ORIGIN): Promise<OAuthResponse & { cookie?: string }> {
    const res = await postJson(`${base}/authorize/sign-in`, { authorization_id: authorizationId, id_token: idToken }, origin ? { origin } : {});
    const set = res.headers.getSetCookie().find((c) => c.startsWith('flowpos_authz='));
    return { ...res, ...(set ? { cookie: set.split(';')[0]! } : {}) };
  }

  async function consent(base: string, authorizationId: string, cookie: string | undefined, decision: 'allow' | 'deny' = 'allow'): Promise<Page> {
    const res = await fetch(`${base}/authorize/consent`, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, ...(cookie ? { cookie } : {}) },
      body: new URLSearchParams({ authorization_id: authorizationId, decision }).toString(),
    });
    return { status: res.status, headers: res.headers, text: await res.text() };
  }

  /** A 303 to `redirectUri`: its query parameters. */
  function redirectParams(page: Page, redirectUri = REDIRECT): URLSearchParams {
    assert.equal(page.status, 303, page.text.slice(0, 500));
    const location = new URL(page.headers.get('location') ?? '');
    assert.equal(`${location.origin}${location.pathname}`, redirectUri);
    assert.equal(location.searchParams.get('iss'), PUBLIC_URL, 'RFC 9207 iss');
    return location.searchParams;
  }

  interface Flow {
    code: string;
    verifier: string;
    clientId: string;
    redirectUri: string;
    state: string;
  }

  /** /authorize on A, sign-in on B, consent on A: the code the client's redirect URI receives. */
  async function flow(opts: { clientId?: string; redirectUri?: string; uid?: string } = {}): Promise<Flow> {
    const { verifier, challenge } = pkce();
    const clientId = opts.clientId ?? client;
    const redirectUri = opts.redirectUri ?? REDIRECT;
    const state = randomBytes(8).toString('hex');
    const id = await startAuthorization(A, { clientId, redirectUri, challenge, state });
    const signedIn = await signIn(B, id, await jwks.idToken(opts.uid));
    assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
    assert.equal(signedIn.body.next, `/authorize/consent?authorization_id=${id}`);
    assert.ok(signedIn.cookie);
    const params = redirectParams(await consent(A, id, signedIn.cookie), redirectUri);
    assert.equal(params.get('state'), state);
    return { code: params.get('code')!, verifier, clientId, redirectUri, state };
  }

  function redeem(base: string, f: Flow, over: Record<string, string | undefined> = {}): Promise<OAuthResponse> {
    const params: Record<string, string | undefined> = {
      grant_type: 'authorization_code',
      code: f.code,
      code_verifier: f.verifier,
      redirect_uri: f.redirectUri,
      client_id: f.clientId,
      resource: MCP_URL,
      ...over,
    };
    return postForm(`${base}/mcp/token`, Object.fromEntries(Object.entries(params).filter((e): e is [string, string] => e[1] !== undefined)));
  }

  /** The flow, redeemed on B: the token response. */
  async function tokens(opts: { clientId?: string } = {}): Promise<{ access_token: string; refresh_token: string; flow: Flow }> {
    const f = await flow(opts);
    const res = await redeem(B, f);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.match(res.body.refresh_token, /^fpr_/);
    return { access_token: res.body.access_token, refresh_token: res.body.refresh_token, flow: f };
  }

  function refresh(base: string, refreshToken: string, clientId = client): Promise<OAuthResponse> {
    return postForm(`${base}/mcp/token`, { grant_type: 'refresh_token', refresh_token: refreshToken, client_id: clientId });
  }

  async function mcpStatus(base: string, accessToken: string): Promise<number> {
    const res = await fetch(`${base}/mcp`, { method: 'POST', headers: baseHeaders(accessToken), body: JSON.stringify(INIT) });
    await res.arrayBuffer();
    return res.status;
  }

  async function expectAccepted(accessToken: string): Promise<void> {
    for (const base of [A, B]) assert.equal(await mcpStatus(base, accessToken), 200, `the access token works on ${base}`);
  }

  async function expectRevoked(accessToken: string): Promise<void> {
    for (const base of [A, B]) assert.equal(await mcpStatus(base, accessToken), 401, `the access token is refused on ${base}`);
  }

  test('the headless flow works across both instances (the baseline every refusal below departs from)', async () => {
    const t = await tokens();
    await expectAccepted(t.access_token);
    const next = await refresh(A, t.refresh_token);
    assert.equal(next.status, 200, JSON.stringify(next.body));
    await expectAccepted(next.body.access_token);
  });

  // -------------------------------------------------------------------------------------------------------------
  describe('/authorize', () => {
    test('unknown client_id: a 400 page, no redirect', async () => {
      expectPage(await get(authorizeUrl(A, { clientId: 'fpc_doesnotexist' })), 400, /client_id "fpc_doesnotexist" is not registered here/);
    });

    test('missing client_id: a 400 page', async () => {
      expectPage(await get(authorizeUrl(B, { over: { client_id: undefined } })), 400, /client_id is missing/);
    });

    test('redirect_uri not registered: a 400 page naming it, no redirect to it', async () => {
      const evil = 'https://attacker.example/steal';
      const page = await get(authorizeUrl(A, { redirectUri: evil }));
      expectPage(page, 400, /redirect_uri https:\/\/attacker\.example\/steal is not registered for "Refusal Test Client"/);
    });

    test('missing redirect_uri: a 400 page', async () => {
      expectPage(await get(authorizeUrl(B, { over: { redirect_uri: undefined } })), 400, /redirect_uri is missing/);
    });

    test('loopback redirect on another port of a 127.0.0.1 registration is accepted (RFC 8252 §7.3); another path is not', async () => {
      await startAuthorization(A, { redirectUri: 'http://127.0.0.1:54321/callback' });
      expectPage(await get(authorizeUrl(B, { redirectUri: 'http://127.0.0.1:54321/other' })), 400, /redirect_uri http:\/\/127\.0\.0\.1:54321\/other is not registered/);
      // localhost is not an IP literal: exact match only.
      expectPage(await get(authorizeUrl(A, { redirectUri: 'http://localhost:7777/callback' })), 400, /is not registered/);
    });

    const redirected = [
      { name: 'missing code_challenge', over: { code_challenge: undefined }, error: 'invalid_request', description: /code_challenge is required \(PKCE, S256\)/ },
      { name: 'missing code_challenge_method', over: { code_challenge_method: undefined }, error: 'invalid_request', description: /code_challenge_method must be S256 \(it is required/ },
      { name: 'code_challenge_method=plain', over: { code_challenge_method: 'plain' }, error: 'invalid_request', description: /code_challenge_method must be S256 \(got "plain"\)/ },
      { name: 'malformed code_challenge', over: { code_challenge: 'short' }, error: 'invalid_request', description: /43-character base64url SHA-256/ },
      { name: 'response_type=token', over: { response_type: 'token' }, error: 'unsupported_response_type', description: /response_type must be code \(got "token"\)/ },
      { name: 'missing response_type', over: { response_type: undefined }, error: 'unsupported_response_type', description: /response_type must be code\.$/ },
      { name: 'wrong resource', over: { resource: 'https://elsewhere.example/mcp' }, error: 'invalid_target', description: /resource https:\/\/elsewhere\.example\/mcp is not this server; use http:\/\/localhost:\d+\/mcp/ },
      { name: 'unknown scope', over: { scope: 'pos:read pos:admin' }, error: 'invalid_scope', description: /Unknown scope "pos:admin"; this server offers pos:read pos:write/ },
      { name: 'empty scope', over: { scope: ' ' }, error: 'invalid_scope', description: /scope is empty/ },
      { name: 'state longer than 2048 characters', over: { state: 'x'.repeat(2049) }, error: 'invalid_request', description: /state is longer than 2048 characters/ },
    ];
    for (const [i, c] of redirected.entries()) {
      test(`${c.name}: 303 to the redirect URI with error=${c.error}, state and iss`, async () => {
        const page = await get(authorizeUrl(i % 2 ? A : B, { state: 'st-42', over: c.over }));
        const params = redirectParams(page);
        assert.equal(params.get('error'), c.error);
        assert.match(params.get('error_description') ?? '', c.description);
        assert.equal(params.get('state'), c.over.state !== undefined ? c.over.state.slice(0, 2048) : 'st-42');
        assert.equal(params.get('code'), null);
        assert.equal(page.headers.get('cache-control'), 'no-store');
      });
    }

    test('no state sent: the error redirect carries none', async () => {
      const params = redirectParams(await get(authorizeUrl(A, { over: { state: undefined, response_type: 'token' } })));
      assert.equal(params.get('error'), 'unsupported_response_type');
      assert.equal(params.has('state'), false);
    });

    test('a parameter sent twice: a 400 page (state, before the redirect is trusted; code_challenge, after)', async () => {
      expectPage(await get(authorizeUrl(A, { over: { state: ['one', 'two'] } })), 400, /state was sent 2 times; send it once/);
      expectPage(await get(authorizeUrl(B, { over: { code_challenge: [pkce().challenge, pkce().challenge] } })), 400, /code_challenge was sent 2 times/);
      expectPage(await get(authorizeUrl(A, { over: { client_id: [client, other] } })), 400, /client_id was sent 2 times/);
    });
  });

  // -------------------------------------------------------------------------------------------------------------
  describe('client ID metadata documents: the SSRF guard (OAUTH_CLIENT_METADATA_ALLOW_PRIVATE unset)', () => {
    const port = () => new URL(A).port;
    const cases = () => [
      { clientId: 'https://169.254.169.254/x', message: /https:\/\/169\.254\.169\.254\/x cannot be fetched: 169\.254\.169\.254 is a link-local address; client ID metadata documents are only fetched from public addresses/ },
      { clientId: `https://127.0.0.1:${port()}/c.json`, message: /cannot be fetched: 127\.0\.0\.1 is a loopback address/ },
      { clientId: `https://localhost:${port()}/c.json`, message: /cannot be fetched: the host localhost resolves to (127\.0\.0\.1|::1), a loopback address/ },
      { clientId: 'http://example.com/c.json', message: /http:\/\/example\.com\/c\.json uses "http:": a client ID metadata document URL must use https/ },
    ];
    for (const [i, name] of ['https://169.254.169.254/x', 'https://127.0.0.1:<port>/c.json', 'https://localhost:<port>/c.json', 'http://example.com/c.json'].entries()) {
      test(`client_id=${name}: a 400 page with the guard's message, at once; and 401 invalid_client at the token endpoint`, async () => {
        const c = cases()[i]!;
        expectPage(await get(authorizeUrl(i % 2 ? A : B, { clientId: c.clientId })), 400, c.message);
        const token = await postForm(`${i % 2 ? B : A}/mcp/token`, { grant_type: 'authorization_code', client_id: c.clientId, code: 'x', code_verifier: pkce().verifier, redirect_uri: REDIRECT });
        expectOAuthError(token, 401, 'invalid_client', c.message);
      });
    }

    test('a client_id URL without a path is refused before any fetch', async () => {
      expectPage(await get(authorizeUrl(A, { clientId: 'https://client.example' })), 400, /has no path/);
    });
  });

  // -------------------------------------------------------------------------------------------------------------
  describe('sign-in and consent', () => {
    const expectSignInError = (res: OAuthResponse, status: number, description: RegExp) => {
      assert.equal(res.status, status, JSON.stringify(res.body));
      assert.match(res.headers.get('content-type') ?? '', /application\/json/);
      assert.equal(res.body?.error, 'invalid_request');
      assert.match(res.body?.error_description ?? '', description);
      assert.equal(res.headers.getSetCookie().length, 0, 'no cookie');
    };

    test('an ID token that is not a JWT: 401 JSON', async () => {
      const id = await startAuthorization(A);
      expectSignInError(await signIn(B, id, 'not-a-jwt'), 401, /The Firebase sign-in was not accepted: The subject token is not a/);
    });

    test('an expired ID token: 401 JSON', async () => {
      const id = await startAuthorization(B);
      const expired = await jwks.idToken(undefined, {}, { now: Date.now() - 2 * 3600_000 });
      expectSignInError(await signIn(A, id, expired), 401, /The Firebase sign-in was not accepted: The ID token has expired/);
    });

    test("another Firebase project's ID token: 401 JSON", async () => {
      const id = await startAuthorization(A);
      const foreign = await jwks.idToken(undefined, { aud: 'someone-else', iss: 'https://securetoken.google.com/someone-else' });
      expectSignInError(await signIn(B, id, foreign), 401, /The Firebase sign-in was not accepted: The ID token (was issued for another Firebase project|'s issuer is not)/);
    });

    test('an ID token signed by a key not in the set: 401 JSON', async () => {
      const id = await startAuthorization(B);
      const forged = await jwks.idToken(undefined, {}, { key: await jwks.strangerKey() });
      expectSignInError(await signIn(A, id, forged), 401, /The Firebase sign-in was not accepted: The ID token signature does not verify/);
    });

    test('missing id_token: 400 JSON', async () => {
      const id = await startAuthorization(A);
      expectSignInError(await signIn(B, id, ''), 400, /id_token is missing/);
    });

    test('a sign-in posted from a foreign Origin: 403 JSON', async () => {
      const id = await startAuthorization(A);
      expectSignInError(await signIn(B, id, await jwks.idToken(), 'https://evil.example'), 403, /A page on https:\/\/evil\.example may not submit this form/);
    });

    test('an unknown (well-formed) authorization_id: 410; a malformed one: 400', async () => {
      expectSignInError(await signIn(A, randomBytes(16).toString('base64url'), await jwks.idToken()), 410, /This sign-in has expired or was already used/);
      expectSignInError(await signIn(B, 'nope', await jwks.idToken()), 400, /authorization_id is missing or malformed/);
    });

    test('a sign-in window that expired in Redis: 410', async () => {
      const id = await startAuthorization(A);
      await redis.pExpire(`${it.redis!.keyPrefix}oauth:authz:${id}`, 1);
      await new Promise((r) => setTimeout(r, 20));
      expectSignInError(await signIn(B, id, await jwks.idToken()), 410, /expired or was already used/);
    });

    test('consent without the cookie: 403 (GET and POST), and nothing is consumed', async () => {
      const id = await startAuthorization(A);
      const signedIn = await signIn(B, id, await jwks.idToken());
      assert.equal(signedIn.status, 200);
      expectPage(await get(`${A}/authorize/consent?authorization_id=${id}`), 403, /started in another browser/);
      expectPage(await consent(B, id, undefined), 403, /started in another browser/);
      // The right browser can still answer.
      assert.ok(redirectParams(await consent(A, id, signedIn.cookie)).get('code'));
    });

    test("consent with another browser's cookie: 403", async () => {
      const mine = await startAuthorization(A);
      const theirs = await startAuthorization(B);
      const me = await signIn(B, mine, await jwks.idToken());
      const them = await signIn(A, theirs, await jwks.idToken());
      assert.equal(me.status, 200);
      assert.equal(them.status, 200);
      expectPage(await get(`${B}/authorize/consent?authorization_id=${mine}`, { cookie: them.cookie! }), 403, /started in another browser/);
      expectPage(await consent(A, mine, them.cookie), 403, /started in another browser/);
      expectPage(await consent(B, theirs, me.cookie), 403, /started in another browser/);
    });

    test('a second sign-in on the same authorization: refused from another browser (409), allowed from the same one (another account)', async () => {
      const id = await startAuthorization(A);
      const me = await signIn(B, id, await jwks.idToken('person-one'));
      assert.equal(me.status, 200);
      // Whoever learned the id cannot swap their own account in for the person's client to receive.
      const intruder = await signIn(A, id, await jwks.idToken('intruder'));
      assert.equal(intruder.status, 409);
      assert.match(intruder.body.error_description, /already signed in to this authorization from another browser/);
      assert.equal(intruder.cookie, undefined, 'no cookie for the intruder');
      // The person themselves may switch accounts: their cookie goes with the request.
      const again = await postJson(`${B}/authorize/sign-in`, { authorization_id: id, id_token: await jwks.idToken('person-two') }, { origin: ORIGIN, cookie: me.cookie! });
      assert.equal(again.status, 200, JSON.stringify(again.body));
      const cookie = again.headers.getSetCookie().find((c) => c.startsWith('flowpos_authz='))!.split(';')[0]!;
      expectPage(await consent(A, id, me.cookie), 403, /started in another browser/);
      const page = await consent(A, id, cookie);
      assert.equal(page.status, 303);
    });

    test('consent before sign-in: 403 "Sign in first"', async () => {
      const id = await startAuthorization(A);
      expectPage(await consent(B, id, `flowpos_authz=${randomBytes(32).toString('base64url')}`), 403, /Sign in first/);
    });

    test('consent posted from a foreign Origin: 403', async () => {
      const id = await startAuthorization(A);
      const signedIn = await signIn(B, id, await jwks.idToken());
      const res = await fetch(`${A}/authorize/consent`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: 'https://evil.example', cookie: signedIn.cookie! },
        body: new URLSearchParams({ authorization_id: id, decision: 'allow' }).toString(),
      });
      expectPage({ status: res.status, headers: res.headers, text: await res.text() }, 403, /may not submit this form/);
    });

    test('a decision that is neither allow nor deny: 400', async () => {
      const id = await startAuthorization(A);
      const signedIn = await signIn(B, id, await jwks.idToken());
      const res = await fetch(`${A}/authorize/consent`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, cookie: signedIn.cookie! },
        body: new URLSearchParams({ authorization_id: id, decision: 'maybe' }).toString(),
      });
      expectPage({ status: res.status, headers: res.headers, text: await res.text() }, 400, /Answer with Allow or Deny/);
    });

    test('double consent submit, concurrently on both instances: one code; the others 409 (or 410 when the first had already finished)', async () => {
      const id = await startAuthorization(A);
      const signedIn = await signIn(B, id, await jwks.idToken());
      const answers = await Promise.all([A, B, A, B].map((base) => consent(base, id, signedIn.cookie)));
      const codes = answers.filter((a) => a.status === 303);
      assert.equal(codes.length, 1, `exactly one code: ${answers.map((a) => a.status).join(', ')}`);
      assert.ok(redirectParams(codes[0]!).get('code'));
      for (const a of answers.filter((x) => x.status !== 303)) {
        if (a.status === 409) expectPage(a, 409, /This authorization was already answered/);
        else expectPage(a, 410, /expired or was already used/);
      }
    });

    test('double consent submit, one after the other: the second is refused (410 "already used") and issues no code', async () => {
      const id = await startAuthorization(A);
      const signedIn = await signIn(B, id, await jwks.idToken());
      assert.ok(redirectParams(await consent(A, id, signedIn.cookie)).get('code'));
      expectPage(await consent(B, id, signedIn.cookie), 410, /expired or was already used/);
    });

    test('deny: 303 with error=access_denied, state and iss, and no code', async () => {
      const id = await startAuthorization(A, { state: 'deny-state' });
      const signedIn = await signIn(B, id, await jwks.idToken());
      const params = redirectParams(await consent(A, id, signedIn.cookie, 'deny'));
      assert.equal(params.get('error'), 'access_denied');
      assert.match(params.get('error_description') ?? '', /declined/);
      assert.equal(params.get('state'), 'deny-state');
      assert.equal(params.get('code'), null);
      // Answered: the consent page is gone.
      expectPage(await get(`${B}/authorize/consent?authorization_id=${id}`, { cookie: signedIn.cookie! }), 410, /expired or was already used/);
    });
  });

  // -------------------------------------------------------------------------------------------------------------
  describe('token endpoint: authorization_code and refresh_token', () => {
    test('a wrong PKCE verifier: invalid_grant, and the code is then dead', async () => {
      const f = await flow();
      expectOAuthError(await redeem(B, f, { code_verifier: pkce().verifier }), 400, 'invalid_grant', /code_verifier does not match the code_challenge/);
      expectOAuthError(await redeem(A, f), 400, 'invalid_grant', /already used/);
    });

    test('a malformed verifier: invalid_request', async () => {
      const f = await flow();
      expectOAuthError(await redeem(B, f, { code_verifier: 'too-short' }), 400, 'invalid_request', /code_verifier must be 43-128 characters/);
    });

    test('a replayed code: invalid_grant "already used", and everything the first redemption issued is revoked on both instances', async () => {
      const f = await flow();
      const first = await redeem(B, f);
      assert.equal(first.status, 200, JSON.stringify(first.body));
      await expectAccepted(first.body.access_token);
      expectOAuthError(await redeem(A, f), 400, 'invalid_grant', /The authorization code was already used; the tokens issued with it are revoked/);
      await expectRevoked(first.body.access_token);
      expectOAuthError(await refresh(B, first.body.refresh_token), 400, 'invalid_grant', /invalid, expired or revoked/);
      assert.ok((await metricSum([A, B], 'flowpos_oauth_events_total', { event: 'code_replayed' })) >= 1, 'the replay is counted');
    });

    test('a code replayed concurrently (the attacker races the client, one request per instance): no token of it survives', async () => {
      let answered = 0;
      for (let i = 0; i < 10; i++) {
        const f = await flow();
        const answers = await Promise.all([redeem(A, f), redeem(B, f)]);
        const won = answers.filter((r) => r.status === 200);
        assert.ok(won.length <= 1, `at most one redemption is answered with tokens: ${answers.map((r) => r.status).join(', ')}`);
        for (const lost of answers.filter((r) => r.status !== 200)) {
          expectOAuthError(lost, 400, 'invalid_grant', /already used|used twice at once/);
        }
        // The winner (if the replay came after its answer) got tokens; the replay revoked them.
        for (const w of won) {
          answered++;
          assert.equal(await mcpStatus(A, w.body.access_token), 401, 'its access token is revoked');
          expectOAuthError(await refresh(B, w.body.refresh_token), 400, 'invalid_grant', /invalid, expired or revoked/);
        }
      }
      assert.ok(answered <= 10);
    });

    test('an unknown code: invalid_grant', async () => {
      const f = await flow();
      expectOAuthError(await redeem(B, f, { code: randomBytes(32).toString('base64url') }), 400, 'invalid_grant', /The authorization code is invalid or expired/);
    });

    test('an expired code (its Redis key expired): invalid_grant', async () => {
      const f = await flow();
      await redis.pExpire(`${it.redis!.keyPrefix}oauth:code:${sha256(f.code)}`, 1);
      await new Promise((r) => setTimeout(r, 20));
      expectOAuthError(await redeem(B, f), 400, 'invalid_grant', /The authorization code is invalid or expired/);
    });

    test('a redirect_uri other than the one sent to /authorize: invalid_grant', async () => {
      const f = await flow();
      expectOAuthError(await redeem(B, f, { redirect_uri: OTHER_REDIRECT }), 400, 'invalid_grant', /redirect_uri differs from the one sent to \/authorize/);
    });

    test('a missing redirect_uri: invalid_request', async () => {
      const f = await flow();
      expectOAuthError(await redeem(A, f, { redirect_uri: undefined }), 400, 'invalid_request', /redirect_uri is required/);
    });

    test("client X's code presented by client Y: invalid_grant", async () => {
      const f = await flow();
      expectOAuthError(await redeem(B, f, { client_id: other }), 400, 'invalid_grant', /The authorization code was issued to another client/);
    });

    test('a wrong resource: invalid_target, and the code was not spent', async () => {
      const f = await flow();
      expectOAuthError(await redeem(B, f, { resource: 'https://elsewhere.example/mcp' }), 400, 'invalid_target', /resource https:\/\/elsewhere\.example\/mcp is not this server/);
      assert.equal((await redeem(A, f)).status, 200);
    });

    test('an unregistered client_id: 401 invalid_client', async () => {
      const f = await flow();
      expectOAuthError(await redeem(B, f, { client_id: 'fpc_nobody' }), 401, 'invalid_client', /client_id "fpc_nobody" is not registered here/);
      expectOAuthError(await refresh(A, 'fpr_x', 'fpc_nobody'), 401, 'invalid_client', /is not registered here/);
    });

    test('a missing client_id: invalid_request (both grants)', async () => {
      const f = await flow();
      expectOAuthError(await redeem(B, f, { client_id: undefined }), 400, 'invalid_request', /client_id is required/);
      expectOAuthError(await postForm(`${A}/mcp/token`, { grant_type: 'refresh_token', refresh_token: 'fpr_x' }), 400, 'invalid_request', /client_id is required/);
    });

    test('a client registered without the refresh_token grant gets no refresh token, and may not refresh', async () => {
      const codeOnly = await register(A, { client_name: 'Code only', redirect_uris: [REDIRECT], grant_types: ['authorization_code'] });
      const f = await flow({ clientId: codeOnly });
      const res = await redeem(B, f);
      assert.equal(res.status, 200, JSON.stringify(res.body));
      assert.equal(res.body.refresh_token, undefined);
      expectOAuthError(await refresh(A, 'fpr_x', codeOnly), 400, 'unauthorized_client', /not registered for the refresh_token grant/);
    });

    test('a malformed refresh token: invalid_grant', async () => {
      expectOAuthError(await refresh(A, 'not-a-refresh-token'), 400, 'invalid_grant', /The refresh token is not one this server issued/);
      expectOAuthError(await refresh(B, `fpr_${randomBytes(16).toString('base64url')}.${randomBytes(32).toString('base64url')}`), 400, 'invalid_grant', /invalid, expired or revoked/);
    });

    test("a refresh with another client's id: invalid_grant", async () => {
      const t = await tokens();
      expectOAuthError(await refresh(A, t.refresh_token, other), 400, 'invalid_grant', /The refresh token was issued to another client/);
      // Refused without effect: the rightful client still refreshes with it.
      assert.equal((await refresh(B, t.refresh_token)).status, 200);
    });

    test('a refresh token revoked at /mcp/token/revoke: invalid_grant, and the access token last issued with it is refused on both instances', async () => {
      const t = await tokens();
      const rotated = await refresh(A, t.refresh_token);
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      await expectAccepted(rotated.body.access_token);
      const revoked = await postForm(`${B}/mcp/token/revoke`, { token: rotated.body.refresh_token, client_id: client });
      assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
      expectOAuthError(await refresh(A, rotated.body.refresh_token), 400, 'invalid_grant', /invalid, expired or revoked/);
      await expectRevoked(rotated.body.access_token);
    });

    test('a refresh asking for a scope that does not exist: invalid_scope; a wrong resource: invalid_target', async () => {
      const t = await tokens();
      expectOAuthError(await postForm(`${A}/mcp/token`, { grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: client, scope: 'pos:admin' }), 400, 'invalid_scope', /Unknown scope "pos:admin"/);
      expectOAuthError(
        await postForm(`${B}/mcp/token`, { grant_type: 'refresh_token', refresh_token: t.refresh_token, client_id: client, resource: 'https://elsewhere.example/mcp' }),
        400,
        'invalid_target',
        /is not this server/,
      );
      // Neither spent the refresh token.
      assert.equal((await refresh(A, t.refresh_token)).status, 200);
    });
  });

  // -------------------------------------------------------------------------------------------------------------
  describe('/register (RFC 7591)', () => {
    test('an http redirect URI on a non-loopback host: 400 invalid_redirect_uri', async () => {
      const res = await postJson(`${A}/register`, { client_name: 'x', redirect_uris: ['http://client.example/callback'] });
      expectOAuthError(res, 400, 'invalid_redirect_uri', /redirect URI "http:\/\/client\.example\/callback" uses http on a host that is not loopback/);
    });

    test('token_endpoint_auth_method client_secret_basic: 400 invalid_client_metadata', async () => {
      const res = await postJson(`${B}/register`, { client_name: 'x', redirect_uris: [REDIRECT], token_endpoint_auth_method: 'client_secret_basic' });
      expectOAuthError(res, 400, 'invalid_client_metadata', /token_endpoint_auth_method/);
    });

    test('a body that is not JSON: 400 invalid_client_metadata', async () => {
      expectOAuthError(await postJson(`${A}/register`, '{"redirect_uris": ['), 400, 'invalid_client_metadata', /The body is not valid JSON/);
      const form = await postForm(`${B}/register`, { redirect_uris: REDIRECT });
      expectOAuthError(form, 400, 'invalid_client_metadata', /Send the client metadata as a JSON object \(Content-Type: application\/json\)/);
    });

    test('a JSON body that is not an object: 400 invalid_client_metadata', async () => {
      expectOAuthError(await postJson(`${A}/register`, '["a"]'), 400, 'invalid_client_metadata', /must be a JSON object/);
    });

    test('a registration on A resolves on B (/authorize and the token endpoint)', async () => {
      const id = await register(A, { client_name: 'Registered On A', redirect_uris: [REDIRECT] });
      const page = await get(authorizeUrl(B, { clientId: id }));
      assert.equal(page.status, 200, page.text.slice(0, 300));
      assert.match(page.text, /Registered On A/);
      const f = await flow({ clientId: id });
      assert.equal((await redeem(B, f)).status, 200);
    });
  });

  // -------------------------------------------------------------------------------------------------------------
  describe('metadata', () => {
    test('with the browser sign-in: RFC 8414 metadata advertises it all (same document on both instances)', async () => {
      const docs = await Promise.all([A, B].map(async (base) => (await fetch(`${base}/.well-known/oauth-authorization-server`)).json() as Promise<Json>));
      assert.deepEqual(docs[0], docs[1]);
      const doc = docs[0];
      assert.equal(doc.issuer, PUBLIC_URL);
      assert.equal(doc.authorization_endpoint, `${PUBLIC_URL}/authorize`);
      assert.equal(doc.registration_endpoint, `${PUBLIC_URL}/register`);
      assert.equal(doc.token_endpoint, `${PUBLIC_URL}/mcp/token`);
      assert.deepEqual(doc.code_challenge_methods_supported, ['S256']);
      assert.deepEqual(doc.response_types_supported, ['code']);
      assert.equal(doc.authorization_response_iss_parameter_supported, true);
      assert.equal(doc.client_id_metadata_document_supported, true);
      assert.ok(doc.grant_types_supported.includes('authorization_code'));
      assert.ok(doc.grant_types_supported.includes('refresh_token'));
    });

    test('without FIREBASE_API_KEY: none of it is advertised, /authorize and /register are 404, and authorization_code is unsupported_grant_type', async () => {
      const base = bare.urls[0]!;
      const doc = (await (await fetch(`${base}/.well-known/oauth-authorization-server`)).json()) as Json;
      assert.equal(doc.issuer, PUBLIC_URL);
      for (const field of ['authorization_endpoint', 'registration_endpoint', 'authorization_response_iss_parameter_supported', 'client_id_metadata_document_supported']) {
        assert.equal(doc[field], undefined, `${field} is not advertised`);
      }
      assert.deepEqual(doc.response_types_supported, []);
      assert.ok(!doc.grant_types_supported.includes('authorization_code'));
      assert.ok(!doc.grant_types_supported.includes('refresh_token'));
      assert.equal((await get(authorizeUrl(base))).status, 404);
      assert.equal((await postJson(`${base}/register`, { redirect_uris: [REDIRECT] })).status, 404);
      const code = await postForm(`${base}/mcp/token`, { grant_type: 'authorization_code', code: 'x', code_verifier: pkce().verifier, redirect_uri: REDIRECT, client_id: 'fpc_x' });
      expectOAuthError(code, 400, 'unsupported_grant_type', /grant_type authorization_code needs the browser sign-in, which is not enabled here \(set FIREBASE_API_KEY\)/);
      const rt = await postForm(`${base}/mcp/token`, { grant_type: 'refresh_token', refresh_token: 'fpr_x', client_id: 'fpc_x' });
      expectOAuthError(rt, 400, 'unsupported_grant_type', /grant_type refresh_token needs the browser sign-in/);
    });
  });
});
