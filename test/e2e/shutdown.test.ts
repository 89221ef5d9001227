import assert from 'node:assert/strict';
import { request as httpRequest, type ClientRequest, type IncomingMessage } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DEMO } from '../../src/db/seed.js';
import { baseHeaders, callTool, LEGACY_VERSION, openSession, structured } from '../helpers/mcp-http.js';
import { freePort } from '../../src/cluster/ports.js';
import { serveEmbedded, type Served } from '../helpers/serve-process.js';

/**
 * SIGTERM as Cloud Run, Kubernetes or `docker stop` send it, to a real `flowpos-mcp serve` process: the listening
 * socket closes at once, GET streams end with a retry hint (their clients resume on another instance), a request
 * that was in flight is still answered, and the process exits 0 — within SHUTDOWN_GRACE_SECONDS, cutting what is
 * left when the grace period is over.
 *
 * The in-flight request is a real slow path: a client that is still uploading its body when the signal comes.
 */

interface Pending {
  req: ClientRequest;
  response: Promise<{ status: number; headers: IncomingMessage['headers']; text: string }>;
}

/** A tools/call whose body is only half sent: the server has the request, and waits for the rest. */
function halfSentToolCall(port: number, key: string, sessionId: string, name: string, args: Record<string, unknown>): { pending: Pending; rest: string } {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 'slow-1', method: 'tools/call', params: { name, arguments: args } });
  const cut = Math.floor(body.length / 2);
  const req = httpRequest({
    host: '127.0.0.1',
    port,
    path: '/mcp',
    method: 'POST',
    agent: false,
    headers: { ...baseHeaders(key, { 'mcp-session-id': sessionId, 'mcp-protocol-version': LEGACY_VERSION }), 'transfer-encoding': 'chunked' },
  });
  const response = new Promise<{ status: number; headers: IncomingMessage['headers']; text: string }>((resolve, reject) => {
    req.once('error', reject);
    req.once('response', (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (d: string) => (text += d));
      res.once('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, text }));
      res.once('error', reject);
    });
  });
  response.catch(() => {}); // observed by the test; never an unhandled rejection
  req.flushHeaders();
  req.write(body.slice(0, cut));
  return { pending: { req, response }, rest: body.slice(cut) };
}

/** Opens the session's GET stream and waits for its priming event; `rest()` reads the stream to its end. */
async function openGetStream(base: string, key: string, sessionId: string) {
  const res = await fetch(`${base}/mcp`, {
    headers: { authorization: `Bearer ${key}`, accept: 'text/event-stream', 'mcp-session-id': sessionId, 'mcp-protocol-version': LEGACY_VERSION },
  });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  while (!/^id: /m.test(text)) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`GET stream ended before its priming event: ${text}`);
    text += decoder.decode(value, { stream: true });
  }
  return {
    async rest(ms: number): Promise<string> {
      let tail = '';
      const deadline = Date.now() + ms;
      for (;;) {
        let timer: NodeJS.Timeout | undefined;
        const chunk = await Promise.race([
          reader.read(),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`GET stream still open ${ms} ms later; got ${JSON.stringify(tail)}`)), Math.max(1, deadline - Date.now()));
          }),
        ]).finally(() => clearTimeout(timer));
        if (chunk.done) return tail;
        tail += decoder.decode(chunk.value, { stream: true });
      }
    },
    cancel: () => reader.cancel().catch(() => {}),
  };
}

/** Resolves with the error code of a fresh TCP connection attempt ('connected' if it was accepted). */
function tryConnect(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
  });
}

async function refusesNewConnections(port: number, withinMs: number): Promise<string> {
  const deadline = Date.now() + withinMs;
  let last = '';
  while (Date.now() < deadline) {
    last = await tryConnect(port);
    if (last !== 'connected') return last;
    await new Promise((r) => setTimeout(r, 50));
  }
  return last;
}

describe('graceful shutdown of a real serve process', () => {
  let dataDir: string;
  const started: Served[] = [];

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'flowpos-shutdown-'));
  });
  after(async () => {
    for (const s of started) s.proc.kill();
    await rm(dataDir, { recursive: true, force: true });
  });

  test('SIGTERM: stop accepting, end GET streams with a retry hint, answer the request in flight, exit 0 within the grace period', async () => {
    const port = await freePort();
    const s = await serveEmbedded({ dataDir, port, env: { LOG_LEVEL: 'info' } });
    started.push(s);
    const sid = await openSession(s.base, s.key);
    structured(await callTool(s.base, s.key, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    const stream = await openGetStream(s.base, s.key, sid);
    const { pending, rest } = halfSentToolCall(port, s.key, sid, 'add_item_to_cart', { sku: 'COF-LATTE-12', quantity: 2 });
    // Let the server receive the headers and the first half.
    await new Promise((r) => setTimeout(r, 300));

    const signalledAt = Date.now();
    process.kill(s.proc.pid, 'SIGTERM');

    const tail = await stream.rest(3_000);
    assert.match(tail, /retry: \d+\n\n$/, `the GET stream ends with a retry hint; got ${JSON.stringify(tail)}`);
    assert.equal(await refusesNewConnections(port, 2_000), 'ECONNREFUSED', 'new connections are refused');
    assert.equal(s.proc.child.exitCode, null, 'the process waits for the request in flight');

    pending.req.end(rest);
    const res = await pending.response;
    assert.equal(res.status, 200, res.text);
    assert.equal(res.headers.connection, 'close', 'the connection is not kept for another request');
    const reply = JSON.parse(res.text) as { result: { isError?: boolean; structuredContent: { lines: { sku: string; quantity: number }[] } } };
    assert.notEqual(reply.result.isError, true, res.text);
    assert.deepEqual(
      reply.result.structuredContent.lines.map((l) => [l.sku, l.quantity]),
      [['COF-LATTE-12', 2]],
    );

    const exit = await s.proc.waitForExit(8_000);
    const tookMs = Date.now() - signalledAt;
    assert.deepEqual(exit, { code: 0, signal: null }, s.proc.describe());
    assert.ok(tookMs < 8_000, `exited ${tookMs} ms after SIGTERM, within the default grace period of 8 s`);
    assert.doesNotMatch(s.proc.stdout(), /grace period over/, 'nothing had to be cut');
    assert.match(s.proc.stdout(), /"(msg|message)":"stopped"/, 'the shutdown finished and said so');
  });

  test('a request still in flight when SHUTDOWN_GRACE_SECONDS is over is cut, and the process still exits 0', async () => {
    const port = await freePort();
    const s = await serveEmbedded({ dataDir, port, env: { SHUTDOWN_GRACE_SECONDS: '1' } });
    started.push(s);
    const sid = await openSession(s.base, s.key);
    const { pending } = halfSentToolCall(port, s.key, sid, 'view_cart', {});
    await new Promise((r) => setTimeout(r, 300));

    const signalledAt = Date.now();
    process.kill(s.proc.pid, 'SIGTERM');
    const exit = await s.proc.waitForExit(8_000);
    const tookMs = Date.now() - signalledAt;
    assert.deepEqual(exit, { code: 0, signal: null }, s.proc.describe());
    assert.ok(tookMs >= 900, `waited for the grace period (${tookMs} ms)`);
    assert.ok(tookMs < 6_000, `exited ${tookMs} ms after SIGTERM: the grace period, then closing`);
    await assert.rejects(pending.response, 'the unfinished request lost its connection');
    assert.match(s.proc.stdout(), /shutdown grace period over/);
  });
});
