/**
 * Micro-benchmark of the per-request server factory: what building a fresh McpServer with every POS tool and
 * resource costs, with the tool definitions and JSON Schemas prepared once per process (as shipped) and rebuilt
 * for every server (as before; forced here by giving each factory a cart limit it has not seen yet).
 *
 *   npx tsx bench/factory-cost.ts [--iterations 2000]
 *
 * "factory" is the factory call alone; "factory + tools/list" also connects an SDK client over an in-memory
 * transport and lists the tools, which is where the SDK turns the zod schemas into JSON Schema.
 */
import { Client } from '@modelcontextprotocol/client';
import { InMemoryTransport } from '@modelcontextprotocol/server';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import type { McpCallContext } from '../src/mcp/call-context.js';
import { PosService } from '../src/pos/pos-service.js';
import { createPosServerFactory } from '../src/pos/server-factory.js';

const { values: args } = parseArgs({ options: { iterations: { type: 'string', default: '2000' } } });
const iterations = Number(args.iterations);

// The factory only wires closures over these; nothing is called.
const pos = new PosService({} as ConstructorParameters<typeof PosService>[0]);
const ctx = {
  era: 'modern',
  principal: { uid: 'bench-user', scopes: ['pos:read', 'pos:write'], method: 'api_key', credentialId: 'bench' },
  sink: { failures: [] },
  userEvents: {},
} as unknown as McpCallContext;
const toolDeps = (maxLineQuantity: number) => ({ maxLineQuantity, confirmCheckout: false, confirmTimeoutMs: 5000, logError: () => {} });

const shared = createPosServerFactory(pos, toolDeps(999));
let fresh = 1000;
const factories = {
  'definitions prepared once (shipped)': () => shared,
  'definitions rebuilt per server (before)': () => createPosServerFactory(pos, toolDeps(fresh++)),
};

async function listTools(factory: ReturnType<typeof createPosServerFactory>): Promise<number> {
  const server = factory(ctx);
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await server.connect(serverSide);
  const client = new Client({ name: 'bench', version: '1' });
  await client.connect(clientSide);
  const { tools } = await client.listTools();
  await client.close();
  await server.close();
  return tools.length;
}

async function measure(name: string, run: () => Promise<unknown> | unknown): Promise<number> {
  for (let i = 0; i < Math.min(200, iterations); i++) await run();
  const t0 = performance.now();
  for (let i = 0; i < iterations; i++) await run();
  const us = ((performance.now() - t0) * 1000) / iterations;
  process.stdout.write(`${name.padEnd(62)} ${us.toFixed(0).padStart(7)} µs\n`);
  return us;
}

process.stdout.write(`${iterations} iterations each, Node ${process.version}\n`);
for (const [label, get] of Object.entries(factories)) {
  await measure(`factory — ${label}`, () => get()(ctx));
  await measure(`factory + tools/list — ${label}`, () => listTools(get()));
}
