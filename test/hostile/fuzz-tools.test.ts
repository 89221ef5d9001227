import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import fc from 'fast-check';
import { DEMO, DEMO_BUSINESSES } from '../../src/db/seed.js';
import { toolDefinitions } from '../../src/pos/tool-definitions.js';
import type { RpcResponse } from '../helpers/mcp-http.js';
import { assertAlive, assertEveryKeyExpires, CaseCounter, COFFEE, legacyHeaders, MODERN_META, modernHeaders, postBounded, SNAPSHOT_CARTS, startBench, type Bench, type Snapshot } from './support.js';

/**
 * Every tool, every argument: property-based fuzzing with arbitrary values for each field (wrong types, out of
 * range, patterns almost right, SQL and Redis-key metacharacters, any Unicode), and a hand-written matrix of the
 * classic hostile values. The oracle is the tool's own input schema: arguments it rejects must be refused (a tool
 * error or -32602) and change nothing; arguments it accepts must meet the domain's answer (a refusal for what does
 * not exist, a read of one's own data for reads). Requests alternate between the two instances and the two eras.
 */

const counter = new CaseCounter('fuzz-tools');
const SCALE = Math.max(1, Number(process.env.HOSTILE_FUZZ_SCALE ?? 1));
const MAX_LINE = 999;
const DEFS = toolDefinitions(MAX_LINE);
type ToolName = keyof typeof DEFS;
const TOOLS = Object.keys(DEFS) as ToolName[];

const REAL_SKUS = DEMO_BUSINESSES.find((bz) => bz.id === COFFEE)!.products.map((p) => p.sku);
const OWN_BUSINESSES = [DEMO.businesses.coffee, DEMO.businesses.bakery];
/** Succeeding is fine for these: they read the caller's own data (or, for clear_cart, empty an empty cart). */
const READS = new Set<ToolName>(['list_businesses', 'get_active_business', 'search_products', 'get_product', 'view_cart', 'list_orders', 'get_order', 'clear_cart']);

/** Strings with SQL, Redis-key, glob, path and control metacharacters. */
const METACHARS = [
  "'",
  "' OR '1'='1",
  "x';--",
  ';--',
  "'; DROP TABLE orders; --",
  '{',
  '}',
  '{x}',
  'a}{b',
  ':',
  'a:b',
  '*',
  'a*',
  '%',
  '%25',
  '%00',
  '_',
  '\\',
  '"',
  '\u0000',
  'a\u0000b',
  '\r\nSET x 1\r\n',
  '$(id)',
  '${7*7}',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  ' ',
  '',
  '\ud800',
  '\udfff',
  '🙂',
  'a'.repeat(65),
  'b'.repeat(300),
];
const withReal = (s: string) => [`COF-LATTE-12${s}`, `${s}COF-LATTE-12`];
const HOSTILE_SKUS = [...METACHARS, ...withReal("'"), ...withReal(';--'), ...withReal('\u0000'), ...withReal(' '), ...withReal(':'), ...withReal('*'), 'cof-latte-12'];
const HOSTILE_QUANTITIES: unknown[] = [-1, 0, -0, 0.5, 1.5, 1e-7, MAX_LINE + 1, 2 ** 31, 2 ** 53, 2 ** 53 + 2, 1e21, 1e308, -1e308, '1', '2', 'NaN', 'Infinity', '-1', '1e3', '0x10', null, true, [], [1], {}, { valueOf: 1 }];
const UNICODE_QUERIES = ['🙂', '👨‍👩‍👧‍👦', 'مرحبا', 'שלום', '\u202eevil', 'e\u0301', 'Caffe\u0300', 'Caffè', 'ＣＯＦ', 'ß', 'İ', 'Z̵̢̛a̷l̶g̴o', '\u200b', '\ufeff', '\ud83d', 'latte', 'LATTE', '%', '_', '%latte%', 'l_tte', '\\', "'", '"'];

// ---- arbitraries per field ---------------------------------------------------------------------------------

const anyJson = fc.jsonValue({ maxDepth: 2 });
const binary = fc.string({ unit: 'binary', maxLength: 80 });
const notSnapshotCart = (s: string) => !(SNAPSHOT_CARTS as readonly string[]).includes(s) && s !== 'default';
const numberish = fc.oneof(fc.integer({ min: -5, max: MAX_LINE + 5 }), fc.double(), fc.constantFrom(...HOSTILE_QUANTITIES), anyJson);

const FIELD: Record<string, fc.Arbitrary<unknown>> = {
  sku: fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/), fc.constantFrom(...REAL_SKUS), fc.constantFrom(...HOSTILE_SKUS), binary, anyJson),
  quantity: numberish,
  cart_id: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/).filter(notSnapshotCart), fc.constantFrom(...METACHARS), binary, anyJson),
  business_id: fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/).filter((s) => !OWN_BUSINESSES.includes(s as never)),
    fc.constantFrom(DEMO.businesses.books, `${COFFEE}'`, `${COFFEE};--`, `${COFFEE}\u0000`, ` ${COFFEE}`, COFFEE.toUpperCase(), ...METACHARS),
    binary,
    anyJson,
  ),
  order_id: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{1,64}$/), fc.constantFrom(...METACHARS), binary, anyJson),
  idempotency_key: fc.oneof(fc.string({ unit: 'binary-ascii', maxLength: 140 }), fc.constantFrom(...METACHARS), binary, anyJson),
  query: fc.oneof(fc.string({ unit: 'grapheme', maxLength: 30 }), fc.constantFrom(...UNICODE_QUERIES, ...METACHARS), binary, fc.string({ minLength: 195, maxLength: 260 }), anyJson),
  limit: numberish,
  offset: fc.oneof(numberish, fc.constantFrom(10_000, 10_001, 1e9)),
};

function fieldsOf(tool: ToolName): string[] {
  const shape = (DEFS[tool].inputSchema as unknown as { shape?: Record<string, unknown> }).shape;
  return Object.keys(shape ?? {});
}

function argsArbitrary(tool: ToolName): fc.Arbitrary<Record<string, unknown>> {
  const model: Record<string, fc.Arbitrary<unknown>> = {};
  for (const f of fieldsOf(tool)) {
    const arb = FIELD[f];
    if (!arb) throw new Error(`no arbitrary for ${tool}.${f}: add one`);
    model[f] = arb;
  }
  model.unexpected_field = anyJson;
  return fc.record(model, { requiredKeys: [] }) as fc.Arbitrary<Record<string, unknown>>;
}

function schemaAccepts(tool: ToolName, args: unknown): boolean {
  const result = DEFS[tool].inputSchema['~standard'].validate(args);
  if (result instanceof Promise) throw new Error('async schema');
  return !result.issues;
}

/**
 * A call the schema accepts that would really change something (a real SKU with a quantity, a checkout of a cart
 * with lines, one's own business): a legitimate request, not a hostile case, so it is not sent.
 */
function wouldWrite(tool: ToolName, args: Record<string, unknown>): boolean {
  if (!schemaAccepts(tool, args)) return false;
  const filledCart = (SNAPSHOT_CARTS as readonly unknown[]).includes(args.cart_id);
  switch (tool) {
    case 'add_item_to_cart':
    case 'update_cart_item':
      return REAL_SKUS.includes(args.sku as string);
    case 'remove_item_from_cart':
      return REAL_SKUS.includes(args.sku as string) && filledCart;
    case 'clear_cart':
    case 'checkout':
      return filledCart;
    case 'set_active_business':
      return OWN_BUSINESSES.includes(args.business_id as never);
    default:
      return false;
  }
}

let b: Bench;
let before_: Snapshot;
let turn = 0;

function callTool(name: string, args: unknown): Promise<RpcResponse> {
  const k = turn++;
  const url = b.next();
  const legacy = k % 2 === 0;
  const body = legacy
    ? JSON.stringify({ jsonrpc: '2.0', id: k, method: 'tools/call', params: { name, arguments: args } })
    : JSON.stringify({ jsonrpc: '2.0', id: k, method: 'tools/call', params: { name, arguments: args, _meta: MODERN_META } });
  const headers = legacy ? legacyHeaders(b.key, b.sid) : modernHeaders(b.key, 'tools/call', name);
  return postBounded(url, body, headers, `${name} ${JSON.stringify(args)?.slice(0, 200)}`);
}

function isRefusal(res: RpcResponse): boolean {
  return res.status === 200 && res.body?.jsonrpc === '2.0' && (res.body.result?.isError === true || res.body.error?.code === -32602);
}

/** Checks one call against the oracle; returns a failure description or null. */
async function judge(tool: ToolName, args: Record<string, unknown>): Promise<string | null> {
  counter.add(`${tool}\u0000${JSON.stringify(args)}`);
  const res = await callTool(tool, args);
  const show = `${tool}(${JSON.stringify(args)?.slice(0, 200)}) → ${res.status} ${res.text.slice(0, 300)}`;
  if (res.status >= 500) return `a 5xx: ${show}`;
  if (!schemaAccepts(tool, args)) return isRefusal(res) ? null : `arguments the schema rejects must be refused: ${show}`;
  if (isRefusal(res)) {
    const code = res.body.result?.structuredContent?.error?.code;
    // A domain refusal must be one of the catalog's, never an internal error.
    return code === undefined || typeof code === 'string' ? null : `unexpected refusal: ${show}`;
  }
  if (res.status !== 200 || !res.body?.result?.structuredContent) return `neither a result nor a refusal: ${show}`;
  if (!READS.has(tool)) return `a write with arguments naming nothing real succeeded: ${show}`;
  const out = res.body.result.structuredContent;
  if (tool === 'view_cart' || tool === 'clear_cart') {
    if (out.lines.length !== 0) return `a cart no one filled has lines: ${show}`;
    if (args.cart_id !== undefined && out.cart_id !== args.cart_id) return `another cart was read: ${show}`;
  }
  // (ASCII only: for other scripts PostgreSQL's case folding and JavaScript's differ, e.g. for "İ".)
  const query = typeof args.query === 'string' ? args.query.trim() : '';
  if (tool === 'search_products' && query !== '' && /^[\x20-\x7e]+$/.test(query)) {
    const needle = query.toLowerCase();
    for (const p of out.products as { sku: string; name: string; description: string | null }[]) {
      const hay = `${p.sku}\n${p.name}\n${p.description ?? ''}`.toLowerCase();
      if (!hay.includes(needle)) return `search is literal, yet ${p.sku} does not contain the query: ${show}`;
    }
  }
  return null;
}

describe('fuzzing tool arguments, every tool, every field', { timeout: 85_000 * SCALE }, () => {
  before(async () => {
    b = await startBench();
    before_ = await b.snapshot();
  });
  after(() => b?.stop());

  for (const tool of TOOLS) {
    test(`${tool}: arbitrary values for ${fieldsOf(tool).join(', ') || 'no fields (and unexpected ones)'}`, async () => {
      await fc.assert(
        fc.asyncProperty(
          argsArbitrary(tool).filter((args) => !wouldWrite(tool, args)),
          async (args) => {
            const failure = await judge(tool, args);
            assert.equal(failure, null);
          },
        ),
        { numRuns: 22 * SCALE },
      );
    });
  }

  test('hand-written: SKUs, cart ids, business ids, order ids and idempotency keys with metacharacters; odd quantities; Unicode searches', async () => {
    const failures: string[] = [];
    const run = async (tool: ToolName, args: Record<string, unknown>) => {
      if (wouldWrite(tool, args)) return; // e.g. "_" is a valid cart id: not hostile
      const f = await judge(tool, args);
      if (f) failures.push(f);
    };
    for (const sku of HOSTILE_SKUS) {
      await run('add_item_to_cart', { sku, quantity: 1, cart_id: 'fuzz-metachar' });
      await run('update_cart_item', { sku, quantity: 2, cart_id: 'fuzz-metachar' });
      await run('remove_item_from_cart', { sku, cart_id: SNAPSHOT_CARTS[0] });
      await run('get_product', { sku });
    }
    for (const cart_id of [...METACHARS, 'hostile-a:*', 'hostile-a}', '{hostile-a}', 'hostile-a\u0000', 'HOSTILE-A%', '*']) {
      await run('add_item_to_cart', { sku: 'COF-LATTE-12', quantity: 1, cart_id });
      await run('view_cart', { cart_id });
      await run('clear_cart', { cart_id });
      await run('checkout', { cart_id, idempotency_key: 'fuzz' });
    }
    for (const business_id of [DEMO.businesses.books, ...METACHARS, `${COFFEE}'`, `${COFFEE}*`, `{${COFFEE}}`, `${COFFEE}:x`]) await run('set_active_business', { business_id });
    for (const order_id of [...METACHARS, "ord_' OR '1'='1"]) await run('get_order', { order_id });
    for (const idempotency_key of METACHARS) await run('checkout', { cart_id: 'fuzz-empty', idempotency_key });
    for (const quantity of HOSTILE_QUANTITIES) {
      await run('add_item_to_cart', { sku: 'COF-LATTE-12', quantity, cart_id: SNAPSHOT_CARTS[0] });
      await run('update_cart_item', { sku: 'COF-LATTE-12', quantity, cart_id: SNAPSHOT_CARTS[0] });
    }
    for (const limit of HOSTILE_QUANTITIES) await run('list_orders', { limit });
    for (const query of [...UNICODE_QUERIES, ...METACHARS]) await run('search_products', { query });
    for (const offset of [-1, 0.5, 10_001, 1e9, '0', null]) await run('search_products', { offset });
    assert.deepEqual(failures, []);
  });

  test('resources/read with hostile URIs → "not found" (-32602 with the URI), never an internal error or a database message', async () => {
    const failures: string[] = [];
    const uris = [
      "pos://carts/';--",
      'pos://carts/a%00b',
      'pos://carts/%7Bx%7D*',
      `pos://carts/${'a'.repeat(300)}`,
      'pos://products/a%00b',
      'pos://products/%ED%A0%80',
      'pos://products/%E0%A4%A',
      "pos://products/COF-LATTE-12'--",
      'pos://products/NOPE',
      'pos://orders/%27',
      "pos://orders/ord_'or'1'='1",
      'pos://orders/ord_nope',
    ];
    for (const uri of uris) {
      counter.add(`resources/read\u0000${uri}`);
      const k = turn++;
      const res = await postBounded(b.next(), JSON.stringify({ jsonrpc: '2.0', id: k, method: 'resources/read', params: { uri } }), legacyHeaders(b.key, b.sid), uri);
      const show = `${uri} → ${res.status} ${res.text.slice(0, 300)}`;
      if (res.status !== 200 || res.body?.error?.code !== -32602 || res.body.error.data?.uri !== uri) failures.push(`expected resource not found: ${show}`);
      else if (/byte sequence|UTF8|ECONN|postgres|redis/i.test(res.body.error.message)) failures.push(`an internal message reached the caller: ${show}`);
    }
    assert.deepEqual(failures, []);
    // The caller's own cart still reads.
    const own = await postBounded(b.next(), JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'resources/read', params: { uri: `pos://carts/${SNAPSHOT_CARTS[0]}` } }), legacyHeaders(b.key, b.sid), 'own cart');
    assert.equal(JSON.parse(own.body.result.contents[0].text).lines.length, 2);
  });

  test('afterwards: both instances answer /health, nothing changed, and every Redis key expires', async () => {
    await assertAlive(b.urls);
    assert.deepEqual(await b.snapshot(), before_);
    const keys = await assertEveryKeyExpires(b);
    assert.ok(keys > 0, 'the battery left keys to check');
    counter.report(450);
  });
});
