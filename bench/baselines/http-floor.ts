import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import type { Baseline } from './sdk-stateful.js';

/**
 * Not an MCP server: the floor under every system here. Fastify on node:http, the same JSON body parser, and for
 * each message the answer the benchmark checks for, built with JSON.stringify: an `initialize` result with an
 * Mcp-Session-Id, 202 for a notification, a tools/call result shaped like the cart tool's (priced lines as
 * structured content and as text), 204 for DELETE. No SDK, no sessions, no state, no checks. What it costs per
 * request is what the HTTP stack alone costs on this machine, so its rates bound the ratios any MCP server on
 * Fastify can reach against the SDK baseline here.
 */
const LINE = { sku: 'COF-LATTE-12', name: 'Caffè Latte 12 oz', unit_price_minor: 450 };

export async function startHttpFloor(opts: { port?: number; host?: string } = {}): Promise<Baseline> {
  const app = Fastify();
  let quantity = 0;
  app.post('/mcp', async (req, reply) => {
    const body = req.body as { id?: number | string; method?: string; params?: { arguments?: { cart_id?: string } } } | undefined;
    if (body?.id === undefined) return reply.code(202).send();
    if (body.method === 'initialize') {
      return reply
        .header('mcp-session-id', randomUUID())
        .send({ jsonrpc: '2.0', id: body.id, result: { protocolVersion: '2025-11-25', capabilities: { tools: {} }, serverInfo: { name: 'http-floor', version: '1.0.0' } } });
    }
    quantity += 1;
    const cart = {
      cart_id: body.params?.arguments?.cart_id ?? 'default',
      currency: 'USD',
      lines: [{ ...LINE, quantity, line_total_minor: LINE.unit_price_minor * quantity }],
      item_count: quantity,
      subtotal_minor: LINE.unit_price_minor * quantity,
    };
    return reply.send({ jsonrpc: '2.0', id: body.id, result: { content: [{ type: 'text', text: JSON.stringify(cart) }], structuredContent: cart } });
  });
  app.delete('/mcp', async (_req, reply) => reply.code(204).send());
  const url = await app.listen({ port: opts.port ?? 0, host: opts.host ?? '127.0.0.1' });
  return { url, close: () => app.close() };
}
