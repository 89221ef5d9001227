import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setLogger, type BaseTool, type Context } from '@google/adk';
import { createClient } from 'redis';
import { startBalancer, type Balancer } from '../../src/cluster/balancer.js';
import { DEMO } from '../../src/db/seed.js';
import { createPosAgent, createPosToolset } from '../../examples/adk-agent/agent.js';
import { startInstances, type Instances } from '../helpers/instances.js';

/**
 * The ADK example's toolset, without any LLM, against two instances behind a round-robin balancer with no
 * affinity. ADK opens a new MCP session for every getTools() and every tool call and never ends one; the cart is
 * still there from call to call, because it belongs to the user, not to a session.
 */

interface CallToolResultLike {
  isError?: boolean;
  content?: { type: string; text?: string }[];
  structuredContent?: Record<string, unknown>;
}

// ADK logs every MCP client it closes with its GET stream still open ("operation was aborted") as an error; only
// other errors are worth showing.
const report = (...args: unknown[]) => {
  if (!args.some((a) => /aborted/i.test(String(a)))) console.error('[ADK]', ...args);
};
setLogger({ log: (_level, ...args) => report(...args), debug: () => {}, info: () => {}, warn: report, error: report, setLogLevel: () => {} });

// MCPTool.runAsync reads nothing from the context but its abort signal; an agent run would pass a full Context.
const toolContext = { abortSignal: AbortSignal.timeout(20_000) } as unknown as Context;

describe('examples/adk-agent: ADK MCPToolset through a no-affinity balancer', () => {
  let it: Instances;
  let balancer: Balancer;
  before(async () => {
    it = await startInstances({ count: 2 });
    balancer = await startBalancer({ upstreams: it.urls.map((url, i) => ({ name: `i${i + 1}`, url })), port: 0 });
  });
  after(async () => {
    await balancer?.close();
    await it?.stop();
  });

  async function sessionKeys(): Promise<number> {
    const client = createClient({ url: it.redisUrl! });
    await client.connect();
    try {
      let n = 0;
      for await (const batch of client.scanIterator({ MATCH: `${it.redis!.keyPrefix}session:*`, COUNT: 500 })) n += batch.length;
      return n;
    } finally {
      await client.close();
    }
  }

  test('lists the tools, then set_active_business, add_item_to_cart, view_cart: one new session per call, one cart', async () => {
    const before = await sessionKeys();
    const toolset = createPosToolset({ url: `${balancer.url.replace('127.0.0.1', 'localhost')}/mcp`, apiKey: it.keys.demo });
    try {
      const tools = await toolset.getTools();
      const byName = new Map<string, BaseTool>(tools.map((t) => [t.name, t]));
      for (const name of ['list_businesses', 'set_active_business', 'add_item_to_cart', 'view_cart', 'checkout']) assert.ok(byName.has(name), `${name} offered`);
      const declaration = byName.get('add_item_to_cart')!._getDeclaration();
      assert.ok(declaration?.parameters, 'ADK turned the input schema into a Gemini function declaration');

      // The agent the example builds carries this toolset; building it needs no model key.
      const agent = createPosAgent({ toolset });
      assert.equal(agent.name, 'flowpos_cashier');

      const run = async (name: string, args: Record<string, unknown>) => {
        const result = (await byName.get(name)!.runAsync({ args, toolContext })) as CallToolResultLike;
        assert.notEqual(result.isError, true, `${name}: ${JSON.stringify(result.content)}`);
        return result.structuredContent!;
      };
      const active = await run('set_active_business', { business_id: DEMO.businesses.coffee });
      assert.equal((active.active_business as { id: string }).id, DEMO.businesses.coffee);
      // As the instruction tells the model: the first add names the cart, every later cart call passes its id.
      const first = await run('add_item_to_cart', { sku: 'COF-LATTE-12', quantity: 2 });
      const cart_id = first.cart_id as string;
      await run('add_item_to_cart', { sku: 'COF-MOCHA-12', quantity: 1, cart_id });
      const cart = await run('view_cart', { cart_id });
      assert.deepEqual(
        (cart.lines as { sku: string; quantity: number }[]).map((l) => [l.sku, l.quantity]).sort(),
        [['COF-LATTE-12', 2], ['COF-MOCHA-12', 1]],
        'the cart holds what this agent added although every call had a session of its own',
      );
      // Without the id, a new session's call sees that session's own (empty) cart, never another agent's.
      assert.deepEqual((await run('view_cart', {})).lines, []);
      const done = await run('checkout', { cart_id, idempotency_key: `adk-${cart_id}` });
      assert.equal((done.order as { total_minor: number }).total_minor, cart.subtotal_minor);
    } finally {
      await toolset.close();
    }

    const opened = (await sessionKeys()) - before;
    assert.ok(opened >= 4, `ADK opened a session for getTools() and for each of the 3 calls (${opened} new session records)`);
    assert.ok(balancer.attempts.i1! > 0 && balancer.attempts.i2! > 0, `both instances served requests: ${JSON.stringify(balancer.attempts)}`);
  });
});
