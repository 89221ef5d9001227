import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { createClient } from 'redis';
import { DEMO } from '../../src/db/seed.js';
import type { Db } from '../../src/db/db.js';
import { openSharedDb, startInstances, type Instances } from '../helpers/instances.js';
import { baseHeaders, callTool, callToolModern, LEGACY_VERSION, MODERN_VERSION, openSession, read, structured, type RpcResponse } from '../helpers/mcp-http.js';

/**
 * The hostile battery's bench: two real instances sharing one Redis and one PostgreSQL, requests alternating
 * between them, every request bounded in time, and a snapshot of everything a hostile request could have
 * changed (the test user's carts and active business, orders, stock, API keys) to compare before and after.
 */

export const COFFEE = DEMO.businesses.coffee;
/** Carts of the test user that hold items; no generated cart id may name them (see `notSnapshotCart`). */
export const SNAPSHOT_CARTS = ['hostile-a', 'hostile-b'] as const;
/** Longest any single hostile request may take before it counts as a hang. */
export const REQUEST_TIMEOUT_MS = 8_000;

export interface Bench {
  it: Instances;
  urls: [string, string];
  db: Db;
  /** A 2025-era session of demo-user with the coffee business active. */
  sid: string;
  key: string;
  /** The next instance in turn (requests alternate between the two). */
  next(): string;
  snapshot(): Promise<Snapshot>;
  stop(): Promise<void>;
}

export interface Snapshot {
  carts: Record<string, unknown>;
  activeBusiness: string;
  orders: number;
  stockSum: number;
  apiKeys: number;
  sessions?: never;
}

/** Per-user rate limits are off unless a test turns them on: the battery sends hundreds of requests as one user. */
export const NO_RATE_LIMITS = { RATE_LIMIT_REQUESTS_PER_MINUTE: '0', RATE_LIMIT_WRITES_PER_MINUTE: '0' };

export async function startBench(env: Record<string, string> = {}): Promise<Bench> {
  const it = await startInstances({ count: 2, env: { ...NO_RATE_LIMITS, ...env } });
  let db: Db | undefined;
  try {
    const urls = it.urls as [string, string];
    db = await openSharedDb(it.databaseUrl!);
    const key = it.keys.demo;
    const sid = await openSession(urls[0], key);
    structured(await callTool(urls[1], key, sid, 'set_active_business', { business_id: COFFEE }));
    // Something to lose: two carts with lines. The default cart stays empty, so a hostile checkout without a
    // cart id can only ever meet `cart_empty`.
    structured(await callTool(urls[0], key, sid, 'add_item_to_cart', { sku: 'COF-LATTE-12', quantity: 2, cart_id: SNAPSHOT_CARTS[0] }));
    structured(await callTool(urls[1], key, sid, 'add_item_to_cart', { sku: 'COF-MOCHA-12', quantity: 1, cart_id: SNAPSHOT_CARTS[0] }));
    structured(await callTool(urls[0], key, sid, 'add_item_to_cart', { sku: 'COF-CROISSANT', quantity: 3, cart_id: SNAPSHOT_CARTS[1] }));
    let turn = 0;
    const shared = db;
    return {
      it,
      urls,
      db: shared,
      sid,
      key,
      next: () => urls[turn++ % 2]!,
      async snapshot() {
        const carts: Record<string, unknown> = {};
        for (const cart of ['default', ...SNAPSHOT_CARTS]) {
          // Read through both eras and both instances: they must agree.
          const legacy = structured(await callTool(urls[0], key, sid, 'view_cart', { cart_id: cart }));
          const modern = structured(await callToolModern(urls[1], key, 'view_cart', { cart_id: cart }));
          assert.deepEqual(modern, legacy, `cart ${cart} reads the same in both eras`);
          carts[cart] = legacy;
        }
        const active = structured(await callTool(urls[1], key, sid, 'get_active_business')).active_business.id as string;
        const q = async (sql: string, params: unknown[] = []) => Number((await shared.query<{ n: string | number }>(sql, params)).rows[0]!.n);
        return {
          carts,
          activeBusiness: active,
          orders: await q('SELECT count(*) AS n FROM orders'),
          stockSum: await q('SELECT coalesce(sum(stock), 0) AS n FROM products WHERE business_id = $1', [COFFEE]),
          apiKeys: await q('SELECT count(*) AS n FROM mcp_api_key'),
        };
      },
      async stop() {
        await shared.close().catch(() => {});
        await it.stop();
      },
    };
  } catch (err) {
    await db?.close().catch(() => {});
    await it.stop();
    throw err;
  }
}

/**
 * Every key under the instances' prefix expires on its own (SCAN, then PTTL > 0 for each): nothing a hostile
 * request made can pile up in Redis forever. Returns how many keys were checked.
 */
export async function assertEveryKeyExpires(bench: Pick<Bench, 'it'>): Promise<number> {
  const { redis } = bench.it;
  assert.ok(redis, 'the bench runs on a Redis it started');
  const client = createClient({ url: redis.url, socket: { connectTimeout: 2_000, reconnectStrategy: false } });
  client.on('error', () => {});
  await client.connect();
  try {
    const pattern = `${redis.keyPrefix.replace(/[*?[\]\\]/g, (c) => `\\${c}`)}*`;
    const without: string[] = [];
    let checked = 0;
    for await (const batch of client.scanIterator({ MATCH: pattern, COUNT: 500 })) {
      for (const key of batch) {
        checked++;
        const pttl = await client.pTTL(key);
        if (!(pttl > 0)) without.push(`${key} (PTTL ${pttl})`);
      }
    }
    assert.deepEqual(without, [], 'every Redis key has a TTL');
    return checked;
  } finally {
    await client.close();
  }
}

/** Both instances still answer /health (nothing crashed or wedged). */
export async function assertAlive(urls: readonly string[]): Promise<void> {
  for (const url of urls) {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    assert.equal(res.status, 200, `${url} /health`);
  }
}

/** POST /mcp bounded by REQUEST_TIMEOUT_MS; a hang fails the case with its description. */
export async function postBounded(url: string, body: string | Uint8Array, headers: Record<string, string>, what: string): Promise<RpcResponse> {
  try {
    const payload: string | Uint8Array<ArrayBuffer> = typeof body === 'string' ? body : new Uint8Array(body);
    const res = await fetch(`${url}/mcp`, { method: 'POST', headers, body: payload, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    return await read(res);
  } catch (err) {
    throw new Error(`${what}: no answer within ${REQUEST_TIMEOUT_MS} ms (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
}

/** A request through node:http, which sends what fetch refuses to (a forged Host, odd header values). */
export function rawHttp(
  url: string,
  opts: { method?: string; path?: string; headers: Record<string, string>; body?: string | Buffer },
): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    // A whole-request deadline, not an idle timeout: an SSE stream's keep-alives would reset that forever.
    const timer = setTimeout(() => req.destroy(new Error(`no complete answer within ${REQUEST_TIMEOUT_MS} ms`)), REQUEST_TIMEOUT_MS);
    const req = httpRequest({ host: hostname, port, path: opts.path ?? '/mcp', method: opts.method ?? 'POST', headers: opts.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        clearTimeout(timer);
        resolve(rawResult(res.statusCode ?? 0, res.headers, Buffer.concat(chunks).toString('utf8')));
      });
      res.on('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(opts.body);
  });
}

/**
 * Bytes straight onto a socket: header values node:http itself refuses to send (CR, LF, bytes above 0x7e).
 * Resolves with the status line's code and the body; `Connection: close` is added so the answer ends.
 */
export function rawSocket(url: string, head: Buffer | string, body: Buffer | string = ''): Promise<RawResponse> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname === 'localhost' ? '127.0.0.1' : hostname);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`));
    }, REQUEST_TIMEOUT_MS);
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString('latin1');
      const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(text)?.[1] ?? 0);
      const split = text.indexOf('\r\n\r\n');
      const headerLines = (split === -1 ? text : text.slice(0, split)).split('\r\n').slice(1);
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      let payload = split === -1 ? '' : text.slice(split + 4);
      if (headers['transfer-encoding'] === 'chunked') payload = dechunk(payload);
      resolve(rawResult(status, headers, payload));
    });
    socket.write(Buffer.concat([Buffer.isBuffer(head) ? head : Buffer.from(head, 'latin1'), Buffer.isBuffer(body) ? body : Buffer.from(body, 'utf8')]));
  });
}

function dechunk(s: string): string {
  let out = '';
  let rest = s;
  for (;;) {
    const eol = rest.indexOf('\r\n');
    if (eol === -1) return out;
    const size = Number.parseInt(rest.slice(0, eol), 16);
    if (!size) return out;
    out += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

function rawResult(status: number, headers: RawResponse['headers'], text: string): RawResponse {
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  return { status, headers, text, body };
}

/** An HTTP/1.1 request head for rawSocket, with Content-Length for `body`. */
export function head(url: string, lines: string[], body: Buffer | string = '', method = 'POST'): string {
  const { host } = new URL(url);
  const length = Buffer.byteLength(body);
  return [`${method} /mcp HTTP/1.1`, `Host: ${host}`, 'Connection: close', `Content-Length: ${length}`, ...lines, '', ''].join('\r\n');
}

/** JSON-RPC error codes a caller may see (src/errors.ts, the SDK's and the spec's). */
const RPC_CODES = new Set([-32700, -32600, -32601, -32602, -32603, -32000, -32001, -32002, -32003, -32042]);

/**
 * The one verdict every hostile case must meet: a precise refusal. Either a 4xx with a JSON-RPC error body, or
 * a 200 carrying a JSON-RPC error or a tool error. Never a 5xx, never a success.
 */
export function assertRefused(res: { status: number; body: any; text: string }, what: string): 'http' | 'rpc' | 'tool' { // eslint-disable-line @typescript-eslint/no-explicit-any
  const show = `${what} → ${res.status} ${res.text.slice(0, 300)}`;
  assert.ok(res.status < 500, `never a 5xx: ${show}`);
  if (res.status >= 400) {
    assert.equal(res.body?.jsonrpc, '2.0', `a JSON-RPC error body: ${show}`);
    assert.ok(RPC_CODES.has(res.body?.error?.code), `a known error code: ${show}`);
    assert.equal(typeof res.body.error.message, 'string', show);
    return 'http';
  }
  assert.equal(res.status, 200, `a refusal, not ${res.status}: ${show}`);
  if (res.body?.error) {
    assert.ok(RPC_CODES.has(res.body.error.code), `a known JSON-RPC error code: ${show}`);
    assert.equal(typeof res.body.error.message, 'string', show);
    return 'rpc';
  }
  assert.equal(res.body?.result?.isError, true, `a refusal: ${show}`);
  return 'tool';
}

/**
 * Counts distinct cases (by a key describing exactly what was sent) so a file can print and check how many it
 * really ran; fast-check may generate the same value twice.
 */
export class CaseCounter {
  private readonly seen = new Set<string>();
  constructor(readonly name: string) {}
  add(key: string): void {
    this.seen.add(key);
  }
  get count(): number {
    return this.seen.size;
  }
  report(minimum: number): void {
    console.log(`hostile cases (${this.name}): ${this.count} distinct`);
    assert.ok(this.count >= minimum, `${this.name}: expected at least ${minimum} distinct cases, ran ${this.count}`);
  }
}

export const legacyHeaders = (key: string, sid: string, extra: Record<string, string> = {}) =>
  baseHeaders(key, { 'mcp-session-id': sid, 'mcp-protocol-version': LEGACY_VERSION, ...extra });

export const modernHeaders = (key: string, method: string, name?: string, extra: Record<string, string> = {}) =>
  baseHeaders(key, { 'mcp-protocol-version': MODERN_VERSION, 'mcp-method': method, ...(name ? { 'mcp-name': name } : {}), ...extra });

export const MODERN_META = {
  'io.modelcontextprotocol/protocolVersion': MODERN_VERSION,
  'io.modelcontextprotocol/clientInfo': { name: 'hostile', version: '1' },
  'io.modelcontextprotocol/clientCapabilities': {},
};

/** Every header value a JSON body's id may have been given, for matching the error's id. */
export function echoedId(sent: unknown): unknown {
  if (typeof sent !== 'object' || sent === null || Array.isArray(sent)) return undefined;
  return (sent as { id?: unknown }).id;
}
