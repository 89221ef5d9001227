import { createMcpHandler, type McpHttpHandler, type McpRequestContext } from '@modelcontextprotocol/server';
import type { Principal } from '../auth/principal.js';
import type { AppError } from '../errors.js';
import type { McpServerFactory } from './call-context.js';
import type { FailureSink, McpHttpRequest } from './http-types.js';
import { authInfoFor } from './legacy-sessions.js';

export interface ModernLayerOptions {
  factory: McpServerFactory;
  responseMode: 'auto' | 'json' | 'sse';
  sseKeepAliveMs: number;
  maxBodyBytes: number;
  toFailure: (failures: unknown[]) => AppError | undefined;
}

/** 2026-07-28 traffic: stateless by design, served by the SDK's per-request handler. */
export class ModernLayer {
  private readonly handler: McpHttpHandler;

  constructor(private readonly opts: ModernLayerOptions) {
    this.handler = createMcpHandler(
      (ctx: McpRequestContext) => {
        const extra = ctx.authInfo?.extra as { principal: Principal; sink: FailureSink } | undefined;
        if (!extra) throw new Error('modern request reached the MCP handler without a principal');
        return opts.factory({ era: 'modern', principal: extra.principal, sink: extra.sink });
      },
      {
        legacy: 'reject',
        responseMode: opts.responseMode,
        keepAliveMs: opts.sseKeepAliveMs,
        maxRequestBodySize: opts.maxBodyBytes,
      },
    );
  }

  async post(req: McpHttpRequest): Promise<Response> {
    const sink: FailureSink = { failures: [] };
    const request = new Request(req.url, { method: 'POST', headers: req.headers, ...(req.signal ? { signal: req.signal } : {}) });
    const response = await this.handler.fetch(request, { parsedBody: req.body, authInfo: authInfoFor(req.principal, sink) });
    if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
      const failure = this.opts.toFailure(sink.failures);
      if (failure) throw failure;
    }
    return response;
  }

  close(): Promise<void> {
    return this.handler.close();
  }
}
