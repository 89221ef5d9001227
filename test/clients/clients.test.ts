import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { setLogger, type BaseTool, type Context } from '@google/adk';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { createPosToolset } from '../../examples/adk-agent/agent.js';
import { UPSTREAM_HEADER } from '../../src/cluster/balancer.js';
import { DEMO } from '../../src/db/seed.js';
import { call, countBy, sdkClient, startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { startHeaderProxy, type HeaderProxy } from '../helpers/header-proxy.js';

/**
 * Real MCP clients, unmodified, against one production-configured cluster (three `flowpos-mcp serve` processes,
 * the round-robin balancer, one Redis, one PostgreSQL): each completes a purchase with its own cart, and the
 * conformance suite runs every server scenario of both protocol revisions.
 */

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const HERE = fileURLToPath(new URL('.', import.meta.url));
const SKU = 'COF-LATTE-12';
const QUANTITY = 2;

type Structured = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
type CallTool = (name: string, args: Record<string, unknown>) => Promise<Structured>;

// ADK logs the GET stream it aborts when it closes a session as an error; only other errors are worth showing.
const report = (...args: unknown[]) => {
  if (!args.some((a) => /aborted/i.test(String(a)))) console.error('[ADK]', ...args);
};
setLogger({ log: (_level, ...args) => report(...args), debug: () => {}, info: () => {}, warn: report, error: report, setLogLevel: () => {} });

describe('real MCP clients through three instances and the round-robin balancer', { timeout: 170_000 }, () => {
  let c: TestCluster;
  let proxy: HeaderProxy;
  before(async () => {
    c = await startTestCluster({ production: true });
    // For clients that cannot send an Authorization header (the conformance CLI, the Inspector CLI).
    proxy = await startHeaderProxy(c.url, { authorization: `Bearer ${c.demoKey}` });
  });
  after(async () => {
    await proxy?.close();
    await c?.stopAll();
  });

  const stockOf = async (sku: string) =>
    Number((await c.db.query<{ stock: number }>('select stock from products where business_id = $1 and sku = $2', [DEMO.businesses.coffee, sku])).rows[0]!.stock);

  /** browse → set_active_business → add_item_to_cart → view_cart → checkout, as one client run with its own cart. */
  async function shop(label: string, callTool: CallTool) {
    const stockBefore = await stockOf(SKU);
    const list = await callTool('list_businesses', {});
    assert.ok(list.businesses.some((b: { id: string }) => b.id === DEMO.businesses.coffee), `${label}: the demo user's businesses are listed`);
    await callTool('set_active_business', { business_id: DEMO.businesses.coffee });
    const found = await callTool('search_products', { query: 'latte' });
    const product = found.products.find((p: { sku: string }) => p.sku === SKU);
    assert.ok(product, `${label}: search found ${SKU}`);

    // Its own cart: named on the first add, and whatever name the server answers is used from then on.
    const first = await callTool('add_item_to_cart', { sku: SKU, quantity: QUANTITY, cart_id: `${label}-${randomBytes(6).toString('hex')}` });
    const cartId = String(first.cart_id);
    const cart = await callTool('view_cart', { cart_id: cartId });
    assert.deepEqual(
      cart.lines.map((l: { sku: string; quantity: number }) => [l.sku, l.quantity]),
      [[SKU, QUANTITY]],
      `${label}: the cart shows exactly what this client added`,
    );
    assert.equal(cart.subtotal_minor, product.price_minor * QUANTITY);

    const done = await callTool('checkout', { cart_id: cartId, idempotency_key: `${label}-${randomBytes(6).toString('hex')}` });
    assert.equal(done.created, true);
    assert.equal(done.order.total_minor, product.price_minor * QUANTITY, `${label}: the order's total`);
    assert.equal(await stockOf(SKU), stockBefore - QUANTITY, `${label}: stock went down by the quantity bought`);
    return done.order;
  }

  const spread = (attemptsBefore: Record<string, number>) =>
    Object.fromEntries(Object.entries(c.balancer.attempts).map(([name, n]) => [name, n - (attemptsBefore[name] ?? 0)]));

  test('@modelcontextprotocol/client 2.x, 2025-era session: served by all three instances', async () => {
    const { client, transport, requests } = sdkClient(c.mcpUrl, c.demoKey, 'legacy', 'clients-sdk2-legacy');
    await client.connect(transport);
    assert.ok(transport.sessionId, 'a session was opened');
    await shop('sdk2-legacy', (name, args) => call(client, name, args));
    await transport.terminateSession();
    await client.close();
    assert.deepEqual([...new Set(requests.map((r) => r.upstream))].sort(), ['i1', 'i2', 'i3'], JSON.stringify(requests));
    console.log(`SDK 2.x 2025-era session: by instance ${JSON.stringify(countBy(requests, (r) => r.upstream ?? 'none'))}`);
  });

  test('@modelcontextprotocol/client 2.x, 2026-07-28 (pinned, stateless): no session at all', async () => {
    const { client, transport, requests } = sdkClient(c.mcpUrl, c.demoKey, 'modern', 'clients-sdk2-modern');
    await client.connect(transport);
    await shop('sdk2-modern', (name, args) => call(client, name, args));
    await client.close();
    assert.equal(transport.sessionId, undefined, 'no session was issued');
    assert.ok(requests.every((r) => r.status !== null && r.status < 300), JSON.stringify(requests));
  });

  test('@modelcontextprotocol/sdk 1.x client: a 2025-era session served by all three instances', async () => {
    const served: (string | null)[] = [];
    const transport = new TransportV1(new URL(c.mcpUrl), {
      requestInit: { headers: { Authorization: `Bearer ${c.demoKey}` } },
      fetch: async (input, init) => {
        const res = await fetch(input, init);
        served.push(res.headers.get(UPSTREAM_HEADER));
        return res;
      },
    });
    const client = new ClientV1({ name: 'clients-sdk1', version: '1.0.0' });
    await client.connect(transport);
    assert.ok(transport.sessionId, 'a session was opened');
    await shop('sdk1', async (name, args) => {
      const res = await client.callTool({ name, arguments: args });
      if (res.isError) throw new Error(`${name} failed: ${JSON.stringify(res.content)}`);
      return res.structuredContent as Structured;
    });
    await transport.terminateSession();
    await client.close();
    assert.deepEqual([...new Set(served)].sort(), ['i1', 'i2', 'i3'], JSON.stringify(served));
  });

  test('Google ADK MCPToolset (StreamableHTTPConnectionParams): a new session per tool call, one cart throughout', async () => {
    const before = { ...c.balancer.attempts };
    const toolset = createPosToolset({ url: c.mcpUrl, apiKey: c.demoKey });
    try {
      const tools = new Map<string, BaseTool>((await toolset.getTools()).map((t) => [t.name, t]));
      const toolContext = { abortSignal: AbortSignal.timeout(30_000) } as unknown as Context;
      await shop('adk', async (name, args) => {
        const result = (await tools.get(name)!.runAsync({ args, toolContext })) as { isError?: boolean; content?: unknown; structuredContent?: Structured };
        if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
        return result.structuredContent!;
      });
    } finally {
      await toolset.close();
    }
    const byInstance = spread(before);
    assert.ok(Object.values(byInstance).every((n) => n > 0), `every instance served ADK's requests: ${JSON.stringify(byInstance)}`);
  });

  test('MCP Inspector CLI 0.15: one process (and one session) per call', async () => {
    const before = { ...c.balancer.attempts };
    const cli = join(ROOT, 'node_modules/@modelcontextprotocol/inspector-cli/build/index.js');
    await shop('inspector', async (name, args) => {
      const argv = [cli, `${proxy.url}/mcp`, '--transport', 'http', '--method', 'tools/call', '--tool-name', name];
      for (const [k, v] of Object.entries(args)) argv.push('--tool-arg', `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
      const { stdout } = await run(process.execPath, argv, { cwd: ROOT, timeout: 30_000 });
      const result = JSON.parse(stdout) as { isError?: boolean; content?: unknown; structuredContent?: Structured };
      if (result.isError) throw new Error(`${name} failed: ${JSON.stringify(result.content)}`);
      return result.structuredContent!;
    });
    const byInstance = spread(before);
    assert.ok(Object.values(byInstance).every((n) => n > 0), `every instance served the Inspector's requests: ${JSON.stringify(byInstance)}`);
  });

  for (const revision of ['2025-11-25', '2026-07-28']) {
    test(`conformance suite: every server scenario that --requirements ${revision} scores, against our own fixtures`, async () => {
      const out = await mkdtemp(join(tmpdir(), `conformance-${revision}-`));
      try {
        const bin = join(ROOT, 'node_modules/@modelcontextprotocol/conformance/dist/index.js');
        const argv = ['--import', join(HERE, 'fs-glob-shim.mjs'), bin, 'server', '--url', `${proxy.url}/mcp`, '--requirements', revision];
        argv.push('--expected-failures', join(HERE, `conformance-${revision}.expected.yaml`), '--output-dir', out);
        const result = await run(process.execPath, argv, { cwd: out, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }).then(
          (r) => ({ code: 0, ...r }),
          (err: { code?: number; stdout?: string; stderr?: string }) => ({ code: err.code ?? 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' }),
        );
        const summary = result.stdout.slice(result.stdout.indexOf('=== SUMMARY ==='));
        assert.equal(result.code, 0, `conformance ${revision} failed:\n${summary}\n${result.stderr.slice(-2000)}\n${c.logTail(5)}`);
        assert.match(summary, /✓ server-sse-multiple-streams/);
        console.log(`conformance ${revision}: ${/Total: .*/.exec(summary)?.[0] ?? summary.slice(0, 200)}`);
      } finally {
        await rm(out, { recursive: true, force: true });
      }
    });
  }
});
