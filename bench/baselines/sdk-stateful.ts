import { randomUUID } from 'node:crypto';
import { NodeStreamableHTTPServerTransport } from '@modelcontextprotocol/node';
import { isInitializeRequest, McpServer } from '@modelcontextprotocol/server';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import { registerCartTool } from './cart-tool.js';

/**
 * Baseline: the SDK's documented sessionful 2025-era server ("Sessions, state, and scaling" in the
 * typescript-sdk docs), on Fastify. One NodeStreamableHTTPServerTransport + McpServer per session, kept in a
 * Map for the life of the process, found again by Mcp-Session-Id. Transport options are the documented
 * defaults (answers are SSE streams). Nothing here is shared between processes: this is what flowpos-mcp is
 * measured against.
 */
function buildServer(): McpServer {
  const server = new McpServer({ name: 'sdk-stateful-baseline', version: '1.0.0' });
  registerCartTool(server);
  return server;
}

export interface Baseline {
  url: string;
  close(): Promise<void>;
}

export async function startSdkStateful(opts: { port?: number; host?: string } = {}): Promise<Baseline> {
  const sessions = new Map<string, NodeStreamableHTTPServerTransport>();
  const app = Fastify();

  const route = async (req: FastifyRequest, res: FastifyReply) => {
    const sessionId = req.headers['mcp-session-id'] as string | undefined;
    if (sessionId && sessions.has(sessionId)) {
      await sessions.get(sessionId)!.handleRequest(req.raw, res.raw, req.body);
      return;
    }
    if (!sessionId && isInitializeRequest(req.body)) {
      const transport = new NodeStreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (id) => {
          sessions.set(id, transport);
        },
      });
      transport.onclose = () => {
        if (transport.sessionId) sessions.delete(transport.sessionId);
      };
      await buildServer().connect(transport);
      await transport.handleRequest(req.raw, res.raw, req.body);
      return;
    }
    if (sessionId) {
      res.status(404).send({ jsonrpc: '2.0', error: { code: -32001, message: 'Session not found' }, id: null });
      return;
    }
    res.status(400).send({ jsonrpc: '2.0', error: { code: -32000, message: 'Bad Request: Session ID required' }, id: null });
  };

  app.post('/mcp', route);
  app.get('/mcp', route);
  app.delete('/mcp', route);

  const address = await app.listen({ port: opts.port ?? 0, host: opts.host ?? '127.0.0.1' });
  return {
    url: address,
    async close() {
      for (const [, transport] of sessions) await transport.close().catch(() => {});
      await app.close();
    },
  };
}
