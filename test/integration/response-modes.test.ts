import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startInstances, type Instances } from '../helpers/instances.js';
import { baseHeaders, LEGACY_VERSION, openSession, post } from '../helpers/mcp-http.js';

/** Clients must handle both a JSON body and an SSE stream; the server picks per request. */
describe('JSON and SSE response modes', () => {
  let auto: Instances;
  let sse: Instances;
  before(async () => {
    auto = await startInstances({ count: 2 });
    sse = await startInstances({ count: 1, state: 'memory', db: 'pglite', env: { MCP_RESPONSE_MODE: 'sse' } });
  });
  after(async () => {
    await auto.stop();
    await sse.stop();
  });

  const listTools = (url: string, key: string, sid: string, meta?: Record<string, unknown>) =>
    post(url, { jsonrpc: '2.0', id: 7, method: 'tools/list', params: meta ? { _meta: meta } : {} }, baseHeaders(key, { 'mcp-session-id': sid, 'mcp-protocol-version': LEGACY_VERSION }));

  test('auto: plain requests get JSON', async () => {
    const sid = await openSession(auto.urls[0]!, auto.keys.demo);
    const res = await listTools(auto.urls[1]!, auto.keys.demo, sid);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    assert.equal(res.body.result.tools.length, 13);
  });

  test('auto: a request that asks for progress gets an SSE stream ending with its result', async () => {
    const sid = await openSession(auto.urls[1]!, auto.keys.demo);
    const res = await listTools(auto.urls[0]!, auto.keys.demo, sid, { progressToken: 'p1' });
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    assert.equal(res.body.id, 7);
    assert.equal(res.body.result.tools.length, 13);
  });

  test('MCP_RESPONSE_MODE=sse: every request answer is a stream', async () => {
    const url = sse.urls[0]!;
    const sid = await openSession(url, sse.keys.demo);
    const res = await listTools(url, sse.keys.demo, sid);
    assert.match(res.headers.get('content-type') ?? '', /text\/event-stream/);
    assert.match(res.text, /^(event: message\n)?(id: .*\n)?data: /m);
    assert.equal(res.body.result.tools.length, 13);
  });
});
