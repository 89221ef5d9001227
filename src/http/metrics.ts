import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { MCP_PATH } from '../config.js';
import { AppError } from '../errors.js';
import type { OAuthEvent } from '../auth/authorization-server.js';
import type { SessionMetrics } from '../mcp/legacy-sessions.js';
import { onRequestDone } from './request-log.js';

/**
 * Prometheus metrics of one server instance, in a registry of its own (never prom-client's global one), so two
 * instances in one process (the tests) count apart. Label values come from a fixed vocabulary: an MCP method or
 * tool name a caller made up is counted as `other`, so a caller cannot create series at will.
 */

const MCP_METHODS = new Set([
  'initialize',
  'ping',
  'tools/list',
  'tools/call',
  'resources/list',
  'resources/templates/list',
  'resources/read',
  'resources/subscribe',
  'resources/unsubscribe',
  'prompts/list',
  'prompts/get',
  'completion/complete',
  'logging/setLevel',
  'server/discover',
  'subscriptions/listen',
  'notifications/initialized',
  'notifications/cancelled',
  'notifications/progress',
  'notifications/roots/list_changed',
]);

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface MetricsOptions {
  /** Tool names that get a label value of their own; others are `other`. */
  knownTools: Iterable<string>;
  /** This instance's open GET streams, sampled at scrape time. */
  openStreams?: () => number;
}

export type OutageCause = 'redis' | 'database';

export class Metrics implements SessionMetrics {
  readonly registry = new Registry();
  private readonly tools: Set<string>;
  private readonly requests: Counter<'http_method' | 'mcp_method' | 'tool' | 'status' | 'era'>;
  private readonly latency: Histogram<'era' | 'mcp_method'>;
  private readonly sessionsOpened: Counter;
  private readonly sessionsClosed: Counter;
  private readonly streamsOpened: Counter<'resumed'>;
  private readonly replayed: Counter;
  private readonly outages: Counter<'cause'>;
  private readonly redisConnectionErrors: Counter;
  private readonly rateLimited: Counter<'limit'>;
  private readonly oauthEvents: Counter<'event'>;

  constructor(opts: MetricsOptions) {
    this.tools = new Set(opts.knownTools);
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({
      name: 'flowpos_mcp_requests_total',
      help: 'Requests to /mcp by HTTP method, MCP method, tool, HTTP status and protocol era.',
      labelNames: ['http_method', 'mcp_method', 'tool', 'status', 'era'],
      registers,
    });
    this.latency = new Histogram({
      name: 'flowpos_mcp_request_duration_seconds',
      help: 'Time to answer a POST to /mcp (until the last byte, for streamed answers), by era and MCP method.',
      labelNames: ['era', 'mcp_method'],
      buckets: LATENCY_BUCKETS,
      registers,
    });
    this.sessionsOpened = new Counter({ name: 'flowpos_mcp_sessions_opened_total', help: '2025-era sessions opened (successful initialize).', registers });
    this.sessionsClosed = new Counter({ name: 'flowpos_mcp_sessions_closed_total', help: '2025-era sessions ended by the client (DELETE).', registers });
    this.streamsOpened = new Counter({
      name: 'flowpos_mcp_streams_opened_total',
      help: 'GET streams opened; resumed="true" for reconnects with Last-Event-ID.',
      labelNames: ['resumed'],
      registers,
    });
    this.replayed = new Counter({ name: 'flowpos_mcp_stream_events_replayed_total', help: 'Events replayed from the log to reconnecting streams.', registers });
    this.outages = new Counter({
      name: 'flowpos_backend_unavailable_total',
      help: 'Requests answered 503 because a backing service was unreachable, by cause.',
      labelNames: ['cause'],
      registers,
    });
    this.redisConnectionErrors = new Counter({ name: 'flowpos_redis_connection_errors_total', help: 'Redis connection errors (each failed reconnect attempt).', registers });
    this.rateLimited = new Counter({
      name: 'flowpos_rate_limited_total',
      help: 'Requests refused by a rate limit: limit="requests" (all requests of a principal) or "writes" (cart-changing tools).',
      labelNames: ['limit'],
      registers,
    });
    this.oauthEvents = new Counter({
      name: 'flowpos_oauth_events_total',
      help:
        'Browser sign-in steps (signed_in, consented, denied, code_redeemed, refreshed, client_registered) and attacks caught ' +
        '(code_replayed, refresh_reused, registration_limited).',
      labelNames: ['event'],
      registers,
    });
    if (opts.openStreams) {
      const openStreams = opts.openStreams;
      new Gauge({
        name: 'flowpos_mcp_open_streams',
        help: 'GET streams this instance holds open.',
        registers,
        collect() {
          this.set(openStreams());
        },
      });
    }
  }

  onSessionOpened(): void {
    this.sessionsOpened.inc();
  }

  onSessionClosed(): void {
    this.sessionsClosed.inc();
  }

  onStreamOpened(resumed: boolean, replayed: number): void {
    this.streamsOpened.inc({ resumed: String(resumed) });
    if (replayed > 0) this.replayed.inc(replayed);
  }

  onRateLimited(limit: 'requests' | 'writes'): void {
    this.rateLimited.inc({ limit });
  }

  onOAuthEvent(event: OAuthEvent): void {
    this.oauthEvents.inc({ event });
  }

  onRedisConnectionError(): void {
    this.redisConnectionErrors.inc();
  }

  /** Counts a finished /mcp request. */
  observe(request: FastifyRequest, reply: FastifyReply): void {
    const mcp = request.mcp;
    const method = mcp?.method === undefined ? 'none' : MCP_METHODS.has(mcp.method) ? mcp.method : mcp.method.startsWith('notifications/') ? 'notifications/other' : 'other';
    const tool = mcp?.tool === undefined ? 'none' : this.tools.has(mcp.tool) ? mcp.tool : 'other';
    const era = mcp?.era ?? 'none';
    this.requests.inc({ http_method: request.method, mcp_method: method, tool, status: String(reply.statusCode), era });
    // GET streams last as long as the client listens: their duration is not a latency.
    if (request.method === 'POST') this.latency.observe({ era, mcp_method: method }, reply.elapsedTime / 1000);
    const cause = outageCause(request.errorCode);
    if (cause) this.outages.inc({ cause });
  }
}

function outageCause(code: string | undefined): OutageCause | undefined {
  if (code === 'unavailable_redis') return 'redis';
  if (code === 'unavailable_db') return 'database';
  return undefined;
}

/** Counts every /mcp request when its response is done (root hook: sees refusals of the auth gate too). */
export function installMetrics(app: FastifyInstance, metrics: Metrics): void {
  onRequestDone(app, (request, reply) => {
    if (request.routeOptions.url === MCP_PATH) metrics.observe(request, reply);
  });
}

export interface MetricsRoutesOptions {
  metrics: Metrics;
  /** METRICS_TOKEN: when set, a scrape must send `Authorization: Bearer <token>`. */
  token?: string;
}

/** GET /metrics in the Prometheus text format. */
export async function metricsRoutes(app: FastifyInstance, opts: MetricsRoutesOptions): Promise<void> {
  const expected = opts.token === undefined ? undefined : digest(opts.token);
  app.get('/metrics', async (request, reply) => {
    if (expected) {
      const presented = /^Bearer[ ]+(\S+)[ ]*$/i.exec(request.headers.authorization ?? '')?.[1];
      if (presented === undefined) throw new AppError('unauthorized', 'Send Authorization: Bearer <METRICS_TOKEN>.');
      if (!timingSafeEqual(digest(presented), expected)) throw new AppError('invalid_token');
    }
    const body = await opts.metrics.registry.metrics();
    return reply.header('cache-control', 'no-store').type(opts.metrics.registry.contentType).send(body);
  });
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value, 'utf8').digest();
}
