import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { Client, StreamableHTTPClientTransport, UnauthorizedError } from '@modelcontextprotocol/client';
import type { OAuthClientProvider } from '@modelcontextprotocol/client';
import { decodeJwt } from 'jose';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startBalancer, type Balancer } from '../../src/cluster/balancer.js';
import { DEMO } from '../../src/db/seed.js';
import { testChromium } from '../helpers/chromium.js';
import { startAuthEmulator, type AuthEmulator } from '../helpers/firebase-emulator.js';
import { freePort } from '../../src/cluster/ports.js';
import { metricSum } from '../helpers/metrics.js';
import { startInstances, type Instances } from '../helpers/instances.js';
import { baseHeaders, callTool, openSession } from '../helpers/mcp-http.js';
import { postForm } from '../helpers/oauth.js';
import { selfSignedCert } from '../helpers/self-signed.js';

/**
 * What a person adding flowpos-mcp to an MCP client lives through, in a real browser: the official SDK client meets a
 * 401, discovers the authorization server, registers (Dynamic Client Registration, and separately a Client ID
 * Metadata Document served over HTTPS on loopback), the person signs in on our page with the Firebase Web SDK against
 * the Auth Emulator and consents, and the client calls tools with the token it obtained. Two instances behind a
 * round-robin balancer: every step of the sign-in may land on either.
 */
const PASSWORD = 'correct horse battery staple';

type Stored = Parameters<OAuthClientProvider['saveTokens']>[0];
type StoredClient = Parameters<NonNullable<OAuthClientProvider['saveClientInformation']>>[0];

/** An MCP client's OAuth state, kept in memory; the "browser" is the test's Chromium page. */
class TestProvider implements OAuthClientProvider {
  authorizationUrl?: URL;
  client?: StoredClient;
  saved?: Stored;
  verifier = '';
  constructor(
    readonly redirectUrl: string,
    readonly clientMetadataUrl?: string,
  ) {}
  get clientMetadata() {
    return {
      client_name: 'Browser test client',
      redirect_uris: [this.redirectUrl],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
  }
  clientInformation() {
    return this.client;
  }
  saveClientInformation(info: StoredClient) {
    this.client = info;
  }
  tokens() {
    return this.saved;
  }
  saveTokens(tokens: Stored) {
    this.saved = tokens;
  }
  redirectToAuthorization(url: URL) {
    this.authorizationUrl = url;
  }
  saveCodeVerifier(v: string) {
    this.verifier = v;
  }
  codeVerifier() {
    return this.verifier;
  }
  state() {
    return crypto.randomUUID();
  }
  #discovery: unknown;
  saveDiscoveryState(state: unknown) {
    this.#discovery = state;
  }
  discoveryState() {
    return this.#discovery as never;
  }
}

/** The client's loopback redirect URI: resolves with the query of the first callback. */
async function callbackServer(): Promise<{ url: string; next(): Promise<URLSearchParams>; close(): Promise<void> }> {
  let waiting: ((q: URLSearchParams) => void) | undefined;
  const queue: URLSearchParams[] = [];
  const server: Server = createServer((req, res) => {
    const q = new URL(req.url ?? '/', 'http://127.0.0.1').searchParams;
    res.writeHead(200, { 'content-type': 'text/html' }).end('<p id="done">You can close this window.</p>');
    if (waiting) {
      waiting(q);
      waiting = undefined;
    } else queue.push(q);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/callback`,
    // Bounded, so a page that never gets there fails the test instead of hanging it.
    next: () =>
      queue.length
        ? Promise.resolve(queue.shift()!)
        : new Promise((resolve, reject) => {
            const timer = setTimeout(() => reject(new Error('the browser never reached the redirect URI')), 60_000);
            waiting = (q) => {
              clearTimeout(timer);
              resolve(q);
            };
          }),
    close: () => new Promise((r) => server.close(() => r())),
  };
}

describe('browser sign-in: SDK client + Chromium + Firebase Auth Emulator, two instances', () => {
  let emulator: AuthEmulator;
  let it: Instances;
  let balancer: Balancer;
  let browser: Browser;
  let base: string;
  let email: string;
  let uid: string;
  let tls: { key: string; cert: string };

  before(async () => {
    // A missing browser fails the suite with a way out, never skips it.
    const chromiumBinary = await testChromium();
    const [port, emulatorPort] = [await freePort(), await freePort()];
    base = `http://localhost:${port}`;
    tls = await selfSignedCert();
    const emulatorStarted = startAuthEmulator({ projectId: 'demo-flowpos', port: emulatorPort });
    emulatorStarted.catch(() => {});
    it = await startInstances({
      count: 2,
      env: {
        PUBLIC_URL: base,
        FIREBASE_PROJECT_ID: 'demo-flowpos',
        FIREBASE_AUTH_EMULATOR_HOST: `127.0.0.1:${emulatorPort}`,
        MCP_TOKEN_SECRET: 'browser-test-secret-browser-test-secret',
        OAUTH_CLIENT_METADATA_ALLOW_PRIVATE: 'true',
      },
      serverOptions: () => ({ clientMetadataCa: tls.cert }),
    });
    balancer = await startBalancer({ upstreams: it.urls.map((url, i) => ({ name: `i${i + 1}`, url })), port, host: '127.0.0.1' });
    browser = await chromium.launch({
      executablePath: chromiumBinary.executablePath,
      headless: true,
      args: chromiumBinary.args,
    });
    emulator = await emulatorStarted;
    email = `person-${Date.now()}@example.test`;
    ({ uid } = await emulator.signUp(email, PASSWORD));
    // The person works at the coffee shop (the emulator user is new to FlowPOS until the first sign-in creates it).
    const db = it.servers[0]!.db;
    await db.query('INSERT INTO users (id, email) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING', [uid, email]);
    await db.query("INSERT INTO memberships (user_id, business_id, role) VALUES ($1, $2, 'staff')", [uid, DEMO.businesses.coffee]);
  });
  after(async () => {
    await browser?.close();
    await balancer?.close();
    await it?.stop();
    await emulator?.stop();
  });

  /** The person's part: sign in on our page, check what the consent page says, allow. */
  async function signInAndAllow(page: Page, url: URL, expectClient: RegExp): Promise<void> {
    await page.goto(url.toString());
    await page.fill('#email', email);
    await page.fill('#password', PASSWORD);
    await page.click('#sign-in');
    await page.waitForSelector('#allow', { timeout: 30_000 });
    const text = await page.textContent('main');
    assert.match(text ?? '', expectClient);
    assert.match(text ?? '', new RegExp(email.replace(/[.+]/g, '\\$&')), 'the consent page names the account');
    assert.match(text ?? '', /pos:write/);
    await page.click('#allow');
  }

  async function connectWithBrowser(provider: TestProvider, callbacks: Awaited<ReturnType<typeof callbackServer>>, expectClient: RegExp) {
    const first = new Client({ name: 'browser-test', version: '1.0.0' });
    await assert.rejects(first.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider })), UnauthorizedError);
    assert.ok(provider.authorizationUrl, 'the SDK sent the person to our authorization endpoint');
    assert.equal(provider.authorizationUrl.origin + provider.authorizationUrl.pathname, `${base}/authorize`);
    const context = await browser.newContext();
    const page = await context.newPage();
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    const callback = callbacks.next();
    await signInAndAllow(page, provider.authorizationUrl, expectClient);
    const params = await callback;
    await context.close();
    assert.deepEqual(pageErrors, []);
    assert.equal(params.get('iss'), base, 'RFC 9207: the response names its issuer');
    assert.ok(params.get('code'));
    assert.ok(params.get('state'), 'the SDK sent state and got it back');
    const transport = new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider });
    await transport.finishAuth(params);
    const client = new Client({ name: 'browser-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider }));
    return client;
  }

  test('DCR: discover from the 401, register, sign in, consent, then call tools; then refresh, and a refresh-token reuse ends the sign-in', async () => {
    const callbacks = await callbackServer();
    try {
      const provider = new TestProvider(callbacks.url);
      const client = await connectWithBrowser(provider, callbacks, /Browser test client/);
      assert.match(provider.client!.client_id, /^fpc_/, 'registered by RFC 7591');
      const claims = decodeJwt(provider.saved!.access_token);
      assert.equal(claims.sub, uid);
      assert.equal(claims.client_id, provider.client!.client_id);
      assert.equal(claims.aud, `${base}/mcp`);

      await client.callTool({ name: 'set_active_business', arguments: { business_id: DEMO.businesses.coffee } });
      await client.callTool({ name: 'add_item_to_cart', arguments: { sku: 'COF-LATTE-12', quantity: 2 } });
      const cart = await client.callTool({ name: 'view_cart', arguments: {} });
      assert.equal(cart.isError, undefined, JSON.stringify(cart));
      assert.deepEqual(
        (cart.structuredContent as { lines: { sku: string; quantity: number }[] }).lines.map((l) => [l.sku, l.quantity]),
        [['COF-LATTE-12', 2]],
      );
      await client.close();

      // Refresh: a new access token and a new refresh token; the old refresh token is spent.
      const first = provider.saved!;
      assert.match(first.refresh_token ?? '', /^fpr_/);
      const refreshed = await postForm(`${base}/mcp/token`, { grant_type: 'refresh_token', refresh_token: first.refresh_token!, client_id: provider.client!.client_id });
      assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
      assert.notEqual(refreshed.body.refresh_token, first.refresh_token, 'rotated');
      assert.equal(decodeJwt(refreshed.body.access_token).sub, uid);
      const sid = await openSession(base, refreshed.body.access_token);
      assert.equal((await callTool(base, refreshed.body.access_token, sid, 'view_cart')).status, 200);

      // The old refresh token again: stolen or copied. The whole sign-in ends, including the newest tokens.
      const reuse = await postForm(`${base}/mcp/token`, { grant_type: 'refresh_token', refresh_token: first.refresh_token!, client_id: provider.client!.client_id });
      assert.equal(reuse.status, 400);
      assert.equal(reuse.body.error, 'invalid_grant');
      assert.match(reuse.body.error_description, /already used.*every token of this sign-in is now revoked/);
      assert.equal(await metricSum(it.urls, 'flowpos_oauth_events_total', { event: 'refresh_reused' }), 1, 'the attack is counted (and logged)');
      assert.ok((await metricSum(it.urls, 'flowpos_oauth_events_total', { event: 'consented' })) >= 1);
      const after = await postForm(`${base}/mcp/token`, { grant_type: 'refresh_token', refresh_token: refreshed.body.refresh_token, client_id: provider.client!.client_id });
      assert.equal(after.status, 400);
      assert.equal(after.body.error, 'invalid_grant');
      for (const url of it.urls) {
        const res = await fetch(`${url}/mcp`, { method: 'POST', headers: baseHeaders(refreshed.body.access_token), body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping' }) });
        assert.equal(res.status, 401, `the access token minted by the last refresh is revoked on ${url}`);
      }
    } finally {
      await callbacks.close();
    }
  });

  test('CIMD: the client_id is an HTTPS URL on loopback whose document the server fetches; no registration happens', async () => {
    const callbacks = await callbackServer();
    let fetched = 0;
    const docServer = createHttpsServer({ key: tls.key, cert: tls.cert }, (req, res) => {
      fetched++;
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=120' }).end(JSON.stringify(doc));
    });
    await new Promise<void>((r) => docServer.listen(0, '127.0.0.1', r));
    const docUrl = `https://localhost:${(docServer.address() as AddressInfo).port}/clients/flowpos-test.json`;
    const doc = {
      client_id: docUrl,
      client_name: 'Metadata Document Client',
      redirect_uris: [callbacks.url],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    };
    try {
      const provider = new TestProvider(callbacks.url, docUrl);
      const registrations = await it.servers[0]!.db.query('SELECT count(*)::int AS n FROM oauth_clients');
      const client = await connectWithBrowser(provider, callbacks, /Metadata Document Client[\s\S]*identified by https:\/\/localhost/);
      assert.equal(provider.client!.client_id, docUrl, 'the SDK used the document URL as its client_id');
      assert.equal(decodeJwt(provider.saved!.access_token).client_id, docUrl);
      assert.ok(fetched >= 1, 'the server fetched the document');
      const after = await it.servers[0]!.db.query('SELECT count(*)::int AS n FROM oauth_clients');
      assert.deepEqual(after.rows, registrations.rows, 'no Dynamic Client Registration happened');
      const businesses = await client.callTool({ name: 'list_businesses', arguments: {} });
      assert.ok(JSON.stringify(businesses.structuredContent).includes(DEMO.businesses.coffee));
      await client.close();
    } finally {
      await new Promise<void>((r) => docServer.close(() => r()));
      await callbacks.close();
    }
  });

  test('deny: the client is told access_denied at its redirect URI, with state and iss, and gets no code', async () => {
    const callbacks = await callbackServer();
    try {
      const provider = new TestProvider(callbacks.url);
      const client = new Client({ name: 'browser-test', version: '1.0.0' });
      await assert.rejects(client.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`), { authProvider: provider })), UnauthorizedError);
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(provider.authorizationUrl!.toString());
      await page.fill('#email', email);
      await page.fill('#password', 'wrong password');
      await page.click('#sign-in');
      await page.waitForSelector('#error:not([hidden])');
      assert.match((await page.textContent('#error')) ?? '', /Wrong email or password/);
      await page.fill('#password', PASSWORD);
      await page.click('#sign-in');
      await page.waitForSelector('#deny', { timeout: 30_000 });
      const callback = callbacks.next();
      await page.click('#deny');
      const params = await callback;
      await context.close();
      assert.equal(params.get('error'), 'access_denied');
      assert.equal(params.get('code'), null);
      assert.equal(params.get('iss'), base);
      assert.equal(params.get('state'), provider.authorizationUrl!.searchParams.get('state'));
    } finally {
      await callbacks.close();
    }
  });
});
