import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, TraceFlags, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BasicTracerProvider, BatchSpanProcessor, SimpleSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { MCP_PATH } from '../config.js';
import { ERRORS, type ErrorCode } from '../errors.js';
import { onRequestDone } from './request-log.js';

/**
 * OpenTelemetry traces of /mcp, off unless configured: one SERVER span per HTTP request to /mcp, named and
 * attributed after the MCP semantic conventions (`{mcp.method.name} {gen_ai.tool.name}`, `mcp.session.id`,
 * `jsonrpc.request.id`, `mcp.protocol.version`, …), child of the caller's `traceparent` (or Cloud Run's
 * X-Cloud-Trace-Context) when it sent one. The provider is this server's own, not registered globally, so two
 * instances in one process (tests) keep their spans apart and nothing else in the process is instrumented by
 * accident.
 */

declare module 'fastify' {
  interface FastifyRequest {
    otelSpan?: Span;
  }
}

export interface TracingOptions {
  serviceName: string;
  /** OTLP/HTTP traces URL (…/v1/traces); spans are batched and sent there. */
  otlpTracesUrl?: string;
  /** Instead of OTLP: where finished spans go, one by one (tests use an in-memory exporter). */
  exporter?: SpanExporter;
}

export class Tracing {
  private constructor(
    private readonly provider: BasicTracerProvider,
    readonly tracer: Tracer,
  ) {}

  /** undefined when there is nowhere to send spans (tracing off). */
  static async create(opts: TracingOptions): Promise<Tracing | undefined> {
    let processor;
    if (opts.exporter) {
      processor = new SimpleSpanProcessor(opts.exporter);
    } else if (opts.otlpTracesUrl) {
      // Loaded only when used: the exporter pulls in the OTLP serialisers.
      const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
      processor = new BatchSpanProcessor(new OTLPTraceExporter({ url: opts.otlpTracesUrl }));
    } else {
      return undefined;
    }
    const provider = new BasicTracerProvider({
      resource: resourceFromAttributes({ 'service.name': opts.serviceName }),
      spanProcessors: [processor],
    });
    return new Tracing(provider, provider.getTracer('flowpos-mcp'));
  }

  /** Sends what is still buffered and stops. */
  async shutdown(): Promise<void> {
    await this.provider.shutdown();
  }
}

/** Spans for /mcp; started when a request arrives, named and finished when its response is done. */
export function installTracing(app: FastifyInstance, tracing: Tracing): void {
  app.addHook('onRequest', async (request) => {
    if (request.url.split('?')[0] !== MCP_PATH) return;
    const parent = request.traceContext;
    const ctx = parent?.spanId
      ? trace.setSpanContext(ROOT_CONTEXT, {
          traceId: parent.traceId,
          spanId: parent.spanId,
          traceFlags: parent.sampled === false ? TraceFlags.NONE : TraceFlags.SAMPLED,
          isRemote: true,
        })
      : ROOT_CONTEXT;
    const span = tracing.tracer.startSpan(`${request.method} ${MCP_PATH}`, { kind: SpanKind.SERVER }, ctx);
    request.otelSpan = span;
    // The log line of this request names our span, so logs and traces meet.
    const own = span.spanContext();
    request.traceContext = { traceId: own.traceId, spanId: own.spanId, sampled: (own.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED };
  });

  onRequestDone(app, (request, reply) => {
    const span = request.otelSpan;
    if (!span) return;
    const mcp = request.mcp;
    const body = (typeof request.body === 'object' && request.body !== null ? request.body : {}) as {
      id?: unknown;
      params?: { protocolVersion?: unknown; _meta?: Record<string, unknown> };
    };
    const attributes: Attributes = {
      'network.transport': 'tcp',
      'network.protocol.name': 'http',
      'network.protocol.version': request.raw.httpVersion,
      'http.request.method': request.method,
      'http.response.status_code': reply.statusCode,
      'client.address': request.ip,
    };
    if (mcp?.method) attributes['mcp.method.name'] = mcp.method;
    if (mcp?.tool) {
      attributes['gen_ai.tool.name'] = mcp.tool;
      attributes['gen_ai.operation.name'] = 'execute_tool';
    }
    const opened = reply.getHeader('mcp-session-id');
    const sessionId = mcp?.sessionId ?? (typeof opened === 'string' ? opened : undefined);
    if (sessionId) attributes['mcp.session.id'] = sessionId;
    if (typeof body.id === 'string' || typeof body.id === 'number') {
      // jsonrpc.request.id is the current convention; rpc.jsonrpc.request_id the older RPC one some back ends still read.
      attributes['jsonrpc.request.id'] = String(body.id);
      attributes['rpc.jsonrpc.request_id'] = String(body.id);
    }
    const version = protocolVersionOf(request, body.params);
    if (version) attributes['mcp.protocol.version'] = version;
    if (request.errorCode) {
      attributes['error.type'] = request.errorCode;
      const entry = ERRORS[request.errorCode as ErrorCode] as { rpc: number } | undefined;
      if (entry) attributes['rpc.response.status_code'] = String(entry.rpc);
    }
    span.setAttributes(attributes);
    // `{mcp.method.name} {target}`, the target being the tool; GET streams and DELETEs have no MCP method.
    span.updateName(mcp?.method ? [mcp.method, mcp.tool].filter(Boolean).join(' ') : `${request.method} ${MCP_PATH}`);
    if (reply.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: request.errorCode ?? String(reply.statusCode) });
    span.end();
  });

  app.addHook('onClose', async () => {
    await tracing.shutdown().catch(() => {});
  });
}

function protocolVersionOf(request: FastifyRequest, params: { protocolVersion?: unknown; _meta?: Record<string, unknown> } | undefined): string | undefined {
  const header = request.headers['mcp-protocol-version'];
  if (typeof header === 'string') return header.slice(0, 40);
  const fromMeta = params?._meta?.['io.modelcontextprotocol/protocolVersion'];
  if (typeof fromMeta === 'string') return fromMeta.slice(0, 40);
  // initialize: the version the client asked for (the header does not exist yet).
  if (typeof params?.protocolVersion === 'string') return params.protocolVersion.slice(0, 40);
  return undefined;
}
