import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  classifyAddress,
  ClientMetadataDocuments,
  documentTtlMs,
  type AddressClass,
} from '../../src/auth/client-metadata-document.js';
import { selfSignedCert } from '../helpers/self-signed.js';
import { refusal } from '../helpers/oauth.js';

async function assertInvalidClient(promise: Promise<unknown>, message: string): Promise<void> {
  const err = await refusal(promise);
  assert.equal(err.code, 'invalid_client');
  assert.equal(err.status, 401);
  assert.equal(err.message, message);
}

describe('classifyAddress', () => {
  const table: [string, AddressClass][] = [
    ['93.184.215.14', 'public'],
    ['8.8.8.8', 'public'],
    ['1.1.1.1', 'public'],
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', 'unspecified'],
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.0.0.1', 'private'],
    ['10.255.255.255', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['172.32.0.1', 'public'],
    ['172.15.255.255', 'public'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'shared'],
    ['100.127.255.255', 'shared'],
    ['100.128.0.1', 'public'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['240.0.0.1', 'reserved'],
    ['192.0.2.1', 'reserved'],
    ['198.18.0.1', 'reserved'],
    ['2606:4700:4700::1111', 'public'],
    ['2001:4860:4860::8888', 'public'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback'],
    ['fc00::1', 'private'],
    ['fd12:3456:789a::1', 'private'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'reserved'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::FFFF:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['::ffff:a9fe:a9fe', 'link-local'],
    ['::ffff:100.64.0.1', 'shared'],
    ['::ffff:8.8.8.8', 'public'],
    ['0:0:0:0:0:ffff:192.168.0.1', 'private'],
    ['64:ff9b::10.0.0.1', 'private'],
    ['64:ff9b::8.8.8.8', 'public'],
    ['::127.0.0.1', 'reserved'],
    ['2002:7f00:1::1', 'loopback'],
    ['2002:0808:0808::1', 'public'],
    ['not-an-ip', 'invalid'],
    ['256.1.1.1', 'invalid'],
    ['localhost', 'invalid'],
  ];
  for (const [address, expected] of table) {
    it(`${address} is ${expected}`, () => assert.equal(classifyAddress(address), expected));
  }
});

describe('documentTtlMs', () => {
  it('uses max-age clamped to [60 s, 24 h], 5 min without it, and the minimum for no-store', () => {
    assert.equal(documentTtlMs(undefined), 300_000);
    assert.equal(documentTtlMs('public'), 300_000);
    assert.equal(documentTtlMs('max-age=120'), 120_000);
    assert.equal(documentTtlMs('public, max-age=5'), 60_000);
    assert.equal(documentTtlMs('max-age=864000'), 86_400_000);
    assert.equal(documentTtlMs('no-store'), 60_000);
  });
});

describe('ClientMetadataDocuments against a local HTTPS server', () => {
  let cert: string;
  let server: Server;
  let port: number;
  let base: string;
  const hits = new Map<string, number>();
  let connections = 0;

  const document = (path: string, extra: Record<string, unknown> = {}) => ({
    client_id: `${base}${path}`,
    client_name: 'Test MCP Client',
    redirect_uris: ['http://127.0.0.1:3000/callback', 'http://localhost:3000/callback'],
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    token_endpoint_auth_method: 'none',
    ...extra,
  });

  before(async () => {
    const tls = await selfSignedCert();
    cert = tls.cert;
    const key = tls.key;

    server = createServer({ key, cert }, (req, res) => {
      const path = (req.url ?? '/').split('?')[0]!;
      hits.set(path, (hits.get(path) ?? 0) + 1);
      const json = (body: unknown, headers: Record<string, string> = {}) => {
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', ...headers });
        res.end(JSON.stringify(body));
      };
      switch (path) {
        case '/client.json':
        case '/concurrent.json':
        case '/lru-a.json':
        case '/lru-b.json':
        case '/lru-c.json':
          return json(document(path));
        case '/max-age.json':
          return json(document(path), { 'cache-control': 'public, max-age=120' });
        case '/short-max-age.json':
          return json(document(path), { 'cache-control': 'max-age=5' });
        case '/vendor-type.json':
          res.writeHead(200, { 'content-type': 'application/client-metadata+json' });
          return res.end(JSON.stringify(document(path)));
        case '/redirect.json':
          res.writeHead(302, { location: `${base}/client.json` });
          return res.end();
        case '/big.json':
          return json(document(path, { padding: 'x'.repeat(6000) }));
        case '/big-chunked.json':
          res.writeHead(200, { 'content-type': 'application/json' });
          for (let i = 0; i < 20; i++) res.write(' '.repeat(1000));
          return res.end(JSON.stringify(document(path)));
        case '/slow.json':
          return; // never answers
        case '/slow-body.json':
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.write('{"client_id":'); // never finishes
        case '/html.json':
          res.writeHead(200, { 'content-type': 'text/html' });
          return res.end(JSON.stringify(document(path)));
        case '/not-json.json':
          res.writeHead(200, { 'content-type': 'application/json' });
          return res.end('<html>not json</html>');
        case '/array.json':
          return json([document(path)]);
        case '/mismatch.json':
          return json(document(path, { client_id: `${base}/other.json` }));
        case '/trailing-slash.json':
          return json(document(path, { client_id: `${base}/trailing-slash.json/` }));
        case '/bad-redirects.json':
          return json(document(path, { redirect_uris: ['http://evil.example/callback'] }));
        case '/no-redirects.json':
          return json(document(path, { redirect_uris: undefined }));
        case '/secret.json':
          return json(document(path, { token_endpoint_auth_method: 'client_secret_basic' }));
        case '/has-secret.json':
          return json(document(path, { client_secret: 'shh' }));
        case '/no-name.json':
          return json(document(path, { client_name: undefined }));
        default:
          res.writeHead(404, { 'content-type': 'application/json' });
          return res.end('{"error":"not found"}');
      }
    });
    server.on('connection', () => {
      connections += 1;
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
    base = `https://127.0.0.1:${port}`;
  });

  after(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  });

  /** A fetcher that may reach the local server, with a clock the test moves. */
  function dev(options: { timeoutMs?: number; maxEntries?: number } = {}) {
    const clock = { t: 1_700_000_000_000 };
    const documents = new ClientMetadataDocuments({ allowPrivateNetworks: true, ca: cert, now: () => clock.t, ...options });
    return { documents, clock };
  }

  describe('with allowPrivateNetworks: true (development)', () => {
    it('resolves a valid document into a client and caches it (one fetch)', async () => {
      const { documents, clock } = dev();
      const url = `${base}/client.json`;
      const client = await documents.resolve(url);
      assert.deepEqual(client, {
        clientId: url,
        clientName: 'Test MCP Client',
        redirectUris: ['http://127.0.0.1:3000/callback', 'http://localhost:3000/callback'],
        grantTypes: ['authorization_code', 'refresh_token'],
        kind: 'metadata-document',
      });
      assert.deepEqual(await documents.resolve(url), client);
      clock.t += 299_000;
      await documents.resolve(url);
      assert.equal(hits.get('/client.json'), 1, 'served from the cache for the default 5 minutes');
      clock.t += 2_000;
      await documents.resolve(url);
      assert.equal(hits.get('/client.json'), 2, 'fetched again after 5 minutes');
    });

    it('honours Cache-Control max-age, clamped to at least 60 s', async () => {
      const { documents, clock } = dev();
      await documents.resolve(`${base}/max-age.json`);
      clock.t += 119_000;
      await documents.resolve(`${base}/max-age.json`);
      assert.equal(hits.get('/max-age.json'), 1);
      clock.t += 2_000;
      await documents.resolve(`${base}/max-age.json`);
      assert.equal(hits.get('/max-age.json'), 2, 'max-age=120 expired');

      await documents.resolve(`${base}/short-max-age.json`);
      clock.t += 59_000;
      await documents.resolve(`${base}/short-max-age.json`);
      assert.equal(hits.get('/short-max-age.json'), 1, 'max-age=5 is kept 60 s');
      clock.t += 2_000;
      await documents.resolve(`${base}/short-max-age.json`);
      assert.equal(hits.get('/short-max-age.json'), 2);
    });

    it('fetches once for concurrent resolutions, and keeps a bounded LRU cache', async () => {
      const { documents } = dev({ maxEntries: 2 });
      await Promise.all([1, 2, 3, 4, 5].map(() => documents.resolve(`${base}/concurrent.json`)));
      assert.equal(hits.get('/concurrent.json'), 1);

      await documents.resolve(`${base}/lru-a.json`);
      await documents.resolve(`${base}/lru-b.json`);
      await documents.resolve(`${base}/lru-a.json`); // a is now the most recently used
      await documents.resolve(`${base}/lru-c.json`); // evicts b
      await documents.resolve(`${base}/lru-a.json`);
      await documents.resolve(`${base}/lru-b.json`);
      assert.deepEqual([hits.get('/lru-a.json'), hits.get('/lru-b.json'), hits.get('/lru-c.json')], [1, 2, 1]);
    });

    it('accepts a +json media type', async () => {
      const { documents } = dev();
      assert.equal((await documents.resolve(`${base}/vendor-type.json`)).clientName, 'Test MCP Client');
    });

    it('refuses client_id URLs that break the rules, without fetching', async () => {
      const { documents } = dev();
      const before = connections;
      const cases: [string, string][] = [
        [`http://127.0.0.1:${port}/client.json`, 'uses "http:": a client ID metadata document URL must use https.'],
        [`${base}`, 'has no path: a client ID metadata document URL names a document, e.g. https://example.com/client.json.'],
        [`${base}/`, 'has no path: a client ID metadata document URL names a document, e.g. https://example.com/client.json.'],
        [`${base}/client.json#x`, 'must not contain a fragment (#) in a client ID metadata document URL.'],
        [`https://user:pw@127.0.0.1:${port}/client.json`, 'must not contain credentials (user:password@) in a client ID metadata document URL.'],
        [`${base}/a/../client.json`, 'must not contain "." or ".." path segments in a client ID metadata document URL.'],
        [`${base}/./client.json`, 'must not contain "." or ".." path segments in a client ID metadata document URL.'],
        [`${base}/a/%2e%2e/client.json`, 'must not contain "." or ".." path segments in a client ID metadata document URL.'],
        ['https://', 'is not a valid URL: a client ID metadata document URL must be an absolute https URL.'],
      ];
      for (const [url, reason] of cases) await assertInvalidClient(documents.resolve(url), `${url} ${reason}`);
      assert.equal(connections, before, 'no connection was made');
    });

    it('refuses a redirect (3xx) instead of following it', async () => {
      const { documents } = dev();
      const url = `${base}/redirect.json`;
      await assertInvalidClient(
        documents.resolve(url),
        `${url} cannot be used: it answered HTTP 302 (a redirect to ${base}/client.json); redirects are not followed, serve the document at the client_id URL itself.`,
      );
    });

    it('refuses a document larger than the limit, declared or streamed', async () => {
      const { documents } = dev();
      for (const path of ['/big.json', '/big-chunked.json']) {
        await assertInvalidClient(documents.resolve(`${base}${path}`), `${base}${path} cannot be used: the document is larger than 5120 bytes.`);
      }
    });

    it('gives up on a slow server at the time limit (headers or body)', async () => {
      const { documents } = dev({ timeoutMs: 300 });
      for (const path of ['/slow.json', '/slow-body.json']) {
        const started = Date.now();
        await assertInvalidClient(documents.resolve(`${base}${path}`), `${base}${path} cannot be fetched: no complete answer within 300 ms.`);
        const elapsed = Date.now() - started;
        assert.ok(elapsed >= 250 && elapsed < 3_000, `gave up after ${elapsed} ms`);
      }
    });

    it('refuses what is not a JSON object served as JSON', async () => {
      const { documents } = dev();
      await assertInvalidClient(
        documents.resolve(`${base}/html.json`),
        `${base}/html.json cannot be used: its Content-Type is "text/html", not application/json.`,
      );
      await assertInvalidClient(
        documents.resolve(`${base}/not-json.json`),
        `${base}/not-json.json is not a usable client ID metadata document: the body is not valid JSON.`,
      );
      await assertInvalidClient(
        documents.resolve(`${base}/array.json`),
        `${base}/array.json is not a usable client ID metadata document: the body is not a JSON object.`,
      );
    });

    it('refuses a document whose client_id is not exactly its URL', async () => {
      const { documents } = dev();
      await assertInvalidClient(
        documents.resolve(`${base}/mismatch.json`),
        `${base}/mismatch.json is not a usable client ID metadata document: its client_id "${base}/other.json" must equal the document URL exactly.`,
      );
      await assertInvalidClient(
        documents.resolve(`${base}/trailing-slash.json`),
        `${base}/trailing-slash.json is not a usable client ID metadata document: its client_id "${base}/trailing-slash.json/" must equal the document URL exactly.`,
      );
    });

    it('refuses bad or missing redirect_uris, confidential clients and a missing client_name', async () => {
      const { documents } = dev();
      const cases: [string, string][] = [
        [
          '/bad-redirects.json',
          'is not a usable client ID metadata document: redirect URI "http://evil.example/callback" uses http on a host that is not loopback: ' +
            'use https, or http on 127.0.0.1, [::1] or localhost (RFC 8252).',
        ],
        ['/no-redirects.json', 'is not a usable client ID metadata document: redirect_uris is required: an array of 1 to 10 redirect URI strings.'],
        [
          '/secret.json',
          'is not a usable client ID metadata document: token_endpoint_auth_method "client_secret_basic" is not supported; only public clients ("none") are accepted here.',
        ],
        ['/has-secret.json', 'is not a usable client ID metadata document: it must not contain client_secret (only public clients use metadata documents).'],
        ['/no-name.json', 'is not a usable client ID metadata document: client_name is required (MCP 2025-11-25).'],
      ];
      for (const [path, reason] of cases) await assertInvalidClient(documents.resolve(`${base}${path}`), `${base}${path} ${reason}`);
    });

    it('refuses a 404 and remembers the failure for 10 s', async () => {
      const { documents, clock } = dev();
      const url = `${base}/missing.json`;
      const message = `${url} cannot be used: it answered HTTP 404, not 200.`;
      await assertInvalidClient(documents.resolve(url), message);
      clock.t += 9_000;
      await assertInvalidClient(documents.resolve(url), message);
      assert.equal(hits.get('/missing.json'), 1, 'the failure was cached');
      clock.t += 2_000;
      await assertInvalidClient(documents.resolve(url), message);
      assert.equal(hits.get('/missing.json'), 2, 'tried again after 10 s');
    });

    it('refuses a server whose certificate is not trusted', async () => {
      const documents = new ClientMetadataDocuments({ allowPrivateNetworks: true });
      await assertInvalidClient(
        documents.resolve(`${base}/client.json`),
        `${base}/client.json cannot be fetched: its TLS certificate is not trusted (DEPTH_ZERO_SELF_SIGNED_CERT).`,
      );
    });
  });

  describe('with allowPrivateNetworks: false (production)', () => {
    const production = () => new ClientMetadataDocuments({ ca: cert });
    const suffix = 'client ID metadata documents are only fetched from public addresses.';

    it('refuses loopback addresses and names resolving to them before connecting', async () => {
      const documents = production();
      const before = connections;
      const hitsBefore = hits.get('/client.json') ?? 0;
      await assertInvalidClient(
        documents.resolve(`https://127.0.0.1:${port}/client.json`),
        `https://127.0.0.1:${port}/client.json cannot be fetched: 127.0.0.1 is a loopback address; ${suffix}`,
      );
      const viaName = await refusal(documents.resolve(`https://localhost:${port}/client.json`));
      assert.equal(viaName.code, 'invalid_client');
      assert.match(
        viaName.message,
        new RegExp(`^https://localhost:${port}/client\\.json cannot be fetched: the host localhost resolves to (127\\.0\\.0\\.1|::1), a loopback address; ${suffix.replace(/\./g, '\\.')}$`),
      );
      await assertInvalidClient(
        documents.resolve(`https://[::1]:${port}/client.json`),
        `https://[::1]:${port}/client.json cannot be fetched: ::1 is a loopback address; ${suffix}`,
      );
      assert.equal(connections, before, 'no connection reached the server');
      assert.equal(hits.get('/client.json') ?? 0, hitsBefore);
    });

    it('refuses private, link-local (cloud metadata) and mapped addresses at once, without a network timeout', async () => {
      const documents = production();
      const cases: [string, string][] = [
        ['https://10.0.0.1/client.json', '10.0.0.1 is a private-network address'],
        ['https://169.254.169.254/latest/meta-data', '169.254.169.254 is a link-local address'],
        ['https://100.64.0.1/client.json', '100.64.0.1 is a carrier-grade NAT (100.64.0.0/10) address'],
        ['https://[fd00::1]/client.json', 'fd00::1 is a private-network address'],
        ['https://[::ffff:169.254.169.254]/client.json', '::ffff:a9fe:a9fe is a link-local address'],
        ['https://0.0.0.0/client.json', '0.0.0.0 is an unspecified ("this network") address'],
        ['https://2130706433/client.json', '127.0.0.1 is a loopback address'],
      ];
      for (const [url, reason] of cases) {
        const started = Date.now();
        await assertInvalidClient(documents.resolve(url), `${url} cannot be fetched: ${reason}; ${suffix}`);
        assert.ok(Date.now() - started < 200, `${url} refused at once`);
      }
    });
  });
});
