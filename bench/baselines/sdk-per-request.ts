import { toNodeHandler } from '@modelcontextprotocol/node';
import { createMcpHandler, McpServer } from '@modelcontextprotocol/server';
import Fastify from 'fastify';
import { registerCartTool } from './cart-tool.js';
import type { Baseline } from './sdk-stateful.js';

/**
 * Baseline: the SDK's documented per-request server ("Serve with Fastify" in the typescript-sdk docs):
 * `createMcpHandler` builds a fresh McpServer for every request, mounted with `toNodeHandler`. Stateless, so
 * it serves 2026-07-28 requests (and 2025-era requests without sessions); carts stay in the process's Map.
 */
export async function startSdkPerRequest(opts: { port?: number; host?: string } = {}): Promise<Baseline> {
  const handler = createMcpHandler(() => {
    const server = new McpServer({ name: 'sdk-per-request-baseline', version: '1.0.0' });
    registerCartTool(server);
    return server;
  });
  const app = Fastify();
  const node = toNodeHandler(handler);
  app.all('/mcp', (request, reply) => node(request.raw, reply.raw, request.body));
  const address = await app.listen({ port: opts.port ?? 0, host: opts.host ?? '127.0.0.1' });
  return {
    url: address,
    async close() {
      await app.close();
      await handler.close?.();
    },
  };
}
