import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { startBalancer, UPSTREAM_HEADER, type Balancer } from '../../src/cluster/balancer.js';
import { within } from '../helpers/cluster.js';

/** What an upstream saw of one request. */
interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

interface Fake {
  name: string;
  url: string;
  seen: Seen[];
  server: Server;
  /** Resolves the SSE route's second event. */
  release?: () => void;
  close(): Promise<void>;
}

/** A plain node:http upstream that echoes what it got, with an SSE route whose second event waits for the test. */
async function fakeUpstream(name: string): Promise<Fake> {
  const fake: Partial<Fake> & { seen: Seen[] } = { name, seen: [] };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      fake.seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      if (req.url === '/sse') {
        res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
        res.write('data: first\n\n');
        fake.release = () => {
          res.write('data: second\n\n');
          res.end();
        };
        return;
      }
      if (req.url === '/busy') {
        res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '2' });
        res.end('{"busy":true}');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', 'x-served-by': name });
      res.end(JSON.stringify({ name, method: req.method, url: req.url, body: body.toString('utf8'), contentType: req.headers['content-type'] ?? null }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return Object.assign(fake, {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  }) as Fake;
}

/** A raw HTTP/1.1 request, for headers fetch will not send (Connection). */
function raw(url: string, path: string, headers: Record<string, string>): Promise<{ status: number; headers: IncomingMessage['headers']; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, { method: 'GET', headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the balancer: round robin with no affinity, failover only on refused connections', () => {
  let ups: Fake[];
  let lb: Balancer;
  const lines: string[] = [];
  before(async () => {
    ups = await Promise.all(['i1', 'i2', 'i3'].map((n) => fakeUpstream(n)));
    lb = await startBalancer({ upstreams: ups.map((u) => ({ name: u.name, url: u.url })), port: 0, log: (l) => lines.push(l) });
  });
  after(async () => {
    await lb?.close();
    await Promise.all((ups ?? []).map((u) => u.close()));
  });

  test('every request, whatever its method or session header, goes to the next instance in turn', async () => {
    const served: string[] = [];
    const session = { 'mcp-session-id': 'same-session-every-time' };
    for (const method of ['POST', 'GET', 'DELETE', 'POST', 'GET', 'DELETE']) {
      const res = await fetch(`${lb.url}/mcp?x=1`, {
        method,
        headers: { ...session, ...(method === 'POST' ? { 'content-type': 'application/json' } : {}) },
        ...(method === 'POST' ? { body: '{"jsonrpc":"2.0","id":7,"method":"ping"}' } : {}),
      });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { name: string; url: string };
      assert.equal(res.headers.get(UPSTREAM_HEADER), body.name, 'the header names the instance that answered');
      assert.equal(body.url, '/mcp?x=1', 'path and query are passed on');
      served.push(body.name);
    }
    // Whatever instance came first, the order is a strict rotation.
    const start = ['i1', 'i2', 'i3'].indexOf(served[0]!);
    assert.deepEqual(served, [0, 1, 2, 3, 4, 5].map((k) => `i${((start + k) % 3) + 1}`));
  });

  test('bodies pass byte for byte (a malformed one is the instance’s to refuse), with their content type or none', async () => {
    const odd = '{"jsonrpc":"2.0", "id": 1, "method": "tools/call"   ,  '; // not JSON: must not be re-encoded
    const a = (await (await fetch(`${lb.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json; charset=utf-8' }, body: odd })).json()) as {
      body: string;
      contentType: string;
    };
    assert.equal(a.body, odd);
    assert.equal(a.contentType, 'application/json; charset=utf-8');
    const bytes = Buffer.from([0, 1, 2, 250, 251, 255]);
    const b = (await (await fetch(`${lb.url}/upload`, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: bytes })).json()) as {
      body: string;
    };
    assert.equal(b.body, bytes.toString('utf8'));
    const c = await raw(lb.url, '/mcp', {});
    assert.equal(c.status, 200);
  });

  test('hop-by-hop headers stay on their hop; x-forwarded-* are added', async () => {
    const before = ups.map((u) => u.seen.length);
    const res = await raw(lb.url, '/hop', { connection: 'keep-alive, x-hop-secret', 'x-hop-secret': 'not for the instance', 'x-end-to-end': 'kept' });
    const upstream = ups.find((u, i) => u.seen.length > before[i]!)!;
    const seen = upstream.seen.at(-1)!;
    assert.equal(seen.headers['x-hop-secret'], undefined, 'a header named in Connection is not forwarded');
    assert.equal(seen.headers['x-end-to-end'], 'kept');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
    assert.match(String(seen.headers['x-forwarded-host']), /^127\.0\.0\.1:\d+$/);
    // A plain node:http upstream says Keep-Alive: timeout=5; the client must see the balancer's own (Fastify: 72 s).
    assert.equal(res.headers['keep-alive'], 'timeout=72');
  });

  test('SSE streams through unbuffered: the first event arrives while the stream is still open', async () => {
    const res = await fetch(`${lb.url}/sse`, { headers: { accept: 'text/event-stream' } });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    const first = await within(reader.read(), 3_000);
    assert.notEqual(first, 'timeout', 'the first event was held back');
    assert.match(decoder.decode((first as { value: Uint8Array }).value), /data: first/);
    const upstream = ups.find((u) => u.name === res.headers.get(UPSTREAM_HEADER))!;
    upstream.release!();
    let rest = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      rest += decoder.decode(value);
    }
    assert.match(rest, /data: second/);
  });

  test('an instance’s 503 with Retry-After comes back at once, not retried by the balancer', async () => {
    const busyHits = () => ups.reduce((n, u) => n + u.seen.filter((r) => r.url === '/busy').length, 0);
    const before = busyHits();
    const res = await fetch(`${lb.url}/busy`);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '2');
    assert.deepEqual(await res.json(), { busy: true });
    assert.equal(busyHits() - before, 1, 'the balancer asked one instance once: no retry held the answer back');
  });

  test('a refused connection sends the same request to the next instance; none up is a 502 JSON-RPC error', async () => {
    const down = ups[1]!;
    await down.close();
    const served: string[] = [];
    for (let k = 0; k < 6; k++) {
      const res = await fetch(`${lb.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"n":${k}}` });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { name: string; body: string };
      assert.equal(body.body, `{"n":${k}}`, 'the body survives the failover');
      served.push(body.name);
    }
    assert.ok(!served.includes('i2'), `i2 is down: ${served}`);
    assert.ok(served.includes('i1') && served.includes('i3'), `both others serve: ${served}`);
    assert.ok(lines.some((l) => /i2 refused the connection/.test(l)), lines.join('\n'));
    // Two down, requests at once: while one request fails over, the others move the rotation on, so a failover
    // that took the next in turn could meet a dead instance again and run out of tries. It walks the ring instead.
    await ups[2]!.close();
    for (let round = 0; round < 3; round++) {
      const burst = await Promise.all(
        [0, 1, 2].map((k) => fetch(`${lb.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"k":${k}}` })),
      );
      const bodies = (await Promise.all(burst.map((r) => r.json()))) as { name?: string }[];
      assert.deepEqual(burst.map((r) => r.status), [200, 200, 200], `round ${round}: ${JSON.stringify(bodies)}`);
      assert.deepEqual(bodies.map((b) => b.name), ['i1', 'i1', 'i1']);
    }

    await Promise.all([ups[0]!.close(), ups[2]!.close()]);
    const res = await fetch(`${lb.url}/mcp`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"jsonrpc":"2.0","id":42,"method":"ping"}' });
    assert.equal(res.status, 502);
    assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(res.headers.get('retry-after'), '1');
    const body = (await res.json()) as { jsonrpc: string; id: unknown; error: { code: number; message: string; data: { code: string } } };
    assert.equal(body.jsonrpc, '2.0');
    assert.equal(body.id, 42, 'the error answers the request it refuses');
    assert.equal(body.error.data.code, 'no_upstream');
    assert.match(body.error.message, /tried i\d, i\d, i\d/, 'each instance tried once, then a clear answer');
  });
});
