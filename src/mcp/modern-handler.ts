import { createMcpHandler, type McpHttpHandler, type McpRequestContext } from '@modelcontextprotocol/server';
import type { Principal } from '../auth/principal.js';
import type { AppError } from '../errors.js';
import type { McpServerFactory } from './call-context.js';
import type { FailureSink, McpHttpRequest } from './http-types.js';
import { authInfoFor } from './legacy-sessions.js';
import type { UserEvents } from './user-events.js';

export interface ModernLayerOptions {
  factory: McpServerFactory;
  userEvents: UserEvents;
  responseMode: 'auto' | 'json' | 'sse';
  sseKeepAliveMs: number;
  maxBodyBytes: number;
  toFailure: (failures: unknown[]) => AppError | undefined;
  onError: (err: unknown) => void;
}

/**
 * 2026-07-28 traffic: stateless by design, served by the SDK's per-request handler. `subscriptions/listen`
 * streams get a handler of their own whose event bus is the caller's user channel, so a listener hears its
 * own user's changes, from any instance, and nobody else's.
 */
export class ModernLayer {
  private readonly handler: McpHttpHandler;
  private readonly listeners = new Set<McpHttpHandler>();

  constructor(private readonly opts: ModernLayerOptions) {
    this.handler = this.createHandler();
  }

  async post(req: McpHttpRequest): Promise<Response> {
    const sink: FailureSink = { failures: [] };
    const request = new Request(req.url, { method: 'POST', headers: req.headers.web(), ...(req.signal ? { signal: req.signal } : {}) });
    const options = { parsedBody: req.body, authInfo: authInfoFor(req.principal, sink) };
    if ((req.body as { method?: unknown } | undefined)?.method === 'subscriptions/listen') return this.listen(req.principal, request, options);
    const response = await this.handler.fetch(request, options);
    if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
      const failure = this.opts.toFailure(sink.failures);
      if (failure) throw failure;
    }
    return response;
  }

  /** Ends every `subscriptions/listen` stream this instance holds (shutdown); clients listen again elsewhere. */
  async closeStreams(): Promise<void> {
    await Promise.all([...this.listeners].map((h) => h.close().catch(() => {})));
  }

  async close(): Promise<void> {
    await Promise.all([this.handler, ...this.listeners].map((h) => h.close().catch(() => {})));
  }

  private async listen(principal: Principal, request: Request, options: Parameters<McpHttpHandler['fetch']>[1]): Promise<Response> {
    // Listening on the user's channel before the SDK acknowledges the subscription, so no event after the
    // acknowledgement is missed while Redis confirms the subscription.
    const warm = await this.opts.userEvents.subscribe(principal.uid, () => {});
    const handler = this.createHandler(this.opts.userEvents.serverEventBus(principal.uid, this.opts.onError));
    this.listeners.add(handler);
    const release = () => {
      if (!this.listeners.delete(handler)) return;
      void handler.close().catch(() => {});
      void warm().catch(() => {});
    };
    let response: Response;
    try {
      response = await handler.fetch(request, options);
    } catch (err) {
      release();
      throw err;
    }
    if (!response.body) {
      release();
      return response;
    }
    const reader = response.body.getReader();
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) {
            release();
            controller.close();
          } else controller.enqueue(value);
        } catch (err) {
          release();
          controller.error(err);
        }
      },
      cancel(reason) {
        release();
        return reader.cancel(reason).catch(() => {});
      },
    });
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  }

  private createHandler(bus?: ReturnType<UserEvents['serverEventBus']>): McpHttpHandler {
    const { opts } = this;
    return createMcpHandler(
      (ctx: McpRequestContext) => {
        const extra = ctx.authInfo?.extra as { principal: Principal; sink: FailureSink } | undefined;
        if (!extra) throw new Error('modern request reached the MCP handler without a principal');
        return opts.factory({ era: 'modern', principal: extra.principal, sink: extra.sink, userEvents: opts.userEvents });
      },
      {
        legacy: 'reject',
        responseMode: opts.responseMode,
        keepAliveMs: opts.sseKeepAliveMs,
        maxRequestBodySize: opts.maxBodyBytes,
        ...(bus ? { bus } : {}),
      },
    );
  }
}
