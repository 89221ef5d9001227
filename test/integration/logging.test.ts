import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config.js';
import { createLogger, scrubSecrets } from '../../src/http/logger.js';
import { createStores } from '../../src/state/stores.js';
import { startInstances, type Instances } from '../helpers/instances.js';
import { LogCapture, settle } from '../helpers/log-capture.js';
import { baseHeaders, callTool, LEGACY_VERSION, openSession, post } from '../helpers/mcp-http.js';

const PROJECT = 'flowpos-test-project';
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_SPAN = '00f067aa0ba902b7';
const REDIS_PASSWORD = 'Redis-Pa55word-never-logged';

/** What operators read: one Cloud Logging line per request, under its trace, and no credential anywhere. */
describe('request logs', () => {
  let s: { url: string; keys: Instances['keys']; server: Instances['servers'][number] };
  let it: Instances;
  const logs = new LogCapture();
  const secretOf = (key: string) => key.slice('fpk_'.length + 13);
  let badKey: string;

  before(async () => {
    it = await startInstances({ count: 1, env: { GOOGLE_CLOUD_PROJECT: PROJECT, LOG_LEVEL: 'info' }, serverOptions: () => ({ logStream: logs }) });
    s = { url: it.urls[0]!, keys: it.keys, server: it.servers[0]! };
    // A well-formed key of a real key id with a wrong secret: the most tempting thing to log.
    badKey = `${s.keys.demo.slice(0, 'fpk_'.length + 13)}${'Z'.repeat(32)}`;
  });
  after(() => it?.stop());

  const since = (n: number) => logs.requests().slice(n);

  test('a refused key, a good key, a session: one JSON line each, with severity, message, httpRequest, mcp and principal', async () => {
    const before = logs.requests().length;
    const refused = await post(s.url, { jsonrpc: '2.0', id: 1, method: 'ping' }, { ...baseHeaders(badKey), 'user-agent': 'log-test/1' });
    assert.equal(refused.status, 401);
    const sid = await openSession(s.url, s.keys.demo); // initialize + notifications/initialized
    const call = await callTool(s.url, s.keys.demo, sid, 'list_businesses');
    assert.equal(call.status, 200);
    const deleted = await fetch(`${s.url}/mcp`, { method: 'DELETE', headers: baseHeaders(s.keys.demo, { 'mcp-session-id': sid, 'mcp-protocol-version': LEGACY_VERSION }) });
    assert.equal(deleted.status, 204);
    await settle();

    const lines = since(before);
    assert.equal(lines.length, 5, JSON.stringify(lines, null, 1));
    for (const l of lines) {
      assert.equal(typeof l.message, 'string');
      assert.equal(typeof l.time, 'string');
      assert.match(l.httpRequest.latency, /^\d+(\.\d+)?s$/);
      assert.equal(l.httpRequest.remoteIp, '127.0.0.1');
      assert.equal(l.httpRequest.requestUrl, '/mcp');
    }
    const [bad, init, initialized, tool, del] = lines as [any, any, any, any, any]; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(bad.severity, 'INFO');
    assert.deepEqual(
      { method: bad.httpRequest.requestMethod, status: bad.httpRequest.status, ua: bad.httpRequest.userAgent, error: bad.error, principal: bad.principal },
      { method: 'POST', status: 401, ua: 'log-test/1', error: 'invalid_token', principal: undefined },
    );
    const keyId = s.keys.demo.slice(4, 16);
    assert.deepEqual(init.mcp, { method: 'initialize', era: 'legacy', sessionId: sid });
    assert.deepEqual(init.principal, { uid: 'demo-user', credentialId: keyId });
    assert.equal(init.httpRequest.status, 200);
    assert.ok(Number(init.httpRequest.responseSize) > 0, 'responseSize when known');
    assert.equal(initialized.mcp.method, 'notifications/initialized');
    assert.deepEqual(tool.mcp, { sessionId: sid, method: 'tools/call', tool: 'list_businesses', era: 'legacy' });
    assert.equal(tool.message, 'POST /mcp 200 tools/call list_businesses');
    assert.deepEqual({ method: del.httpRequest.requestMethod, status: del.httpRequest.status, sid: del.mcp.sessionId }, { method: 'DELETE', status: 204, sid });
  });

  test('traceparent and X-Cloud-Trace-Context put the line under its trace in the configured project', async () => {
    const before = logs.requests().length;
    await post(s.url, { jsonrpc: '2.0', id: 1, method: 'ping' }, baseHeaders(s.keys.demo, { traceparent: `00-${TRACE_ID}-${PARENT_SPAN}-01` }));
    await post(s.url, { jsonrpc: '2.0', id: 2, method: 'ping' }, baseHeaders(s.keys.demo, { 'x-cloud-trace-context': `${TRACE_ID.replace('4bf9', 'abcd')}/12345;o=0` }));
    await post(s.url, { jsonrpc: '2.0', id: 3, method: 'ping' }, baseHeaders(s.keys.demo, { traceparent: '00-zzzz-not-a-trace' }));
    await settle();
    const [w3c, cloud, none] = since(before) as [any, any, any]; // eslint-disable-line @typescript-eslint/no-explicit-any
    assert.equal(w3c['logging.googleapis.com/trace'], `projects/${PROJECT}/traces/${TRACE_ID}`);
    assert.equal(w3c['logging.googleapis.com/spanId'], PARENT_SPAN);
    assert.equal(w3c['logging.googleapis.com/trace_sampled'], true);
    assert.equal(cloud['logging.googleapis.com/trace'], `projects/${PROJECT}/traces/${TRACE_ID.replace('4bf9', 'abcd')}`);
    assert.equal(cloud['logging.googleapis.com/spanId'], (12345).toString(16).padStart(16, '0'));
    assert.equal(cloud['logging.googleapis.com/trace_sampled'], false);
    assert.equal(none['logging.googleapis.com/trace'], undefined, 'a malformed traceparent is ignored');
  });

  test('no line carries a key secret, a Bearer value, a token in a URL or a Redis password', async () => {
    // Credentials where a careless log call would print them: headers, error messages and stacks, query strings.
    const err = new Error(`cannot reach redis://default:${REDIS_PASSWORD}@10.0.0.3:6379 for ${s.keys.demo}`);
    s.server.app.log.error({ err, headers: { authorization: `Bearer ${s.keys.demo}` }, req: { headers: { authorization: `Bearer ${badKey}` } } }, 'simulated failure');
    s.server.app.log.warn({ detail: `Authorization: Bearer ${secretOf(s.keys.demo)}`, password: REDIS_PASSWORD }, 'simulated warning');
    const probe = await fetch(`${s.url}/nowhere?token=${secretOf(s.keys.demo)}&password=${REDIS_PASSWORD}`, { headers: { authorization: `Bearer ${s.keys.demo}` } });
    assert.equal(probe.status, 404);
    // A configuration error naming a Redis URL with a password, as the CLI would log it.
    let configError: unknown;
    try {
      loadConfig({ REDIS_URL: `redis://:${REDIS_PASSWORD}@redis.internal:notaport` });
    } catch (e) {
      configError = e;
    }
    assert.ok(configError instanceof ConfigError);
    s.server.app.log.error({ err: configError }, 'bad configuration');
    await settle();

    const text = logs.lines.join('\n');
    for (const secret of [secretOf(s.keys.demo), secretOf(s.keys.demo2), secretOf(badKey), REDIS_PASSWORD]) {
      assert.ok(!text.includes(secret), `a log line contains ${secret.slice(0, 6)}…`);
    }
    assert.doesNotMatch(text, /Bearer (?!\[redacted\])/, 'every Bearer value is redacted');
    const failure = logs.json().find((l) => l.message === 'simulated failure')!;
    assert.equal(failure.severity, 'ERROR');
    assert.match(failure.err.message, /redis:\/\/default:\[redacted\]@10\.0\.0\.3:6379/);
    assert.match(failure.err.message, new RegExp(`fpk_${s.keys.demo.slice(4, 16)}_\\[redacted\\]`), 'the key id stays, to find the key');
    assert.equal(failure.headers.authorization, '[redacted]');
    const nowhere = logs.requests().find((l) => l.httpRequest.requestUrl.startsWith('/nowhere'))!;
    assert.equal(nowhere.httpRequest.requestUrl, '/nowhere?token=[redacted]&password=[redacted]');
  });

  test('Redis unreachable at start-up: the connection problems and the failure are logged without the password', async () => {
    const startup = new LogCapture();
    const logger = createLogger({ level: 'info', stream: startup });
    const config = loadConfig({ NODE_ENV: 'test', REDIS_URL: `redis://default:${REDIS_PASSWORD}@127.0.0.1:1` });
    // As the server starts its stores (app.ts), with a shorter deadline. Port 1 on loopback refuses at once.
    const failed = await createStores({
      redisUrl: config.redisUrl!,
      keyPrefix: 'log-test:',
      sessionIdleTtlMs: 60_000,
      cartTtlMs: 60_000,
      maxLineQuantity: 10,
      maxLines: 10,
      preferenceTtlMs: 60_000,
      startupTimeoutMs: 800,
      onRedisError: (err) => logger.warn({ err: err.message }, 'redis connection problem'),
    }).then(
      () => assert.fail('connected to nothing'),
      (e: unknown) => e as Error,
    );
    logger.fatal({ err: failed }, 'start-up failed');
    await settle();
    assert.ok(startup.lines.some((l) => l.includes('redis connection problem')), 'connection problems were logged');
    assert.ok(!`${failed.message}\n${failed.stack}`.includes(REDIS_PASSWORD), 'the error itself names no password');
    assert.ok(!startup.lines.join('\n').includes(REDIS_PASSWORD));
    assert.equal(startup.json().at(-1)?.severity, 'CRITICAL');
  });

  test('scrubSecrets masks credential-shaped text and leaves the rest alone', () => {
    const key = `fpk_abcdefghijk2_${'S'.repeat(30)}-_`;
    assert.equal(scrubSecrets(`key ${key} used`), 'key fpk_abcdefghijk2_[redacted] used');
    assert.equal(scrubSecrets('Authorization: Bearer eyJhbGciOiJI.eyJzdWIiOiIx.c2ln'), 'Authorization: Bearer [redacted]');
    assert.equal(scrubSecrets('id token eyJhbGciOiJIUzI1.eyJzdWIiOiIxMjM0.abc_def-123 here'), 'id token [redacted] here');
    assert.equal(scrubSecrets('postgres://app:s3cr3t@db:5432/pos'), 'postgres://app:[redacted]@db:5432/pos');
    assert.equal(scrubSecrets('/cb?code=abc&state=x&client_secret=y'), '/cb?code=[redacted]&state=x&client_secret=[redacted]');
    const plain = 'POST /mcp 200 tools/call add_item_to_cart {"sku":"COF-LATTE-12","quantity":2} redis://127.0.0.1:6379';
    assert.equal(scrubSecrets(plain), plain);
  });
});
