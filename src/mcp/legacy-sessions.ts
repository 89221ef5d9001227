import {
  isInitializeRequest,
  isJSONRPCResponse,
  SUPPORTED_PROTOCOL_VERSIONS,
  WebStandardStreamableHTTPServerTransport,
  type JSONRPCRequest,
} from '@modelcontextprotocol/server';
import type { Principal } from '../auth/principal.js';
import { AppError } from '../errors.js';
import type { SessionRecord, SessionRenewal, SessionStore } from '../state/session-store.js';
import type { McpCallContext, McpServerFactory, McpSessionHandle } from './call-context.js';
import { restoreClientState } from './client-state.js';
import { acceptsBoth, acceptsEventStream, type FailureSink, type McpHttpRequest } from './http-types.js';
import { closeAnsweredServer, jsonAnswer, requestInfo, type JsonAnswer } from './json-answer.js';
import { routeOutboundRequests } from './outbound-requests.js';
import { DirectJsonTransport } from './direct-json-transport.js';
import { parseEventId, STANDALONE_STREAM, type SessionEvents } from './session-events.js';
import { messageKind } from './message-kind.js';
import { isWellFormedSessionId, newSessionId } from './session-id.js';
import type { UserEvents } from './user-events.js';
import { openSessionStream, type OpenStream } from './sse-stream.js';
import { SessionServers, type SessionServer } from './session-servers.js';

export interface LegacySessionLayerOptions {
  sessions: SessionStore;
  events: SessionEvents;
  userEvents: UserEvents;
  factory: McpServerFactory;
  /** JSON unless the request asks for progress ('auto'), or always one of them. */
  responseMode: 'auto' | 'json' | 'sse';
  /**
   * In 'auto' mode, whether a request must be answered on a stream because its handler may send the client
   * a request of its own (e.g. a confirmation through elicitation) — JSON responses cannot carry one.
   */
  needsStream?: (request: JSONRPCRequest, record: SessionRecord) => boolean;
  /** How long a request's server may keep working after its client went away, so the answer lands in the log. */
  maxRequestMs?: number;
  sseKeepAliveMs: number;
  /** GET streams end with a retry hint after about this long (0 or absent: never); the client resumes. */
  sseMaxStreamMs?: number;
  /** Per-session state a new session starts from (e.g. the user's last active business). */
  initialSessionState?: (principal: Principal) => Promise<Pick<SessionRecord, 'activeBusinessId'>>;
  /** Infrastructure failures a tool turned into a tool result are re-raised through this. */
  toFailure: (failures: unknown[]) => AppError | undefined;
  /** Told about session and stream events, for the metrics. */
  metrics?: SessionMetrics;
  /** Connected servers kept for the sessions this instance serves (see SessionServers); absent or size 0: none. */
  serverCache?: { size: number; idleMs: number };
}

/** What the session layer reports for counting: sessions opened and closed, GET streams opened and what they replayed. */
export interface SessionMetrics {
  onSessionOpened(): void;
  onSessionClosed(): void;
  /** `resumed`: the client sent Last-Event-ID; `replayed`: events it got from the log. */
  onStreamOpened(resumed: boolean, replayed: number): void;
}

const SUPPORTED = new Set<string>(SUPPORTED_PROTOCOL_VERSIONS);

/**
 * A session load started ahead of the request's own handling (in the same turn of the event loop as the rate
 * check, so both go to Redis in one round trip); `loadSession` uses it when it is for the same id.
 */
export interface SessionPrefetch {
  readonly id: string;
  readonly record: Promise<SessionRecord | null>;
}

/** What a prefetch needs to know about the request, taken straight from the HTTP layer. */
export interface PrefetchHints {
  method: string;
  /** Who is asking: their credential may extend the session's cap (a refreshed token). */
  principal: Principal | undefined;
  sessionId: string | undefined;
  protocolVersion: string | undefined;
  body: unknown;
}

/**
 * 2025-era sessions without affinity: the session lives in the SessionStore, so any instance can take any request.
 * The SDK's own sessionful transport keeps sessions in one process, which is exactly what this layer replaces.
 * Every request loads (and touches) its session in the store; what an instance keeps of a session it served
 * lately is a connected server (SessionServers), reused when the store still says the session is there and whose
 * it is, and rebuilt from the store anywhere else.
 */
export class LegacySessionLayer {
  private readonly streams = new Set<OpenStream>();
  private readonly servers: SessionServers | undefined;

  constructor(private readonly opts: LegacySessionLayerOptions) {
    const cache = opts.serverCache;
    this.servers = cache && cache.size > 0 ? new SessionServers(cache.size, cache.idleMs) : undefined;
  }

  /**
   * Starts loading (and touching) the session a request names, when the request would load it, without waiting:
   * the caller awaits other work (the rate check) meanwhile and passes the result to post/get/delete. Nothing is
   * thrown here; every refusal stays where it was (loadSession and before it).
   */
  prefetch(hints: PrefetchHints): SessionPrefetch | undefined {
    const { method, sessionId: id, protocolVersion: version, body } = hints;
    if (id === undefined || !isWellFormedSessionId(id)) return undefined;
    if (version !== undefined && !SUPPORTED.has(version)) return undefined;
    if (method === 'POST') {
      if (Array.isArray(body) || body === undefined) return undefined;
      const kind = messageKind(body);
      if (kind === 'invalid' || (kind === 'request' && (body as JSONRPCRequest).method === 'initialize')) return undefined;
    } else if (method !== 'GET' && method !== 'DELETE') return undefined;
    const record = this.opts.sessions.touch(id, hints.principal && renewalOf(hints.principal));
    // Awaited later unless the request is refused first (e.g. rate-limited): never an unhandled rejection.
    record.catch(() => {});
    return { id, record };
  }

  /** A JSON answer comes back as a JsonAnswer (no web Response is built for it); everything else as a Response. */
  async post(req: McpHttpRequest, prefetched?: SessionPrefetch): Promise<Response | JsonAnswer> {
    const body = req.body;
    if (Array.isArray(body)) throw new AppError('batch_not_supported');
    if (!acceptsBoth(req.headers)) throw new AppError('not_acceptable');
    // The SDK's guards, once per body (the strict JSON-RPC schemas exclude each other).
    const kind = messageKind(body);
    if (kind === 'request' && (body as JSONRPCRequest).method === 'initialize') return this.initialize(req, body as JSONRPCRequest);
    if (kind === 'invalid') {
      throw new AppError('invalid_request');
    }

    const record = await this.loadSession(req, prefetched);
    if (kind === 'response') {
      // An answer to a server→client request: the instance that asked is listening on the session bus.
      await this.opts.events.bus.publish(record.id, { kind: 'reply', message: body as unknown as Record<string, unknown> });
      return new Response(null, { status: 202 });
    }
    if (kind !== 'request') {
      // Notifications need no server: `initialized` changes nothing we store.
      return new Response(null, { status: 202 });
    }
    return this.serve(req, body as JSONRPCRequest, record);
  }

  async get(req: McpHttpRequest, prefetched?: SessionPrefetch): Promise<Response> {
    if (!acceptsEventStream(req.headers)) throw new AppError('not_acceptable_sse');
    const record = await this.loadSession(req, prefetched);
    const { sessions } = this.opts;
    const lastEventId = req.headers.get('last-event-id');
    const resume = lastEventId === null ? null : parseEventId(lastEventId);
    if (lastEventId !== null && !resume) throw new AppError('invalid_last_event_id');
    const stream = await openSessionStream({
      sessionId: record.id,
      events: this.opts.events,
      streamId: resume?.streamId ?? STANDALONE_STREAM,
      // The standalone stream also hears changes made by the user's other sessions (not logged: hints only).
      userFeed: (onMessage) => this.opts.userEvents.subscribe(record.principal.uid, (n) => onMessage({ jsonrpc: '2.0', ...n }), record.id),
      ...(resume ? { afterEntryId: resume.entryId } : {}),
      keepAliveMs: this.opts.sseKeepAliveMs,
      ...(this.opts.sseMaxStreamMs ? { maxStreamMs: this.opts.sseMaxStreamMs } : {}),
      retryMs: 1000,
      stillAlive: async () => (await sessions.touch(record.id)) !== null,
      onClose: () => this.streams.delete(stream),
    });
    this.streams.add(stream);
    this.opts.metrics?.onStreamOpened(resume !== null, stream.replayed);
    return stream.response;
  }

  async delete(req: McpHttpRequest, prefetched?: SessionPrefetch): Promise<Response> {
    const record = await this.loadSession(req, prefetched);
    await this.opts.sessions.delete(record.id);
    this.servers?.evict(record.id);
    this.opts.metrics?.onSessionClosed();
    // Streams of this session may be open on other instances; they end when they hear this.
    await this.opts.events.bus.publish(record.id, { kind: 'close' }).catch(() => {});
    return new Response(null, { status: 204 });
  }

  /** Ends every GET stream this instance holds (shutdown); clients reconnect elsewhere. */
  closeStreams(): void {
    for (const s of [...this.streams]) s.end();
  }

  get openStreams(): number {
    return this.streams.size;
  }

  /** Sessions this instance keeps a connected server for. */
  get cachedServers(): number {
    return this.servers?.servers ?? 0;
  }

  /** Whether this instance keeps a connected server for the session (what its next request here would reuse). */
  cachesServerFor(sessionId: string): boolean {
    return this.servers?.has(sessionId) ?? false;
  }

  /**
   * The active business a session had at its last request here, when this instance caches its server for this
   * user: the catalog whose version the request reads next to its rate check. Only a guess (the session's
   * business may have changed elsewhere); a wrong one costs a database read.
   */
  lastActiveBusiness(sessionId: string, uid: string): string | undefined {
    return this.servers?.lastActiveBusiness(sessionId, uid);
  }

  /** Drops every cached server (shutdown). */
  dispose(): void {
    this.servers?.close();
  }

  private async initialize(req: McpHttpRequest, body: JSONRPCRequest): Promise<JsonAnswer> {
    // The SDK answers a malformed handshake with an internal error (-32603) carrying zod's issues: a client bug
    // is not our failure, so it is refused here, with what a handshake must hold.
    if (!isInitializeRequest(body)) throw new AppError('invalid_initialize');
    // Read while the handshake is answered (it is needed only to store the session): its round trip overlaps.
    const initialState = this.opts.initialSessionState?.(req.principal);
    initialState?.catch(() => {});
    const sessionId = newSessionId();
    const sink: FailureSink = { failures: [] };
    const server = this.opts.factory({ era: 'legacy', principal: req.principal, sink, userEvents: this.opts.userEvents, handshake: true });
    const transport = new DirectJsonTransport();
    await server.connect(transport);
    try {
      const answer = await transport.serve(body, { authInfo: authInfoFor(req.principal, sink), request: requestInfo(req) });
      // A handshake server declares no scopes (nothing to challenge), and nothing closes it before the answer.
      if (answer === undefined || answer === 'challenge') throw new Error('the handshake server did not answer');
      const reply = answer as { result?: { protocolVersion?: string } };
      // Answered with a JSON-RPC error: as it is, and no session.
      if (!reply.result) return jsonAnswer(reply);
      const params = body.params as { clientInfo: SessionRecord['clientInfo']; capabilities: Record<string, unknown> };
      const initial = (await initialState) ?? {};
      await this.opts.sessions.create({
        id: sessionId,
        protocolVersion: reply.result.protocolVersion ?? server.server.getNegotiatedProtocolVersion() ?? '2025-03-26',
        clientInfo: params.clientInfo,
        // As the SDK parsed them (it normalises, e.g. `elicitation: {}` means form elicitation), so a restored
        // server judges capabilities exactly as the one that saw the handshake.
        clientCapabilities: (server.server.getClientCapabilities() as Record<string, unknown> | undefined) ?? params.capabilities,
        principal: req.principal,
        ...(initial.activeBusinessId ? { activeBusinessId: initial.activeBusinessId } : {}),
        createdAt: Date.now(),
      });
      this.opts.metrics?.onSessionOpened();
      return jsonAnswer(reply, { 'mcp-session-id': sessionId });
    } finally {
      closeAnsweredServer(server, transport);
    }
  }

  private async serve(req: McpHttpRequest, body: JSONRPCRequest, record: SessionRecord): Promise<Response | JsonAnswer> {
    const stream = this.wantsStream(body, record);
    if (!stream) {
      // The session's cached server, else a one-off one, both over the direct transport; a scope challenge (met by
      // either, before anything ran) goes on to the SDK transport below, which writes the 403.
      const cached = this.servers ? await this.serveCached(this.servers, req, body, record) : undefined;
      const answered = cached ?? (await this.serveOneOff(req, body, record));
      if (answered !== 'challenge') return answered;
    }
    const sink: FailureSink = { failures: [] };
    const server = this.opts.factory(this.oneOffContext(req, body, record, sink));
    const transport = stream
      ? new WebStandardStreamableHTTPServerTransport({
          sessionIdGenerator: undefined,
          keepAliveMs: this.opts.sseKeepAliveMs,
          // Streamed answers are logged, so a client that loses the stream resumes it with GET + Last-Event-ID.
          eventStore: this.opts.events.eventStoreFor(record.id),
          retryInterval: 1000,
        })
      : // Reached only by a scope challenge (see above): the SDK writes the 403.
        new WebStandardStreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    await server.connect(transport);
    restoreClientState(server, record);
    const outbound = stream ? routeOutboundRequests(transport, record.id, this.opts.events.bus) : undefined;
    let tornDown = false;
    const teardown = () => {
      if (tornDown) return;
      tornDown = true;
      clearTimeout(deadline);
      // The request's signal outlives the request (undici keeps it until the Request object is collected and a
      // finalizer runs): left attached, this listener would keep the whole server and transport alive with it,
      // which under load grew the heap by hundreds of MB (docs/performance.md).
      req.signal?.removeEventListener('abort', teardown);
      outbound?.dispose();
      closeAnsweredServer(server, transport);
    };
    // A streamed request runs to its end even if the client goes away (its answer is logged for resumption),
    // but not forever.
    const deadline = setTimeout(teardown, this.opts.maxRequestMs ?? 10 * 60_000);
    deadline.unref();
    if (stream) {
      const send = transport.send.bind(transport);
      transport.send = async (message, options) => {
        await send(message, options);
        if (isJSONRPCResponse(message) && message.id === body.id) setImmediate(teardown);
      };
    } else {
      req.signal?.addEventListener('abort', teardown, { once: true });
    }
    let response: Response;
    try {
      const request = stream ? this.webRequest(req) : requestInfo(req);
      response = await transport.handleRequest(request, { parsedBody: body, authInfo: authInfoFor(req.principal, sink) });
    } catch (err) {
      teardown();
      throw err;
    }
    if (!response.headers.get('content-type')?.startsWith('text/event-stream')) {
      teardown();
      const failure = this.opts.toFailure(sink.failures);
      if (failure) throw failure;
    }
    return response;
  }

  /** What a one-off server of a session request knows of its call (it registers only the tool called, if known). */
  private oneOffContext(req: McpHttpRequest, body: JSONRPCRequest, record: SessionRecord, sink: FailureSink): McpCallContext {
    const toolName = body.method === 'tools/call' ? (body.params as { name?: unknown } | undefined)?.name : undefined;
    return {
      era: 'legacy',
      principal: req.principal,
      session: this.sessionHandle(record),
      sink,
      userEvents: this.opts.userEvents,
      ...(typeof toolName === 'string' ? { toolCall: toolName } : {}),
    };
  }

  /**
   * A JSON-answered request on a one-off server over the direct transport (the first request of a session here,
   * or one that found the session's cached server busy); 'challenge' on a scope challenge, which nothing has run
   * for and the SDK transport's path answers.
   */
  private async serveOneOff(req: McpHttpRequest, body: JSONRPCRequest, record: SessionRecord): Promise<JsonAnswer | 'challenge'> {
    const sink: FailureSink = { failures: [] };
    const server = this.opts.factory(this.oneOffContext(req, body, record, sink));
    const transport = new DirectJsonTransport(record.id);
    await server.connect(transport);
    restoreClientState(server, record);
    try {
      const answer = await transport.serve(body, { authInfo: authInfoFor(req.principal, sink), request: requestInfo(req) });
      if (answer === 'challenge') return answer;
      // Only closing the transport ends a request unanswered, and nothing closes it before the finally below.
      if (answer === undefined) throw new Error('a one-off server was closed under its request');
      const failure = this.opts.toFailure(sink.failures);
      if (failure) throw failure;
      return jsonAnswer(answer);
    } finally {
      closeAnsweredServer(server, transport);
    }
  }

  /**
   * A JSON-answered request on the session's cached server; undefined when there is none to use (see
   * SessionServers.take) and the request takes the one-off path; 'challenge' on a scope challenge.
   */
  private async serveCached(servers: SessionServers, req: McpHttpRequest, body: JSONRPCRequest, record: SessionRecord): Promise<JsonAnswer | 'challenge' | undefined> {
    const taken = servers.take(record.id, record.principal.uid, record.createdAt);
    if (taken === undefined) return undefined;
    let entry: SessionServer;
    if (taken === 'build') {
      try {
        entry = await this.buildSessionServer(record);
      } catch (err) {
        servers.abandon(record.id);
        throw err;
      }
      servers.adopt(entry);
    } else entry = taken;
    // This request's credential (the same user's, maybe a refreshed token with other scopes), its own failure
    // sink, and the active business as the store has it now (set_active_business may have run on another instance).
    const sink: FailureSink = { failures: [] };
    const { call, transport } = entry;
    call.principal = req.principal;
    call.sink = sink;
    if (record.activeBusinessId) call.session.activeBusinessId = record.activeBusinessId;
    else delete call.session.activeBusinessId;
    if (req.catalogCurrent) call.session.catalogCurrent = req.catalogCurrent;
    else delete call.session.catalogCurrent;
    let reusable = false;
    try {
      const answer = await transport.serve(body, { authInfo: authInfoFor(req.principal, sink), request: requestInfo(req) });
      // Closed under the request: only a deleted session's server is (the cache never closes one in use), and the
      // request may have run its tool, so it is not served again elsewhere.
      if (answer === undefined) throw new AppError('session_not_found');
      reusable = true;
      // A scope challenge: nothing ran; the SDK transport's path answers it.
      if (answer === 'challenge') return answer;
      const failure = this.opts.toFailure(sink.failures);
      if (failure) throw failure;
      return jsonAnswer(answer);
    } finally {
      servers.release(entry, reusable);
    }
  }

  /** A full server (every tool and resource) for a session, connected to a sessionful JSON transport. */
  private async buildSessionServer(record: SessionRecord): Promise<SessionServer> {
    const call = {
      era: 'legacy' as const,
      principal: record.principal,
      session: this.sessionHandle(record),
      sink: { failures: [] },
      userEvents: this.opts.userEvents,
    };
    const server = this.opts.factory(call);
    const transport = new DirectJsonTransport(record.id);
    await server.connect(transport);
    restoreClientState(server, record);
    return { sessionId: record.id, uid: record.principal.uid, createdAt: record.createdAt, call, server, transport };
  }

  private wantsStream(body: JSONRPCRequest, record: SessionRecord): boolean {
    if (this.opts.responseMode !== 'auto') return this.opts.responseMode === 'sse';
    const meta = (body.params as { _meta?: { progressToken?: unknown } } | undefined)?._meta;
    return meta?.progressToken !== undefined || (this.opts.needsStream?.(body, record) ?? false);
  }

  private sessionHandle(record: SessionRecord): McpSessionHandle {
    const { sessions, events } = this.opts;
    const id = record.id;
    return {
      id,
      ...(record.activeBusinessId ? { activeBusinessId: record.activeBusinessId } : {}),
      async setActiveBusiness(businessId) {
        if (!(await sessions.setActiveBusiness(id, businessId))) throw new AppError('session_not_found');
      },
      async notify(message) {
        await events.publish(id, STANDALONE_STREAM, { jsonrpc: '2.0', ...message });
      },
    };
  }

  /**
   * Finds the request's session. A session belongs to the user who opened it: anyone else gets the same
   * 404 as for an unknown id, so a leaked id reveals nothing and serves no one else.
   */
  private async loadSession(req: McpHttpRequest, prefetched?: SessionPrefetch): Promise<SessionRecord> {
    const id = req.headers.get('mcp-session-id');
    if (id === null) throw new AppError('session_id_required');
    if (!isWellFormedSessionId(id)) throw new AppError('session_id_malformed');
    const version = req.headers.get('mcp-protocol-version');
    if (version !== null && !SUPPORTED.has(version)) {
      throw new AppError('unsupported_protocol_version', `Got "${version.slice(0, 40)}"; supported: ${[...SUPPORTED].join(', ')}.`);
    }
    const record = await (prefetched?.id === id ? prefetched.record : this.opts.sessions.touch(id, renewalOf(req.principal)));
    if (!record) {
      // Deleted (maybe on another instance) or expired: whatever this instance kept of it goes too.
      this.servers?.evict(id);
      throw new AppError('session_not_found');
    }
    // Another user's credential: refused, and the owner's cached server is left alone.
    if (record.principal.uid !== req.principal.uid) throw new AppError('session_not_found');
    // A supported version other than the negotiated one is served under the negotiated one, as the SDK's own
    // transport does: the spec refuses only invalid or unsupported versions, and clients in the field (the
    // conformance suite's 0.1 scenarios among them) send 2025-03-26 on later sessions.
    return record;
  }

  private webRequest(req: McpHttpRequest): Request {
    return new Request(req.url, { method: 'POST', headers: req.headers.web(), ...(req.signal ? { signal: req.signal } : {}) });
  }
}

/** A request's credential as a session renewal: a refreshed access token keeps the session it was opened with. */
function renewalOf(principal: Principal): SessionRenewal {
  return { uid: principal.uid, expiresAt: principal.expiresAt };
}

export function authInfoFor(principal: Principal, sink: FailureSink) {
  return {
    token: principal.credentialId,
    clientId: principal.uid,
    scopes: [...principal.scopes],
    // The SDK's bearer gate insists on an expiry; credentials without one are checked per request anyway.
    expiresAt: Math.floor((principal.expiresAt ?? Date.now() + 3600_000) / 1000),
    // The SDK's insufficient_scope challenge derives its resource_metadata URL from this.
    ...(principal.resource ? { resource: new URL(principal.resource) } : {}),
    extra: { principal, sink },
  };
}
