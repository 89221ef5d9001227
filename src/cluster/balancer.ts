import { Readable } from 'node:stream';
import replyFrom from '@fastify/reply-from';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import type { IncomingHttpHeaders } from 'node:http';

/**
 * A round-robin HTTP load balancer with no affinity of any kind: every request (POST, GET stream, DELETE) goes
 * to the next instance in turn, whatever its session. It exists to show that the instances need none.
 *
 * The only exception is health, not affinity: when an instance refuses the connection (it is down), the same
 * request is offered to the next one; nothing reached the refusing instance, so nothing can run twice. A request
 * that no instance accepts gets a 502 with a JSON-RPC error body.
 */
export interface Upstream {
  /** Reported in the x-flowpos-upstream response header (i1, i2, …). */
  name: string;
  /** Base URL, e.g. http://127.0.0.1:4001. */
  url: string;
}

export interface BalancerOptions {
  upstreams: Upstream[];
  port: number;
  host?: string;
  /** Largest request body passed on; keep it above the instances' MCP_MAX_BODY_BYTES so they answer 413 themselves. */
  bodyLimit?: number;
  /** Longest wait for an instance's response headers; its body (an SSE stream) is never timed out. */
  headersTimeoutMs?: number;
  /** Failovers and upstream failures, one line each. */
  log?: (line: string) => void;
}

export interface Balancer {
  /** http://host:port of the balancer. */
  url: string;
  port: number;
  /** Requests handed to each upstream (including refused attempts), by name. */
  attempts: Record<string, number>;
  close(): Promise<void>;
}

export const UPSTREAM_HEADER = 'x-flowpos-upstream';

const REFUSED = new Set(['ECONNREFUSED']);
/** Response headers that describe the instance↔balancer hop, not the balancer↔client one. */
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer'];

function causeCode(err: unknown): string | undefined {
  let e = err as { code?: unknown; cause?: unknown } | undefined;
  for (let depth = 0; e && depth < 5; depth++) {
    if (typeof e.code === 'string' && /^E[A-Z]+$|^UND_ERR_/.test(e.code)) return e.code;
    e = e.cause as typeof e;
  }
  return undefined;
}

function rpcId(body: Buffer | undefined): string | number | null {
  if (!body || body.length === 0 || body.length > 65_536) return null;
  try {
    const id = (JSON.parse(body.toString('utf8')) as { id?: unknown }).id;
    return typeof id === 'string' || typeof id === 'number' ? id : null;
  } catch {
    return null;
  }
}

export async function startBalancer(opts: BalancerOptions): Promise<Balancer> {
  if (opts.upstreams.length === 0) throw new Error('the balancer needs at least one upstream');
  const log = opts.log ?? (() => {});
  const upstreams = opts.upstreams;
  const attempts: Record<string, number> = Object.fromEntries(upstreams.map((u) => [u.name, 0]));
  let next = 0;

  const app = Fastify({
    logger: false,
    bodyLimit: opts.bodyLimit ?? 64 * 1024 * 1024 + 1,
    // SSE streams are long-lived: close() must end them rather than wait for them.
    forceCloseConnections: true,
    requestTimeout: 0,
  });
  // Bodies are passed on byte for byte, whatever their type (a malformed one is the instance's to refuse), and
  // kept as a buffer so a request refused by one instance can be offered to the next.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));

  await app.register(replyFrom, {
    undici: { connections: 128, pipelining: 1, headersTimeout: opts.headersTimeoutMs ?? 60_000, bodyTimeout: 0 },
    // No retries by the library: a retried POST could run twice, and a retried 503 would hide the instance's answer.
    retryMethods: [],
    disableRequestLogging: true,
  });

  /** `at` is the upstream's index: the next in turn for a new request, the next untried after a refusal. */
  const forward = (request: FastifyRequest, reply: FastifyReply, raw: Buffer | undefined, tried: string[], at: number) => {
    const upstream = upstreams[at]!;
    attempts[upstream.name]!++;
    tried.push(upstream.name);
    if (raw) request.body = Readable.from([raw], { objectMode: false });
    reply.from(`${upstream.url}${request.url}`, {
      rewriteRequestHeaders: (req, headers) => {
        const forwardedFor = headers['x-forwarded-for'];
        return {
          ...headers,
          'x-forwarded-for': forwardedFor ? `${String(forwardedFor)}, ${req.ip}` : req.ip,
          'x-forwarded-proto': req.protocol,
          ...(req.headers.host ? { 'x-forwarded-host': req.headers.host } : {}),
        };
      },
      rewriteHeaders: (headers) => {
        const out: IncomingHttpHeaders = { ...(headers as IncomingHttpHeaders) };
        for (const name of HOP_BY_HOP) delete out[name];
        out[UPSTREAM_HEADER] = upstream.name;
        return out;
      },
      onError: (_sameReply, { error }) => {
        const code = causeCode(error);
        if (code && REFUSED.has(code) && !reply.sent) {
          if (tried.length < upstreams.length) {
            // Walk the ring from the refusing instance (not the shared counter, which concurrent requests move
            // on meanwhile and could lead back to the same dead instance).
            let k = (at + 1) % upstreams.length;
            while (tried.includes(upstreams[k]!.name)) k = (k + 1) % upstreams.length;
            log(`${upstream.name} refused the connection; ${request.method} ${request.url} goes to ${upstreams[k]!.name}`);
            forward(request, reply, raw, tried, k);
            return;
          }
          log(`no instance accepted ${request.method} ${request.url} (tried ${tried.join(', ')})`);
          sendError(reply, 502, 'no_upstream', `Bad Gateway: no flowpos-mcp instance accepted the connection (tried ${tried.join(', ')}); retry shortly.`, raw, {
            'retry-after': '1',
          });
          return;
        }
        const timedOut = code === 'UND_ERR_HEADERS_TIMEOUT' || (error as { statusCode?: number }).statusCode === 504;
        log(`${upstream.name} failed ${request.method} ${request.url}: ${code ?? error.message}`);
        if (reply.sent) return;
        if (timedOut) {
          sendError(reply, 504, 'upstream_timeout', `Gateway Timeout: instance ${upstream.name} did not answer in time.`, raw, {}, upstream.name);
        } else {
          sendError(
            reply,
            502,
            'upstream_failed',
            `Bad Gateway: instance ${upstream.name} closed the connection before answering (${code ?? 'error'}); the request may or may not have been applied.`,
            raw,
            {},
            upstream.name,
          );
        }
      },
    });
    return reply;
  };

  app.all('/*', (request, reply) => {
    const raw = Buffer.isBuffer(request.body) ? request.body : undefined;
    return forward(request, reply, raw, [], next++ % upstreams.length);
  });

  await app.listen({ port: opts.port, host: opts.host ?? '127.0.0.1' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const host = opts.host && opts.host !== '0.0.0.0' && opts.host !== '::' ? opts.host : '127.0.0.1';
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    attempts,
    close: () => app.close(),
  };
}

function sendError(
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
  raw: Buffer | undefined,
  headers: Record<string, string>,
  upstream?: string,
): void {
  reply
    .code(status)
    .headers({ ...headers, ...(upstream ? { [UPSTREAM_HEADER]: upstream } : {}) })
    .type('application/json')
    .send(JSON.stringify({ jsonrpc: '2.0', id: rpcId(raw), error: { code: -32002, message, data: { code } } }));
}
