import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { isJSONRPCNotification, isJSONRPCRequest, isJSONRPCResponse } from '@modelcontextprotocol/server';
import fc from 'fast-check';
import { baseHeaders } from '../helpers/mcp-http.js';
import { assertAlive, assertEveryKeyExpires, CaseCounter, legacyHeaders, modernHeaders, postBounded, startBench, type Bench, type Snapshot } from './support.js';

/**
 * Property-based fuzzing of whole JSON-RPC bodies, sent alternately to both instances in three contexts (inside a
 * 2025-era session, without one, and as a 2026-07-28 stateless request): arbitrary JSON, and near-miss JSON-RPC
 * messages whose every part (jsonrpc, id of every JSON type including null, objects and numbers no double can
 * hold, method, params) may be wrong. The properties:
 * - an answer within the time bound, never a 5xx;
 * - a request that can be answered (a valid id and a method) is answered: never a silent 202;
 * - a 202 only for what the SDK itself reads as a notification or a response;
 * - a success only for a well-formed request of a method that changes nothing;
 * - anything else is a refusal with a JSON-RPC error body, whose id is null or the request's own;
 * and afterwards the carts, orders, stock and keys are exactly as before and both instances are alive.
 */

const counter = new CaseCounter('fuzz-jsonrpc');
/** HOSTILE_FUZZ_SCALE=10 runs ten times as many generated cases (a longer local hunt; the suite's timeout grows). */
const SCALE = Math.max(1, Number(process.env.HOSTILE_FUZZ_SCALE ?? 1));
let b: Bench;
let before_: Snapshot;

/** Methods whose success changes nothing a snapshot covers (initialize only opens a session). */
const HARMLESS = new Set([
  'ping',
  'initialize',
  'tools/list',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'prompts/list',
  'completion/complete',
  'server/discover',
  'resources/subscribe',
  'resources/unsubscribe',
  'logging/setLevel',
]);
const KNOWN = [...HARMLESS, 'tools/call', 'subscriptions/listen', 'notifications/initialized', 'notifications/cancelled', 'sampling/createMessage', 'elicitation/create'];
const CONTEXTS = ['session', 'no-session', 'modern'] as const;
type Context = (typeof CONTEXTS)[number];

function headersFor(ctx: Context, body: unknown): Record<string, string> {
  if (ctx === 'session') return legacyHeaders(b.key, b.sid);
  if (ctx === 'no-session') return baseHeaders(b.key);
  const method = (body as { method?: unknown } | null)?.method;
  return modernHeaders(b.key, typeof method === 'string' && /^[\x21-\x7e]{1,100}$/.test(method) ? method : 'ping');
}

async function sendAndJudge(text: string, ctx: Context): Promise<void> {
  counter.add(`${ctx}\u0000${text}`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  const what = `${ctx}: ${text.slice(0, 200)}`;
  const res = await postBounded(b.next(), text, headersFor(ctx, parsed), what);
  const show = `${what} → ${res.status} ${res.text.slice(0, 300)}`;
  assert.ok(res.status < 500, `never a 5xx: ${show}`);
  const answerable = isJSONRPCRequest(parsed);
  if (res.status === 202) {
    assert.ok(!answerable, `a request with an id is answered, not dropped: ${show}`);
    assert.ok(isJSONRPCNotification(parsed) || isJSONRPCResponse(parsed), `202 only for a notification or a response: ${show}`);
    return;
  }
  // An SSE answer (the modern handler may stream) carries its message in the last data line.
  const body = res.body;
  if (res.status === 200 && body?.result !== undefined && body?.error === undefined && body.result?.isError !== true) {
    assert.ok(answerable, `success only for a well-formed request: ${show}`);
    const method = (parsed as { method: string }).method;
    assert.ok(HARMLESS.has(method), `success only for a method that changes nothing: ${show}`);
    return;
  }
  assert.ok(res.status === 200 || (res.status >= 400 && res.status < 500), `a precise status: ${show}`);
  assert.equal(body?.jsonrpc, '2.0', `a JSON-RPC body: ${show}`);
  if (body.result?.isError === true) return; // a tool refused (tools/call with a real tool name)
  assert.equal(typeof body.error?.code, 'number', `a JSON-RPC error: ${show}`);
  assert.ok(Number.isInteger(body.error.code), show);
  assert.equal(typeof body.error.message, 'string', show);
  const sentId = (parsed as { id?: unknown } | null)?.id;
  // (=== so that an id of -0 echoed as 0 counts as the same.)
  if (body.id !== null && body.id !== undefined) assert.ok(body.id === sentId, `the error names the request's own id or none: ${show}`);
}

// ---- arbitraries -------------------------------------------------------------------------------------------

const json = (maxDepth: number) => fc.jsonValue({ maxDepth }).map((v) => JSON.stringify(v));
const quoted = (s: fc.Arbitrary<string>) => s.map((v) => JSON.stringify(v));

const idText = fc.oneof(
  { arbitrary: fc.integer().map(String), weight: 3 },
  { arbitrary: quoted(fc.string({ maxLength: 40 })), weight: 3 },
  fc.constantFrom('null', '{}', '{"a":1}', '[]', '[1]', 'true', 'false', '""', '1e400', '-1e400', '123456789012345678901234567890', '-0', '1.5', '0.1e-400', '9007199254740993', '1E2'),
  json(2),
);
const methodText = fc.oneof(
  { arbitrary: quoted(fc.constantFrom(...KNOWN)), weight: 4 },
  quoted(fc.string({ unit: 'binary', maxLength: 40 })),
  quoted(fc.constantFrom('toString', '__proto__', 'constructor', 'tools/call ', 'TOOLS/LIST', 'tools//list', 'notifications/', '')),
  json(1),
);
const jsonrpcText = fc.oneof({ arbitrary: fc.constant('"2.0"'), weight: 4 }, fc.constantFrom('"1.0"', '"2"', '2', '2.0', 'null', '""', '"2.0 "', 'true', '["2.0"]', '{"v":"2.0"}'));
const paramsText = fc.oneof(
  fc.constantFrom('5', '"x"', '[1,2]', 'null', 'true', '[]', '{}', '-1'),
  fc
    .record(
      {
        name: fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.constantFrom('view_cart', 'clear_cart', 'checkout', 'add_item_to_cart', 'nope')),
        arguments: fc.jsonValue({ maxDepth: 2 }),
        uri: fc.oneof(fc.jsonValue({ maxDepth: 1 }), fc.constantFrom('pos://carts/hostile-a', "pos://carts/';--", 'pos://orders/%00', 'file:///etc/passwd', 'http://169.254.169.254/latest/meta-data/')),
        protocolVersion: fc.jsonValue({ maxDepth: 1 }),
        capabilities: fc.jsonValue({ maxDepth: 2 }),
        clientInfo: fc.jsonValue({ maxDepth: 2 }),
        cursor: fc.jsonValue({ maxDepth: 1 }),
        level: fc.jsonValue({ maxDepth: 1 }),
        _meta: fc.jsonValue({ maxDepth: 2 }),
      },
      { requiredKeys: [] },
    )
    .map((v) => JSON.stringify(v)),
  json(2),
);
/** A JSON-RPC-like object of which any member may be missing, wrong, or joined by members that do not belong. */
const nearMiss = fc
  .record(
    {
      jsonrpc: jsonrpcText,
      id: idText,
      method: methodText,
      params: paramsText,
      result: json(1),
      error: fc.oneof(json(1), fc.constant('{"code":-32600,"message":"x"}'), fc.constant('{"code":"x"}')),
      extra: json(1),
    },
    { requiredKeys: [] },
  )
  .filter((r) => r.method !== undefined || r.result !== undefined || r.error !== undefined || r.id !== undefined)
  .map((r) => `{${Object.entries(r).map(([k, v]) => `"${k}":${v}`).join(',')}}`);

describe('fuzzing JSON-RPC bodies', { timeout: 85_000 * SCALE }, () => {
  before(async () => {
    b = await startBench();
    before_ = await b.snapshot();
  });
  after(() => b?.stop());

  test('arbitrary JSON, in every context', async () => {
    let k = 0;
    await fc.assert(
      fc.asyncProperty(fc.jsonValue({ maxDepth: 4 }), async (value) => {
        await sendAndJudge(JSON.stringify(value) ?? 'null', CONTEXTS[k++ % 3]!);
      }),
      { numRuns: 90 * SCALE },
    );
  });

  test('near-miss JSON-RPC messages: ids of every JSON type, methods and params of the wrong kinds', async () => {
    let k = 0;
    await fc.assert(
      fc.asyncProperty(nearMiss, async (text) => {
        await sendAndJudge(text, CONTEXTS[k++ % 3]!);
      }),
      { numRuns: 260 * SCALE },
    );
  });

  test('afterwards: both instances answer /health, nothing changed, and every Redis key expires', async () => {
    await assertAlive(b.urls);
    assert.deepEqual(await b.snapshot(), before_);
    const keys = await assertEveryKeyExpires(b);
    assert.ok(keys > 0, 'the battery left keys to check');
    counter.report(300);
  });
});
