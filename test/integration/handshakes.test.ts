import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startInstances, type Instances } from '../helpers/instances.js';
import { baseHeaders, callTool, post, structured } from '../helpers/mcp-http.js';

/**
 * `initialize` is answered by a handshake server over the direct transport (no SDK HTTP transport). What a session
 * is opened with (its negotiated version, its client's capabilities and info) is each client's own, many at once,
 * and serves the session on the other instance.
 */
describe('handshakes across two instances', () => {
  let it: Instances;
  let A: string;
  let B: string;
  // Read through the other instance's session store (Redis): what any instance will restore the session from.
  const record = async (sid: string) => {
    const r = await it.servers[1]!.stores.sessions.touch(sid);
    assert.ok(r, `session ${sid} is in the store`);
    return r;
  };

  const initialize = (url: string, protocolVersion: string, capabilities: Record<string, unknown>, name: string) =>
    post(url, { jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion, capabilities, clientInfo: { name, version: '1' } } }, baseHeaders(it.keys.demo));

  before(async () => {
    it = await startInstances({ count: 2 });
    [A, B] = it.urls as [string, string];
  });
  after(() => it.stop());

  test('each session keeps the version and capabilities of its own handshake', async () => {
    const cases = [
      { v: '2025-03-26', caps: {}, name: 'plain' },
      { v: '2025-06-18', caps: { elicitation: {} }, name: 'eliciting' },
      { v: '2025-11-25', caps: { roots: { listChanged: true }, sampling: {} }, name: 'rooted' },
      { v: '1999-01-01', caps: {}, name: 'from-the-past' },
    ];
    const sids: string[] = [];
    for (const c of cases) {
      const res = await initialize(A, c.v, c.caps, c.name);
      assert.equal(res.status, 200, res.text);
      // A version the server does not speak is answered with the newest 2025-era one it does.
      assert.equal(res.body.result.protocolVersion, c.v === '1999-01-01' ? '2025-11-25' : c.v);
      assert.equal(res.body.result.serverInfo.name, 'flowpos-mcp');
      assert.ok(res.body.result.capabilities.tools);
      sids.push(res.headers.get('mcp-session-id')!);
    }
    for (const [i, c] of cases.entries()) {
      const r = await record(sids[i]!);
      assert.equal(r.protocolVersion, c.v === '1999-01-01' ? '2025-11-25' : c.v);
      assert.deepEqual(r.clientInfo, { name: c.name, version: '1' });
      assert.deepEqual(Object.keys(r.clientCapabilities).sort(), Object.keys(c.caps).sort());
    }
    // The sessions are served by the other instance, which answered none of their handshakes.
    for (const sid of sids) structured(await callTool(B, it.keys.demo, sid, 'list_businesses'));
  });

  test('concurrent handshakes on one instance do not mix their clients', async () => {
    const n = 40;
    const answers = await Promise.all(
      Array.from({ length: n }, (_, i) => initialize(B, i % 2 ? '2025-06-18' : '2025-03-26', i % 2 ? { elicitation: {} } : {}, `client-${i}`)),
    );
    for (const [i, res] of answers.entries()) {
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.result.protocolVersion, i % 2 ? '2025-06-18' : '2025-03-26');
      const r = await record(res.headers.get('mcp-session-id')!);
      assert.equal(r.clientInfo.name, `client-${i}`);
      assert.equal(r.protocolVersion, i % 2 ? '2025-06-18' : '2025-03-26');
      assert.equal('elicitation' in r.clientCapabilities, i % 2 === 1);
    }
  });

  test('a malformed handshake is refused with what it lacks, opens no session, and the next one is answered', async () => {
    const bad = await post(A, { jsonrpc: '2.0', id: 7, method: 'initialize', params: { capabilities: 'none' } }, baseHeaders(it.keys.demo));
    assert.equal(bad.status, 400);
    assert.equal(bad.body.id, 7);
    assert.equal(bad.body.error.code, -32602, bad.text);
    assert.equal(bad.body.error.data.code, 'invalid_initialize');
    assert.match(bad.body.error.message, /protocolVersion/);
    assert.equal(bad.headers.get('mcp-session-id'), null);
    const good = await initialize(A, '2025-11-25', {}, 'after-a-bad-one');
    assert.equal(good.status, 200, good.text);
    assert.equal(good.body.result.protocolVersion, '2025-11-25');
    assert.ok(good.headers.get('mcp-session-id'));
  });
});
