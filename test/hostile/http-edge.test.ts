import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { baseHeaders, LEGACY_VERSION, MODERN_VERSION } from '../helpers/mcp-http.js';
import {
  assertAlive,
  assertEveryKeyExpires,
  CaseCounter,
  head,
  legacyHeaders,
  MODERN_META,
  modernHeaders,
  postBounded,
  rawHttp,
  rawSocket,
  startBench,
  type Bench,
  type Snapshot,
} from './support.js';

/**
 * Hand-written hostile requests at the HTTP edge: broken JSON, wrong media types, oversized and absurdly nested
 * bodies, batches, unknown methods, odd protocol versions, forged Host/Origin, session ids no client could have
 * been given, and HTTP framing a proxy would never pass. Each case names the exact status and JSON-RPC code it
 * must get; all of them together must leave the state exactly as it was, and both instances alive.
 */

type Context = 'session' | 'no-session' | 'modern';
interface Expect {
  status: number;
  /**
   * The JSON-RPC error code(s) the body may carry; 'parser': a refusal by the HTTP parser itself, whose body is
   * not JSON-RPC; 'tool': a 200 whose body is a tool error or a JSON-RPC error (how the SDK refuses arguments).
   */
  rpc: number | number[] | 'parser' | 'tool';
}
interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  text: string;
}

const counter = new CaseCounter('http-edge');
let b: Bench;
let before_: Snapshot;

const PING = '{"jsonrpc":"2.0","id":1,"method":"ping"}';
const INIT = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: LEGACY_VERSION, capabilities: {}, clientInfo: { name: 'h', version: '1' } } });
const modernBody = (method: string, params: Record<string, unknown> = {}) => JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { ...params, _meta: MODERN_META } });
const deep = (open: string, close: string, inner: string, depth: number) => open.repeat(depth) + inner + close.repeat(depth);

function headersFor(ctx: Context, extra: Record<string, string> = {}, modernMethod = 'tools/list'): Record<string, string> {
  if (ctx === 'session') return legacyHeaders(b.key, b.sid, extra);
  if (ctx === 'modern') return modernHeaders(b.key, modernMethod, undefined, extra);
  return baseHeaders(b.key, extra);
}

async function expectCase(what: string, expect: Expect, send: () => Promise<Answer>, failures: string[]): Promise<void> {
  counter.add(what);
  let res: Answer;
  try {
    res = await send();
  } catch (err) {
    failures.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    return;
  }
  const got = `${res.status} ${res.text.slice(0, 200)}`;
  if (res.status >= 500) failures.push(`${what}: a 5xx: ${got}`);
  else if (res.status !== expect.status) failures.push(`${what}: expected ${expect.status}, got ${got}`);
  else if (expect.rpc === 'parser') {
    if (res.body?.jsonrpc === '2.0' && res.body?.error === undefined) failures.push(`${what}: not a refusal: ${got}`);
  } else if (expect.rpc === 'tool') {
    const refused = res.body?.jsonrpc === '2.0' && (res.body.result?.isError === true || typeof res.body.error?.code === 'number');
    if (!refused) failures.push(`${what}: expected a tool error or a JSON-RPC error, got ${got}`);
  } else {
    const codes = Array.isArray(expect.rpc) ? expect.rpc : [expect.rpc];
    if (res.body?.jsonrpc !== '2.0' || !codes.includes(res.body?.error?.code) || typeof res.body.error.message !== 'string') {
      failures.push(`${what}: expected JSON-RPC error ${codes.join(' or ')}, got ${got}`);
    }
  }
}

const post = (ctx: Context, body: string | Buffer, extra: Record<string, string> = {}, modernMethod?: string) => () =>
  postBounded(b.next(), body, headersFor(ctx, extra, modernMethod), 'request');

describe('hostile input at the HTTP edge', { timeout: 85_000 }, () => {
  before(async () => {
    b = await startBench();
    before_ = await b.snapshot();
  });
  after(() => b?.stop());

  test('bodies that are not JSON → 400 parse error (-32700), in every context', async () => {
    const failures: string[] = [];
    const bodies: [string, string | Buffer][] = [
      ['truncated object', '{"jsonrpc":"2.0",'],
      ['truncated request', PING.slice(0, -1)],
      ['lone brace', '{'],
      ['lone closing brace', '}'],
      ['lone bracket', '['],
      ['bare word', 'nul'],
      ['undefined', 'undefined'],
      ['single quotes', "{'jsonrpc':'2.0'}"],
      ['trailing comma', '{"jsonrpc":"2.0","id":1,}'],
      ['leading zero', '{"id":01}'],
      ['NaN literal', '{"jsonrpc":"2.0","id":NaN,"method":"ping"}'],
      ['Infinity literal', '{"jsonrpc":"2.0","id":Infinity,"method":"ping"}'],
      ['raw control char in string', '{"jsonrpc":"2.0","id":"a\u0001b","method":"ping"}'],
      ['bad escape', '{"method":"\\x41"}'],
      ['comment', '// hello\n{}'],
      ['two objects', '{"a":1}{"b":2}'],
      ['trailing garbage', `${PING} x`],
      ['byte order mark', `\ufeff${PING}`],
      ['UTF-16 body', Buffer.from(PING, 'utf16le')],
      ['UTF-32-ish body', Buffer.concat([...PING].map((c) => Buffer.from([0, 0, 0, c.charCodeAt(0)])))],
      ['NUL byte', '\u0000'],
      ['invalid UTF-8 between tokens', Buffer.from([0x7b, 0xff, 0xfe, 0x7d])],
      ['only whitespace', '   \n\t '],
      ['deep array 100,000 unterminated', '['.repeat(100_000)],
      ['unquoted key', '{jsonrpc:"2.0"}'],
    ];
    for (const ctx of ['session', 'no-session', 'modern'] as const) {
      for (const [name, body] of bodies) await expectCase(`not JSON: ${name} (${ctx})`, { status: 400, rpc: -32700 }, post(ctx, body), failures);
      await expectCase(`not JSON: empty body (${ctx})`, { status: 400, rpc: -32700 }, post(ctx, ''), failures);
    }
    assert.deepEqual(failures, []);
  });

  test('JSON that is not one JSON-RPC message → 400 invalid request (-32600)', async () => {
    const failures: string[] = [];
    const bodies: [string, string][] = [
      ['number', '42'],
      ['string', '"x"'],
      ['null', 'null'],
      ['true', 'true'],
      ['empty object', '{}'],
      ['unrelated object', '{"hello":"world"}'],
      ['jsonrpc 1.0', '{"jsonrpc":"1.0","id":1,"method":"ping"}'],
      ['jsonrpc number', '{"jsonrpc":2.0,"id":1,"method":"ping"}'],
      ['no jsonrpc', '{"id":1,"method":"ping"}'],
      ['method number', '{"jsonrpc":"2.0","id":1,"method":5}'],
      ['method null', '{"jsonrpc":"2.0","id":1,"method":null}'],
      ['id object', '{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}'],
      ['id array', '{"jsonrpc":"2.0","id":[1],"method":"ping"}'],
      ['id true', '{"jsonrpc":"2.0","id":true,"method":"ping"}'],
      ['id null', '{"jsonrpc":"2.0","id":null,"method":"ping"}'],
      ['id 1e400', '{"jsonrpc":"2.0","id":1e400,"method":"ping"}'],
      ['id 30 digits', '{"jsonrpc":"2.0","id":123456789012345678901234567890,"method":"ping"}'],
      ['id fraction', '{"jsonrpc":"2.0","id":1.5,"method":"ping"}'],
      ['params string', '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":"x"}'],
      ['params array', '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":[1]}'],
      ['params number', '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":5}'],
      ['params null', '{"jsonrpc":"2.0","id":1,"method":"tools/list","params":null}'],
      ['__proto__ key', '{"jsonrpc":"2.0","id":1,"method":"ping","__proto__":{"admin":true}}'],
      ['constructor.prototype key', '{"jsonrpc":"2.0","id":1,"method":"ping","constructor":{"prototype":{"admin":true}}}'],
      ['deep object 10,000 as id', `{"jsonrpc":"2.0","id":${deep('{"a":', '}', '1', 10_000)},"method":"ping"}`],
      ['deep array 10,000 as method', `{"jsonrpc":"2.0","id":1,"method":${deep('[', ']', '', 10_000)}}`],
      ['deep object 10,000 as params', `{"jsonrpc":"2.0","id":1,"method":"tools/list","params":${deep('[', ']', '', 10_000)}}`],
      ['deep object 10,000 as the body', deep('{"a":', '}', '1', 10_000)],
      ['huge array as id', `{"jsonrpc":"2.0","id":[${'1,'.repeat(100_000)}1],"method":"ping"}`],
      ['result and method together', '{"jsonrpc":"2.0","id":1,"method":"ping","result":{}}'],
      ['response with result and error', '{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"x"}}'],
      ['error response without code', '{"jsonrpc":"2.0","id":1,"error":{"message":"x"}}'],
    ];
    for (const [name, body] of bodies) await expectCase(`not JSON-RPC: ${name} (session)`, { status: 400, rpc: -32600 }, post('session', body), failures);
    // Without a session a non-initialize message is refused for that first, and precisely.
    for (const [name, body] of bodies.slice(0, 6)) await expectCase(`not JSON-RPC: ${name} (no-session)`, { status: 400, rpc: -32600 }, post('no-session', body), failures);
    for (const [name, body] of bodies.slice(0, 6)) await expectCase(`not JSON-RPC: ${name} (modern)`, { status: 400, rpc: -32600 }, post('modern', body), failures);
    assert.deepEqual(failures, []);
  });

  test('batches → 400 batch not supported, whatever they hold', async () => {
    const failures: string[] = [];
    const batches: [string, string][] = [
      ['empty', '[]'],
      ['one initialize', `[${INIT}]`],
      ['two pings', `[${PING},${PING}]`],
      ['one notification', '[{"jsonrpc":"2.0","method":"notifications/initialized"}]'],
      ['nested', '[[]]'],
      ['numbers', '[1,2,3]'],
      ['deep 10,000', deep('[', ']', '', 10_000)],
      ['100,000 entries', `[${'{},'.repeat(100_000)}{}]`],
      ['tool call', `[${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'clear_cart', arguments: { cart_id: 'hostile-a' } } })}]`],
    ];
    for (const ctx of ['session', 'no-session', 'modern'] as const) {
      for (const [name, body] of batches) await expectCase(`batch: ${name} (${ctx})`, { status: 400, rpc: -32600 }, post(ctx, body), failures);
    }
    assert.deepEqual(failures, []);
  });

  test('wrong or missing Content-Type → 415; Accept without both types → 406 (2025-era)', async () => {
    const failures: string[] = [];
    const types = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/jsonx', 'text/json', 'application/xml', 'json', 'application/octet-stream'];
    for (const ctx of ['session', 'no-session', 'modern'] as const) {
      for (const type of types) await expectCase(`content-type ${type} (${ctx})`, { status: 415, rpc: -32000 }, post(ctx, PING, { 'content-type': type }), failures);
      await expectCase(`content-type missing (${ctx})`, { status: 415, rpc: -32000 }, () => {
        const headers = headersFor(ctx);
        delete headers['content-type'];
        return postBounded(b.next(), PING, headers, 'no content-type');
      }, failures);
    }
    const accepts = ['application/json', 'text/event-stream', '*/*', 'text/html', 'application/*', 'application/json-seq, text/event-stream-x'];
    for (const accept of accepts) {
      await expectCase(`accept ${accept} (session)`, { status: 406, rpc: -32000 }, post('session', PING, { accept }), failures);
      await expectCase(`accept ${accept} (initialize)`, { status: 406, rpc: -32000 }, post('no-session', INIT, { accept }), failures);
    }
    await expectCase('accept missing (session)', { status: 406, rpc: -32000 }, () => {
      const headers = headersFor('session');
      delete headers.accept;
      return postBounded(b.next(), PING, headers, 'no accept');
    }, failures);
    assert.deepEqual(failures, []);
  });

  test('bodies over the limit → 413, including a lying Content-Length', async () => {
    const failures: string[] = [];
    const big = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/call', params: { name: 'add_item_to_cart', arguments: { sku: 'x'.repeat(1024 * 1024), quantity: 1 } } });
    for (const ctx of ['session', 'no-session', 'modern'] as const) {
      await expectCase(`over the limit (${ctx})`, { status: 413, rpc: -32000 }, post(ctx, big), failures);
      await expectCase(`over the limit, 8 MiB (${ctx})`, { status: 413, rpc: -32000 }, post(ctx, Buffer.alloc(8 * 1024 * 1024, 0x20)), failures);
    }
    const A = b.urls[0];
    await expectCase('Content-Length 2,000,000 announced, nothing sent', { status: 413, rpc: -32000 }, () =>
      rawSocket(A, head(A, [`Authorization: Bearer ${b.key}`, 'Content-Type: application/json', 'Accept: application/json, text/event-stream']).replace('Content-Length: 0', 'Content-Length: 2000000')),
    failures);
    assert.deepEqual(failures, []);
  });

  test('absurd nesting and sizes inside otherwise valid calls → refused, never a crash', async () => {
    const failures: string[] = [];
    const tool = (name: string, args: string) => `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"${name}","arguments":${args}}}`;
    const cases: [string, string][] = [
      ['sku nested 10,000 deep', tool('add_item_to_cart', `{"sku":${deep('[', ']', '', 10_000)},"quantity":1}`)],
      ['quantity nested 10,000 deep', tool('add_item_to_cart', `{"sku":"COF-LATTE-12","quantity":${deep('{"a":', '}', '1', 10_000)}}`)],
      ['cart_id nested 10,000 deep', tool('clear_cart', `{"cart_id":${deep('{"a":', '}', '1', 10_000)}}`)],
      ['business_id nested 10,000 deep', tool('set_active_business', `{"business_id":${deep('[', ']', '"biz_corner_coffee"', 10_000)}}`)],
      ['arguments nested 10,000 deep', tool('checkout', deep('[', ']', '', 10_000))],
      ['sku as 200,000-element array', tool('add_item_to_cart', `{"sku":[${'1,'.repeat(200_000)}1],"quantity":1}`)],
      ['quantity as 100,000-element array', tool('update_cart_item', `{"sku":"COF-LATTE-12","quantity":[${'1,'.repeat(100_000)}1]}`)],
      ['sku of 500,000 characters', tool('add_item_to_cart', `{"sku":"${'A'.repeat(500_000)}","quantity":1}`)],
      ['idempotency key of 500,000 characters', tool('checkout', `{"idempotency_key":"${'k'.repeat(500_000)}"}`)],
      ['order id of 100,000 characters', tool('get_order', `{"order_id":"${'o'.repeat(100_000)}"}`)],
      ['tool name nested', `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":${deep('[', ']', '', 10_000)}}}`],
      ['tool name of 200,000 characters', `{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"${'n'.repeat(200_000)}","arguments":{}}}`],
      ['arguments with 50,000 keys', tool('add_item_to_cart', `{${Array.from({ length: 50_000 }, (_, i) => `"k${i}":${i}`).join(',')}}`)],
      ['resources/read uri nested', `{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":${deep('[', ']', '', 10_000)}}}`],
    ];
    // Bytes that are not UTF-8 inside string values: decoded as U+FFFD, which no identifier pattern admits.
    const bytes = (prefix: string, raw: number[], suffix: string) => Buffer.concat([Buffer.from(prefix), Buffer.from(raw), Buffer.from(suffix)]);
    const nonUtf8: [string, Buffer][] = [
      ['sku with 0xFF 0xFE', bytes('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_item_to_cart","arguments":{"sku":"COF-', [0xff, 0xfe], '","quantity":1}}}')],
      ['sku with an overlong slash (0xC0 0xAF)', bytes('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_item_to_cart","arguments":{"sku":"COF', [0xc0, 0xaf], 'x","quantity":1}}}')],
      ['cart id with a lone continuation byte', bytes('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"clear_cart","arguments":{"cart_id":"hostile-a', [0x80], '"}}}')],
      ['business id in Latin-1', bytes('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"set_active_business","arguments":{"business_id":"biz_caf', [0xe9], '"}}}')],
      ['idempotency key with an encoded surrogate (0xED 0xA0 0x80)', bytes('{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"checkout","arguments":{"cart_id":"hostile-b","idempotency_key":"k', [0xed, 0xa0, 0x80], '"}}}')],
    ];
    for (const [name, body] of nonUtf8) await expectCase(`non-UTF-8: ${name} (session)`, { status: 200, rpc: 'tool' }, post('session', body), failures);
    for (const [name, body] of cases) {
      // The session answers a bad argument as a tool error or -32602 (both with status 200).
      await expectCase(`nesting: ${name} (session)`, { status: 200, rpc: 'tool' }, post('session', body), failures);
    }
    assert.deepEqual(failures, []);
    // These are refusals: nothing of them may have been applied (checked by the state comparison at the end).
  });

  test('unknown methods, prototype names as methods, notifications with ids', async () => {
    const failures: string[] = [];
    const methods = ['no/such/method', 'tools/delete', 'Tools/List', 'tools/list ', '', 'rpc.discover', '__proto__', 'constructor', 'toString', 'hasOwnProperty', 'valueOf', 'tools/call/', '../tools/list', 'sampling/createMessage', 'elicitation/create', 'roots/list'];
    for (const method of methods) {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 7, method });
      await expectCase(`unknown method ${JSON.stringify(method)} (session)`, { status: 200, rpc: -32601 }, post('session', body), failures);
    }
    for (const method of ['no/such/method', 'toString', '__proto__', 'constructor']) {
      await expectCase(`unknown method ${JSON.stringify(method)} (modern)`, { status: 404, rpc: -32601 }, post('modern', modernBody(method), {}, method), failures);
    }
    for (const method of ['notifications/initialized', 'notifications/cancelled', 'notifications/progress', 'notifications/roots/list_changed', 'notifications/message']) {
      const body = JSON.stringify({ jsonrpc: '2.0', id: 9, method, params: {} });
      await expectCase(`notification ${method} sent with an id (session)`, { status: 200, rpc: -32601 }, post('session', body), failures);
    }
    assert.deepEqual(failures, []);
  });

  test('wrong or unsupported MCP-Protocol-Version', async () => {
    const failures: string[] = [];
    // A version header the SDK does not know as 2025-era sends the request down the 2026-07-28 path, whose
    // refusal is -32602 (no per-request envelope); a date-shaped one is refused by the session layer (-32000).
    for (const version of ['1999-01-01', 'garbage', '2025-11-25x', '../../etc/passwd', "2025-11-25'; --", 'x'.repeat(5000)]) {
      await expectCase(`version ${version.slice(0, 30)} (session)`, { status: 400, rpc: [-32000, -32602] }, post('session', PING, { 'mcp-protocol-version': version }), failures);
    }
    {
      // Supported but not the negotiated version: served under the negotiated one (as the SDK's transport does).
      const what = 'an earlier supported version inside a session (2025-03-26)';
      counter.add(what);
      const res = await post('session', PING, { 'mcp-protocol-version': '2025-03-26' })();
      if (res.status !== 200 || res.body?.result === undefined) failures.push(`${what}: expected 200 with a result, got ${res.status} ${res.text.slice(0, 200)}`);
    }
    await expectCase('two versions in one header', { status: 400, rpc: -32000 }, post('session', PING, { 'mcp-protocol-version': `${LEGACY_VERSION}, 2025-06-18` }), failures);
    // A modern version header on a 2025-era body lacks the per-request envelope (-32602); on initialize it is a
    // header/body disagreement (-32020). Both are the SDK's answers.
    await expectCase('modern version header on a session request', { status: 400, rpc: -32602 }, post('session', PING, { 'mcp-protocol-version': MODERN_VERSION }), failures);
    await expectCase('modern version header on initialize', { status: 400, rpc: -32020 }, post('no-session', INIT, { 'mcp-protocol-version': MODERN_VERSION }), failures);
    await expectCase('unknown version on initialize', { status: 400, rpc: -32020 }, post('no-session', INIT, { 'mcp-protocol-version': 'garbage' }), failures);
    await expectCase('modern body without the version header', { status: 400, rpc: -32020 }, post('no-session', modernBody('tools/list')), failures);
    await expectCase('modern body, Mcp-Method header names another method', { status: 400, rpc: -32020 }, post('modern', modernBody('tools/list'), {}, 'tools/call'), failures);
    await expectCase('modern body, Mcp-Name header names another tool', { status: 400, rpc: -32020 }, () =>
      postBounded(b.next(), modernBody('tools/call', { name: 'view_cart', arguments: {} }), modernHeaders(b.key, 'tools/call', 'clear_cart'), 'mcp-name mismatch'),
    failures);
    await expectCase('modern envelope with wrong types', { status: 400, rpc: -32602 }, post('modern', JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'tools/list', params: { _meta: { 'io.modelcontextprotocol/protocolVersion': 5 } } })), failures);
    assert.deepEqual(failures, []);
  });

  test('forged Origin and Host (DNS rebinding) → 403', async () => {
    const failures: string[] = [];
    const origins = ['https://evil.example', 'null', 'file://', 'http://127.0.0.1.evil.example', 'http://localhost.evil.example', 'http://evil.example:80', 'chrome-extension://abc', 'http://[::1].evil.example', 'http://127.0.0.1.nip.io:4000'];
    for (const origin of origins) {
      await expectCase(`origin ${origin} (initialize)`, { status: 403, rpc: -32000 }, post('no-session', INIT, { origin }), failures);
      await expectCase(`origin ${origin} (session)`, { status: 403, rpc: -32000 }, post('session', PING, { origin }), failures);
    }
    const hosts = ['evil.example', 'evil.example:4000', '127.0.0.1.evil.example', 'localhost.evil.example', 'localhost@evil.example', '[::1].evil.example', 'LOCALHOST.evil.example:80', '0.0.0.0'];
    for (const host of hosts) {
      await expectCase(`host ${host} (initialize)`, { status: 403, rpc: -32000 }, () => rawHttp(b.next(), { headers: { ...baseHeaders(b.key), host }, body: INIT }), failures);
      await expectCase(`host ${host} (GET stream)`, { status: 403, rpc: -32000 }, () =>
        rawHttp(b.next(), { method: 'GET', headers: { authorization: `Bearer ${b.key}`, accept: 'text/event-stream', 'mcp-session-id': b.sid, host } }),
      failures);
    }
    assert.deepEqual(failures, []);
  });

  test('session ids no client was given: too long, not visible ASCII, CR/LF, unknown → 400 or 404, never a session', async () => {
    const failures: string[] = [];
    const malformed: [string, string][] = [
      ['129 characters', 'a'.repeat(129)],
      ['8,000 characters', 's'.repeat(8000)],
      ['empty', ''],
      ['a space', 'ab cd'],
      ['trailing comma list', `${'a'.repeat(10)}, ${'b'.repeat(10)}`],
    ];
    const unknown: [string, string][] = [
      ['well-formed, unknown', 'AAAAAAAAAAAAAAAAAAAAAA'],
      ['Redis glob and hash tag', '{x}*:%'],
      ['path traversal', '../../session'],
      ['quote and comment', "x';--"],
      ['128 characters', 'z'.repeat(128)],
    ];
    unknown.push(['the real id with a suffix', `${b.sid}x`], ['the real id in upper case', b.sid.toUpperCase() === b.sid ? `${b.sid}Q` : b.sid.toUpperCase()]);
    const methods = ['POST', 'GET', 'DELETE'] as const;
    const send = (method: (typeof methods)[number], sid: string) => () =>
      method === 'POST'
        ? postBounded(b.next(), PING, legacyHeaders(b.key, sid), 'session id')
        : rawHttp(b.next(), { method, headers: { authorization: `Bearer ${b.key}`, accept: 'text/event-stream', 'mcp-session-id': sid } });
    for (const method of methods) {
      for (const [name, sid] of malformed) await expectCase(`session id ${name} (${method})`, { status: 400, rpc: -32000 }, send(method, sid), failures);
      for (const [name, sid] of unknown) await expectCase(`session id ${name} (${method})`, { status: 404, rpc: -32001 }, send(method, sid), failures);
    }
    // What fetch and node:http refuse to send goes straight onto a socket.
    const A = b.urls[0];
    const withSid = (bytes: string) => () =>
      rawSocket(A, head(A, [`Authorization: Bearer ${b.key}`, 'Content-Type: application/json', 'Accept: application/json, text/event-stream', `Mcp-Session-Id: ${bytes}`], PING), PING);
    await expectCase('session id with Latin-1 bytes', { status: 400, rpc: -32000 }, withSid('ab\xe9cd'), failures);
    await expectCase('session id with a tab', { status: 400, rpc: -32000 }, withSid('ab\tcd'), failures);
    await expectCase('session id with DEL', { status: 400, rpc: 'parser' }, withSid('ab\x7fcd'), failures);
    await expectCase('session id with raw UTF-8', { status: 400, rpc: -32000 }, () =>
      rawSocket(A, Buffer.concat([Buffer.from(head(A, [`Authorization: Bearer ${b.key}`, 'Content-Type: application/json', 'Accept: application/json, text/event-stream'], PING).slice(0, -2), 'latin1'), Buffer.from('Mcp-Session-Id: caf\u00e9\u{1f600}\r\n\r\n', 'utf8')]), PING),
    failures);
    // CR, LF and NUL cannot be inside a header value: the HTTP parser refuses the request (400, not JSON-RPC).
    await expectCase('session id with CR', { status: 400, rpc: 'parser' }, withSid(`${b.sid}\rX-Injected: 1`), failures);
    await expectCase('session id with LF (header injection)', { status: 400, rpc: 'parser' }, withSid(`${b.sid}\nX-Injected: 1`), failures);
    await expectCase('session id with NUL', { status: 400, rpc: 'parser' }, withSid(`${b.sid}\x00`), failures);
    await expectCase('the real session id twice', { status: 400, rpc: -32000 }, () =>
      rawSocket(A, head(A, [`Authorization: Bearer ${b.key}`, 'Content-Type: application/json', 'Accept: application/json, text/event-stream', `Mcp-Session-Id: ${b.sid}`, `Mcp-Session-Id: ${b.sid}`], PING), PING),
    failures);
    assert.deepEqual(failures, []);
  });

  test('HTTP framing no proxy would pass → a 4xx from the parser, and the instance carries on', async () => {
    const failures: string[] = [];
    const A = b.urls[0];
    const auth = [`Authorization: Bearer ${b.key}`, 'Content-Type: application/json', 'Accept: application/json, text/event-stream'];
    const requestLine = (lines: string[]) => [...lines, '', ''].join('\r\n');
    const cases: [string, number, string, string][] = [
      ['Content-Length and Transfer-Encoding together', 400, requestLine(['POST /mcp HTTP/1.1', 'Host: localhost', 'Connection: close', 'Content-Length: 4', 'Transfer-Encoding: chunked', ...auth]), '0\r\n\r\n'],
      ['bad chunk size', 400, requestLine(['POST /mcp HTTP/1.1', 'Host: localhost', 'Connection: close', 'Transfer-Encoding: chunked', ...auth]), 'zz\r\nabc\r\n0\r\n\r\n'],
      ['Content-Length shorter than the body', 400, requestLine(['POST /mcp HTTP/1.1', 'Host: localhost', 'Connection: close', 'Content-Length: 3', ...auth]), PING],
      ['negative Content-Length', 400, requestLine(['POST /mcp HTTP/1.1', 'Host: localhost', 'Connection: close', 'Content-Length: -1', ...auth]), PING],
      ['non-numeric Content-Length', 400, requestLine(['POST /mcp HTTP/1.1', 'Host: localhost', 'Connection: close', 'Content-Length: abc', ...auth]), PING],
      ['two different Content-Lengths', 400, requestLine(['POST /mcp HTTP/1.1', 'Host: localhost', 'Connection: close', 'Content-Length: 5', `Content-Length: ${PING.length}`, ...auth]), PING],
      ['header line without a colon', 400, requestLine(['POST /mcp HTTP/1.1', 'Host: localhost', 'Connection: close', 'NoColonHere', `Content-Length: ${PING.length}`, ...auth]), PING],
      ['obsolete line folding', 400, requestLine(['POST /mcp HTTP/1.1', 'Host: localhost', 'Connection: close', 'Mcp-Session-Id: abc', ' def', `Content-Length: ${PING.length}`, ...auth]), PING],
      ['garbage request line', 400, requestLine(['FLOWPOS!! /mcp HTTP/1.1', 'Host: localhost', 'Connection: close']), ''],
      ['space in the target', 400, requestLine(['POST /m cp HTTP/1.1', 'Host: localhost', 'Connection: close', `Content-Length: ${PING.length}`, ...auth]), PING],
      ['HTTP/2.0 on an HTTP/1 port', 400, requestLine(['POST /mcp HTTP/2.0', 'Host: localhost', 'Connection: close', `Content-Length: ${PING.length}`, ...auth]), PING],
      ['100 KB header', 431, requestLine(['POST /mcp HTTP/1.1', 'Host: localhost', 'Connection: close', `X-Big: ${'a'.repeat(100_000)}`, `Content-Length: ${PING.length}`, ...auth]), PING],
    ];
    for (const [name, status, headBytes, body] of cases) await expectCase(`framing: ${name}`, { status, rpc: 'parser' }, () => rawSocket(A, headBytes, body), failures);
    for (const method of ['PUT', 'PATCH', 'TRACE', 'PROPFIND']) {
      await expectCase(`method ${method} /mcp`, { status: 404, rpc: -32000 }, () => rawHttp(b.next(), { method, headers: { ...legacyHeaders(b.key, b.sid), 'content-length': String(PING.length) }, body: PING }), failures);
    }
    assert.deepEqual(failures, []);
  });

  test('afterwards: both instances answer /health, nothing changed, and every Redis key expires', async () => {
    await assertAlive(b.urls);
    assert.deepEqual(await b.snapshot(), before_);
    const keys = await assertEveryKeyExpires(b);
    assert.ok(keys > 0, 'the battery left keys to check');
    counter.report(250);
  });
});
