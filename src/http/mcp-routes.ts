import { classifyInboundRequest, PROTOCOL_VERSION_META_KEY, SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/server';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Authenticator } from '../auth/authenticate.js';
import type { Principal } from '../auth/principal.js';
import { type Config, MCP_PATH } from '../config.js';
import type { LegacySessionLayer, SessionPrefetch } from '../mcp/legacy-sessions.js';
import type { ModernLayer } from '../mcp/modern-handler.js';
import type { McpHttpRequest } from '../mcp/http-types.js';
import { isJsonAnswer, type JsonAnswer } from '../mcp/json-answer.js';
import { RequestHeaders } from '../mcp/request-headers.js';
import { messageKind } from '../mcp/message-kind.js';
import { AppError } from '../errors.js';
import { rateLimitedToolResult } from './rate-limit.js';
import { checkHostAndOrigin } from './guards.js';

export interface McpRoutesOptions {
  config: Config;
  authenticator: Authenticator;
  legacy: LegacySessionLayer;
  modern: ModernLayer;
  /** Runs after authentication and body parsing, before the call is served (the rate limit); throws to refuse. */
  beforeCall?: (request: FastifyRequest) => Promise<void>;
  /**
   * Reads the versions of what the instance caches for this user (and this business's catalog), in the same turn as
   * the rate check and the session load; resolves with the business whose catalog version it read. Never rejects.
   */
  refreshCaches?: (userId: string, businessId?: string) => Promise<string | undefined>;
}

declare module 'fastify' {
  interface FastifyRequest {
    principal?: Principal;
    /** Filled for the request log line: what MCP call this was. */
    mcp?: { era?: 'legacy' | 'modern'; method?: string; tool?: string; sessionId?: string };
    /** The 2025-era session load started next to the rate check (see LegacySessionLayer.prefetch). */
    sessionPrefetch?: SessionPrefetch;
    /** The business whose catalog version was read for this request. */
    catalogCurrent?: string;
  }
}

/**
 * /mcp for both protocol eras. Host/Origin and credentials are checked in this plugin's onRequest hook,
 * before the body is read, so unauthenticated callers cost no parsing and reach no session.
 */
export async function mcpRoutes(app: FastifyInstance, opts: McpRoutesOptions): Promise<void> {
  const { config, authenticator, legacy, modern } = opts;

  // An empty body is not a parse error for GET and DELETE, which some clients send with a JSON Content-Type.
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: config.maxBodyBytes }, (_request, text, done) => {
    if (text === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text as string));
    } catch {
      done(new AppError('parse_error'), undefined);
    }
  });

  app.addHook('onRequest', async (request) => {
    checkHostAndOrigin(config, request.headers.host, request.headers.origin);
    request.principal = await authenticator.authenticate(request.headers.authorization);
  });

  app.addHook('preHandler', async (request, reply) => {
    // Noted before the check, so a refused call is still logged and counted as what it was.
    const sessionId = request.headers['mcp-session-id'];
    const body = request.body;
    request.mcp = { ...(typeof sessionId === 'string' ? { sessionId } : {}) };
    if (request.method !== 'POST') request.mcp.era = 'legacy';
    else if (body !== undefined) {
      noteCall(request, body);
      request.mcp.era = Array.isArray(body) ? 'legacy' : classify(request, body);
    }
    if (request.mcp.era === 'legacy' && typeof sessionId === 'string') {
      // Started before the rate check and in the same turn, so node-redis sends both in one write: one round trip
      // instead of two. A refused request has then touched its session too, which only pushes its expiry out.
      const version = request.headers['mcp-protocol-version'];
      request.sessionPrefetch = legacy.prefetch({
        method: request.method,
        principal: request.principal,
        sessionId,
        protocolVersion: typeof version === 'string' ? version : undefined,
        body,
      });
    }
    // Also in this turn: one more command in the same write, not another round trip.
    const principal = request.principal;
    const sessionIdForGuess = request.mcp.era === 'legacy' && typeof sessionId === 'string' ? sessionId : undefined;
    const refreshed = principal
      ? opts.refreshCaches?.(principal.uid, sessionIdForGuess === undefined ? undefined : legacy.lastActiveBusiness(sessionIdForGuess, principal.uid))
      : undefined;
    try {
      await opts.beforeCall?.(request);
    } catch (err) {
      // A refused request serves nothing, so the version read is not waited for (nor left to reject unheard).
      refreshed?.catch(() => {});
      const answer = rateLimitedToolResult(err, body);
      if (!answer) throw err;
      request.errorCode = 'rate_limited';
      return reply.code(200).headers(answer.headers).send(answer.body);
    }
    const current = await refreshed;
    if (current !== undefined) request.catalogCurrent = current;
  });

  const url = `${config.publicUrl}${MCP_PATH}`;
  const toMcp = (request: FastifyRequest, reply: FastifyReply): McpHttpRequest => {
    // The abort signal (and its listener on the socket) only for the requests that read it: streams and one-off
    // servers, not the JSON answers of cached session servers.
    let abort: AbortController | undefined;
    return {
      method: request.method,
      url,
      headers: new RequestHeaders(request.headers),
      body: request.body,
      principal: request.principal!,
      get signal() {
        if (!abort) {
          const controller = (abort = new AbortController());
          if (reply.raw.destroyed && !reply.raw.writableFinished) controller.abort();
          else
            reply.raw.on('close', () => {
              if (!reply.raw.writableFinished) controller.abort();
            });
        }
        return abort.signal;
      },
      ...(request.catalogCurrent !== undefined ? { catalogCurrent: request.catalogCurrent } : {}),
    };
  };

  app.post(MCP_PATH, { bodyLimit: config.maxBodyBytes }, async (request, reply) => {
    const req = toMcp(request, reply);
    const body = request.body;
    if (body === undefined) throw new AppError('parse_error', 'The body is empty.');
    const era = request.mcp!.era ?? 'legacy';
    const response = era === 'legacy' ? await legacy.post(req, request.sessionPrefetch) : await modern.post(req);
    return sendWeb(reply, response);
  });

  app.get(MCP_PATH, async (request, reply) => {
    const req = toMcp(request, reply);
    return sendWeb(reply, await legacy.get(req, request.sessionPrefetch));
  });

  app.delete(MCP_PATH, async (request, reply) => {
    const req = toMcp(request, reply);
    return sendWeb(reply, await legacy.delete(req, request.sessionPrefetch));
  });
}

/** The 2025-era versions this SDK speaks: a header naming one of them asks for nothing modern. */
const LEGACY_VERSIONS = new Set(SUPPORTED_PROTOCOL_VERSIONS.filter((v) => v < '2026-07-28'));

function classify(request: FastifyRequest, body: unknown): 'legacy' | 'modern' {
  // The common case decided without the SDK's classifier, which tries three schemas on every body (two of them
  // failing, with their issues built): a JSON-RPC request or notification (by the guard messageKind runs once per
  // body) that claims no 2026-07-28 envelope and whose header names no modern version is 2025-era by the SDK's
  // own rules (classifyInboundRequest: an envelope claim or a modern header is what makes a message modern).
  const kind = messageKind(body);
  if (kind === 'request' || kind === 'notification') {
    const version = request.headers['mcp-protocol-version'];
    const meta = (body as { params?: { _meta?: unknown } }).params?._meta;
    const claims = typeof meta === 'object' && meta !== null && PROTOCOL_VERSION_META_KEY in meta;
    if (!claims && (version === undefined || (typeof version === 'string' && LEGACY_VERSIONS.has(version.trim())))) return 'legacy';
  }
  const header = (name: string) => {
    const v = request.headers[name];
    return typeof v === 'string' ? v : undefined;
  };
  const protocolVersionHeader = header('mcp-protocol-version');
  const mcpMethodHeader = header('mcp-method');
  const mcpNameHeader = header('mcp-name');
  const outcome = classifyInboundRequest({
    httpMethod: 'POST',
    body,
    ...(protocolVersionHeader !== undefined ? { protocolVersionHeader } : {}),
    ...(mcpMethodHeader !== undefined ? { mcpMethodHeader } : {}),
    ...(mcpNameHeader !== undefined ? { mcpNameHeader } : {}),
  });
  // Ladder rejections are modern-era requests with broken envelopes: the SDK answers those precisely.
  return outcome.kind === 'legacy' ? 'legacy' : 'modern';
}

function noteCall(request: FastifyRequest, body: unknown): void {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return;
  const { method, params } = body as { method?: unknown; params?: { name?: unknown } };
  if (typeof method === 'string') request.mcp!.method = method.slice(0, 100);
  if (method === 'tools/call' && typeof params?.name === 'string') request.mcp!.tool = params.name.slice(0, 100);
}

async function sendWeb(reply: FastifyReply, response: Response | JsonAnswer): Promise<FastifyReply> {
  if (isJsonAnswer(response)) return reply.code(response.status).headers(response.headers).send(response.body);
  reply.code(response.status);
  response.headers.forEach((value, name) => {
    reply.header(name, value);
  });
  if (response.body === null) return reply.send();
  if (response.headers.get('content-type')?.startsWith('text/event-stream')) return reply.send(response.body);
  return reply.send(await response.text());
}
