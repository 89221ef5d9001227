import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AppError } from '../errors.js';
import { infraError } from './infra-errors.js';
import { lazyChildLoggerFactory, scrubSecrets } from './logger.js';
import { cloudLoggingTraceFields, incomingTrace, type TraceContext } from './trace-context.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's trace: from its headers, replaced by our own span's ids when tracing is on. */
    traceContext?: TraceContext;
    /** The catalog code of the error the request ended with, if any (for the log line and the metrics). */
    errorCode?: string;
  }
}

export interface RequestLogOptions {
  /** GOOGLE_CLOUD_PROJECT: with it, lines carry `logging.googleapis.com/trace` and are shown under their trace. */
  projectId?: string;
  /** Paths that are not logged (probes and scrapes would drown everything else). */
  quietPaths?: readonly string[];
}

/**
 * One line per request, written when the response is done, in Cloud Logging's shape: `httpRequest` for the
 * HTTP facts, `mcp` for what the call was (era, method, tool, session), `principal` for who made it (user and
 * credential id, never the credential), and the trace it belongs to. Installed on the root instance, so it
 * sees every route.
 */
export function installRequestLog(app: FastifyInstance, opts: RequestLogOptions = {}): void {
  const quiet = new Set(opts.quietPaths ?? ['/health', '/metrics']);
  // Each request's logger becomes a pino child only when it writes (routes registered after this get it).
  app.setChildLoggerFactory(lazyChildLoggerFactory as unknown as Parameters<FastifyInstance['setChildLoggerFactory']>[0]);

  // Hooks on every request take a callback rather than returning a promise: one allocation less each.
  app.addHook('onRequest', (request, _reply, done) => {
    const trace = incomingTrace(request.headers);
    if (trace) request.traceContext = trace;
    done();
  });

  app.addHook('onError', async (request, _reply, error) => {
    request.errorCode ??= errorCodeOf(error);
  });

  onRequestDone(app, (request, reply) => {
    const path = request.url.split('?')[0] ?? '';
    if (quiet.has(path)) return;
    const status = reply.statusCode;
    // Nothing to build when the line would not be written (LOG_LEVEL=warn and a request that did not fail).
    const log = request.log as FastifyRequest['log'] & { isLevelEnabled?: (level: string) => boolean };
    if (log.isLevelEnabled && !log.isLevelEnabled(status >= 500 ? 'warn' : 'info')) return;
    const mcp = mcpFields(request, reply);
    const fields = {
      httpRequest: httpRequestFields(request, reply),
      ...(mcp ? { mcp } : {}),
      ...(request.principal ? { principal: { uid: request.principal.uid, credentialId: request.principal.credentialId } } : {}),
      ...(request.errorCode ? { error: request.errorCode } : {}),
      ...cloudLoggingTraceFields(opts.projectId, request.traceContext),
    };
    const what = [mcp?.method, mcp?.tool].filter(Boolean).join(' ');
    const message = `${request.method} ${path} ${status}${what ? ` ${what}` : ''}`;
    if (status >= 500) request.log.warn(fields, message);
    else request.log.info(fields, message);
  });
}

/**
 * Runs `fn` once per request when it is over: when the response has been sent (onResponse), or when the connection
 * closed first — a client that drops a GET stream never lets the response finish, and Fastify then runs no
 * onResponse hook, yet the request still deserves its log line, its count and its span.
 */
export function onRequestDone(app: FastifyInstance, fn: (request: FastifyRequest, reply: FastifyReply) => void): void {
  // Every caller on one instance shares one pair of hooks and one 'close' listener per request.
  const known = doneHandlers.get(app);
  if (known) {
    known.push(fn);
    return;
  }
  const handlers = [fn];
  doneHandlers.set(app, handlers);
  const done = new WeakSet<FastifyRequest>();
  const once = (request: FastifyRequest, reply: FastifyReply) => {
    if (done.has(request)) return;
    done.add(request);
    for (const handler of handlers) handler(request, reply);
  };
  app.addHook('onRequest', (request, reply, next) => {
    reply.raw.once('close', () => once(request, reply));
    next();
  });
  app.addHook('onResponse', (request, reply, next) => {
    once(request, reply);
    next();
  });
}

const doneHandlers = new WeakMap<FastifyInstance, ((request: FastifyRequest, reply: FastifyReply) => void)[]>();

/** Cloud Logging's HttpRequest: https://cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry#HttpRequest */
function httpRequestFields(request: FastifyRequest, reply: FastifyReply): Record<string, unknown> {
  const header = (v: unknown) => (typeof v === 'string' ? v : Array.isArray(v) ? String(v[0]) : typeof v === 'number' ? String(v) : undefined);
  const responseSize = header(reply.getHeader('content-length'));
  const requestSize = header(request.headers['content-length']);
  const userAgent = header(request.headers['user-agent']);
  const referer = header(request.headers.referer);
  return {
    requestMethod: request.method,
    requestUrl: scrubSecrets(request.url).slice(0, 2000),
    status: reply.statusCode,
    latency: `${Number((reply.elapsedTime / 1000).toFixed(6))}s`,
    remoteIp: request.ip,
    protocol: `HTTP/${request.raw.httpVersion}`,
    ...(userAgent ? { userAgent: userAgent.slice(0, 500) } : {}),
    ...(referer ? { referer: scrubSecrets(referer).slice(0, 500) } : {}),
    ...(requestSize ? { requestSize } : {}),
    ...(responseSize ? { responseSize } : {}),
  };
}

function mcpFields(request: FastifyRequest, reply: FastifyReply) {
  if (!request.mcp) return undefined;
  // initialize has no session id on the way in; the one it opened is on the way out.
  const opened = reply.getHeader('mcp-session-id');
  const sessionId = request.mcp.sessionId ?? (typeof opened === 'string' ? opened : undefined);
  return { ...request.mcp, ...(sessionId ? { sessionId } : {}) };
}

export function errorCodeOf(error: unknown): string {
  if (error instanceof AppError) return error.code;
  const infra = infraError(error);
  if (infra) return infra.code;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code.slice(0, 60) : 'internal';
}
