import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { DEMO } from '../../src/db/seed.js';
import { startInstances, type Instances } from '../helpers/instances.js';
import { LogCapture, settle } from '../helpers/log-capture.js';
import { baseHeaders, callTool, callToolModern, LEGACY_VERSION, openSession, post, structured } from '../helpers/mcp-http.js';
import { SseReader } from '../helpers/sse.js';
import { metric } from '../helpers/metrics.js';

const TOKEN = 'scrape-token-0123456789abcdef';
const PROJECT = 'flowpos-metrics-test';

/** Prometheus text → the value of one series, or undefined when it is absent. */
/** What an operator scrapes and traces: per-instance counters with the right labels, and MCP spans. */
describe('metrics and traces', () => {
  let it: Instances;
  let A: string;
  let B: string;
  const spans = new InMemorySpanExporter();
  const logsA = new LogCapture();

  before(async () => {
    it = await startInstances({
      count: 2,
      ownRedis: true,
      env: { METRICS_TOKEN: TOKEN, GOOGLE_CLOUD_PROJECT: PROJECT, LOG_LEVEL: 'info' },
      serverOptions: (i) => (i === 0 ? { spanExporter: spans, logStream: logsA } : { logStream: new LogCapture() }),
    });
    [A, B] = it.urls as [string, string];
  });
  after(() => it?.stop());

  const scrape = async (url: string, token: string | null = TOKEN) => {
    const res = await fetch(`${url}/metrics`, { headers: token === null ? {} : { authorization: `Bearer ${token}` } });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  };
  const openGet = (url: string, sid: string, lastEventId?: string) =>
    fetch(`${url}/mcp`, {
      headers: {
        accept: 'text/event-stream',
        authorization: `Bearer ${it.keys.demo}`,
        'mcp-session-id': sid,
        'mcp-protocol-version': LEGACY_VERSION,
        ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
      },
    });

  test('/metrics needs the METRICS_TOKEN when one is set, and speaks the Prometheus text format', async () => {
    assert.equal((await scrape(A, null)).status, 401);
    assert.equal((await scrape(A, 'wrong-token-0123456789abcdef')).status, 401);
    const ok = await scrape(A);
    assert.equal(ok.status, 200);
    assert.match(ok.type ?? '', /^text\/plain; version=0\.0\.4/);
    assert.ok(metric(ok.text, 'process_cpu_user_seconds_total') !== undefined, 'default process metrics');
    assert.ok(metric(ok.text, 'nodejs_eventloop_lag_seconds') !== undefined, 'default Node.js metrics');
  });

  test('a session flow across two instances: requests, sessions, streams and replays counted where they happened', async () => {
    const key = it.keys.demo;
    const sid = await openSession(A, key); // initialize + notifications/initialized on A
    structured(await callTool(B, key, sid, 'set_active_business', { business_id: DEMO.businesses.coffee }));
    const product = structured(await callTool(B, key, sid, 'search_products', { limit: 10 })).products.find((p: { stock: number }) => p.stock >= 5);
    // A GET stream on A; the client drops it, two cart changes are logged, it reconnects on B with Last-Event-ID.
    const first = new SseReader(await openGet(A, sid));
    const primingId = (await first.next())!.id!;
    await first.cancel();
    for (const cart of ['m1', 'm2']) structured(await callTool(A, key, sid, 'add_item_to_cart', { sku: product.sku, quantity: 1, cart_id: cart }));
    const resumed = new SseReader(await openGet(B, sid, primingId));
    await resumed.until((d) => d.params?.uri === 'pos://carts/m2');
    await resumed.cancel();
    structured(await callToolModern(B, key, 'view_cart', { cart_id: 'm1' }));
    await post(B, { jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'no_such_tool_x', arguments: {} } }, baseHeaders(key, { 'mcp-session-id': sid, 'mcp-protocol-version': LEGACY_VERSION }));
    const del = await fetch(`${B}/mcp`, { method: 'DELETE', headers: baseHeaders(key, { 'mcp-session-id': sid, 'mcp-protocol-version': LEGACY_VERSION }) });
    assert.equal(del.status, 204);
    await settle();

    const a = (await scrape(A)).text;
    const b = (await scrape(B)).text;
    const req = (labels: Record<string, string>) => ({ http_method: 'POST', status: '200', era: 'legacy', tool: 'none', ...labels });
    assert.equal(metric(a, 'flowpos_mcp_sessions_opened_total'), 1);
    assert.equal(metric(b, 'flowpos_mcp_sessions_opened_total'), 0, 'each instance has its own registry');
    assert.equal(metric(b, 'flowpos_mcp_sessions_closed_total'), 1);
    assert.equal(metric(a, 'flowpos_mcp_sessions_closed_total'), 0);
    assert.equal(metric(a, 'flowpos_mcp_streams_opened_total', { resumed: 'false' }), 1);
    assert.equal(metric(b, 'flowpos_mcp_streams_opened_total', { resumed: 'true' }), 1);
    assert.equal(metric(b, 'flowpos_mcp_stream_events_replayed_total'), 2);
    assert.equal(metric(a, 'flowpos_mcp_requests_total', req({ mcp_method: 'initialize' })), 1);
    assert.equal(metric(a, 'flowpos_mcp_requests_total', req({ mcp_method: 'notifications/initialized', status: '202' })), 1);
    assert.equal(metric(a, 'flowpos_mcp_requests_total', req({ mcp_method: 'tools/call', tool: 'add_item_to_cart' })), 2);
    assert.equal(metric(b, 'flowpos_mcp_requests_total', req({ mcp_method: 'tools/call', tool: 'set_active_business' })), 1);
    assert.equal(metric(b, 'flowpos_mcp_requests_total', req({ mcp_method: 'tools/call', tool: 'view_cart', era: 'modern' })), 1);
    assert.equal(metric(b, 'flowpos_mcp_requests_total', req({ mcp_method: 'tools/call', tool: 'other' })), 1, 'made-up tool names share one label value');
    assert.equal(metric(b, 'flowpos_mcp_requests_total', { http_method: 'DELETE', status: '204', era: 'legacy', mcp_method: 'none' }), 1);
    assert.equal(metric(a, 'flowpos_mcp_request_duration_seconds_count', { era: 'legacy', mcp_method: 'tools/call' }), 2);
    assert.equal(metric(b, 'flowpos_mcp_request_duration_seconds_count', { era: 'modern', mcp_method: 'tools/call' }), 1);
    // GET streams are counted once they end (the server notices the client left on its next keep-alive).
    const deadline = Date.now() + 5000;
    while (metric((await scrape(A)).text, 'flowpos_mcp_requests_total', { http_method: 'GET', status: '200', era: 'legacy' }) !== 1) {
      assert.ok(Date.now() < deadline, 'the GET stream on A was never counted');
      await settle(100);
    }
  });

  test('a tools/call becomes a SERVER span "tools/call <tool>" with the MCP attributes, under the caller\'s trace', async () => {
    spans.reset();
    const traceId = '0af7651916cd43dd8448eb211c80319c';
    const parent = 'b7ad6b7169203331';
    const sid = await openSession(A, it.keys.demo);
    const res = await post(
      A,
      { jsonrpc: '2.0', id: 'call-7', method: 'tools/call', params: { name: 'list_businesses', arguments: {} } },
      baseHeaders(it.keys.demo, { 'mcp-session-id': sid, 'mcp-protocol-version': LEGACY_VERSION, traceparent: `00-${traceId}-${parent}-01` }),
    );
    assert.equal(res.status, 200);
    await settle();
    const names = spans.getFinishedSpans().map((s) => s.name);
    assert.deepEqual(names, ['initialize', 'notifications/initialized', 'tools/call list_businesses']);
    const span = spans.getFinishedSpans()[2]!;
    assert.equal(span.kind, SpanKind.SERVER);
    assert.equal(span.spanContext().traceId, traceId);
    assert.equal(span.parentSpanContext?.spanId, parent);
    assert.deepEqual(
      Object.fromEntries(
        ['mcp.method.name', 'gen_ai.tool.name', 'gen_ai.operation.name', 'mcp.session.id', 'jsonrpc.request.id', 'rpc.jsonrpc.request_id', 'mcp.protocol.version', 'network.transport', 'http.response.status_code'].map((k) => [k, span.attributes[k]]),
      ),
      {
        'mcp.method.name': 'tools/call',
        'gen_ai.tool.name': 'list_businesses',
        'gen_ai.operation.name': 'execute_tool',
        'mcp.session.id': sid,
        'jsonrpc.request.id': 'call-7',
        'rpc.jsonrpc.request_id': 'call-7',
        'mcp.protocol.version': LEGACY_VERSION,
        'network.transport': 'tcp',
        'http.response.status_code': 200,
      },
    );
    const init = spans.getFinishedSpans()[0]!;
    assert.equal(init.attributes['mcp.session.id'], sid, 'initialize carries the session it opened');
    assert.equal(init.attributes['mcp.protocol.version'], LEGACY_VERSION);
    // The request's log line names this span, so Cloud Logging shows it under the trace.
    const line = logsA.requests().find((l) => l.mcp?.tool === 'list_businesses' && l.mcp?.sessionId === sid)!;
    assert.equal(line['logging.googleapis.com/trace'], `projects/${PROJECT}/traces/${traceId}`);
    assert.equal(line['logging.googleapis.com/spanId'], span.spanContext().spanId);
  });

  test('Redis down: the 503s are counted by cause, and so are the connection errors', async () => {
    const sid = await openSession(A, it.keys.demo);
    await it.redis!.stop();
    try {
      const res = await callTool(A, it.keys.demo, sid, 'view_cart');
      assert.equal(res.status, 503);
      await settle();
      const a = (await scrape(A)).text;
      assert.equal(metric(a, 'flowpos_backend_unavailable_total', { cause: 'redis' }), 1);
      assert.equal(metric(a, 'flowpos_mcp_requests_total', { mcp_method: 'tools/call', tool: 'view_cart', status: '503' }), 1);
      assert.ok((metric(a, 'flowpos_redis_connection_errors_total') ?? 0) >= 1);
      const failed = spans.getFinishedSpans().at(-1)!;
      assert.equal(failed.name, 'tools/call view_cart');
      assert.equal(failed.attributes['error.type'], 'unavailable_redis');
      assert.equal(failed.status.code, 2 /* ERROR */);
    } finally {
      await it.redis!.restart!();
    }
  });
});

describe('METRICS_ENABLED=false', () => {
  let it: Instances;
  before(async () => {
    it = await startInstances({ count: 1, env: { METRICS_ENABLED: 'false' } });
  });
  after(() => it?.stop());

  test('there is no /metrics', async () => {
    assert.equal((await fetch(`${it.urls[0]}/metrics`)).status, 404);
  });
});
