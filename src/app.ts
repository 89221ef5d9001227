import cors from '@fastify/cors';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { ApiKeyAuthenticator } from './auth/api-key-auth.js';
import { createAuthenticator } from './auth/authenticate.js';
import type { OAuthEvent } from './auth/authorization-server.js';
import { createOAuth } from './auth/oauth.js';
import { resourceMetadataUrl } from './auth/oauth-metadata.js';
import { ALL_SCOPES } from './auth/principal.js';
import { type Config, MCP_PATH } from './config.js';
import type { Db } from './db/db.js';
import { migrate } from './db/migrate.js';
import { openDb } from './db/open.js';
import { seedDemo } from './db/seed.js';
import { installErrorHandling } from './http/error-handler.js';
import { isLoopbackOrigin } from './http/guards.js';
import { healthRoutes } from './http/health-routes.js';
import { createLogger } from './http/logger.js';
import { installMetrics, Metrics, metricsRoutes } from './http/metrics.js';
import { rateLimitCheck } from './http/rate-limit.js';
import { installRequestLog } from './http/request-log.js';
import { installTracing, Tracing } from './http/tracing.js';
import { firstInfraFailure, infraError } from './http/infra-errors.js';
import { mcpRoutes } from './http/mcp-routes.js';
import { oauthRoutes } from './http/oauth-routes.js';
import { authorizeRoutes } from './http/authorize-routes.js';
import { drainHttp } from './http/shutdown.js';
import { LegacySessionLayer } from './mcp/legacy-sessions.js';
import { ModernLayer } from './mcp/modern-handler.js';
import { SessionEvents } from './mcp/session-events.js';
import { UserEvents } from './mcp/user-events.js';
import { CatalogCache } from './pos/catalog-cache.js';
import { MembershipCache } from './pos/membership-cache.js';
import { PosService } from './pos/pos-service.js';
import { checkoutMayConfirm, createPosServerFactory } from './pos/server-factory.js';
import { toolDefinitions } from './pos/tool-definitions.js';
import { WRITE_TOOLS } from './pos/write-tools.js';
import { createStores } from './state/stores.js';
import type { DestinationStream } from 'pino';
import type { SpanExporter } from '@opentelemetry/sdk-trace-base';

export type Stores = Awaited<ReturnType<typeof createStores>>;

export interface FlowposServer {
  app: FastifyInstance;
  config: Config;
  db: Db;
  stores: Stores;
  legacy: LegacySessionLayer;
  /** Starts listening; resolves with the base URL actually bound. */
  listen(): Promise<string>;
  /**
   * Stops accepting, ends streams (clients resume elsewhere), lets in-flight requests finish within
   * SHUTDOWN_GRACE_SECONDS, then closes Redis and PostgreSQL. Rejects if closing any of them failed.
   */
  close(): Promise<void>;
}

/** What a caller may swap in besides Config (tests: where log lines go, where spans go). */
export interface FlowposServerOptions {
  /** Destination of the JSON log lines; stdout by default. */
  logStream?: DestinationStream;
  /** Receives every finished span, whether or not OTEL_EXPORTER_OTLP_ENDPOINT is set (tracing is on with it). */
  spanExporter?: SpanExporter;
  /** Extra trusted CA (PEM) for fetching Client ID Metadata Documents: a test's self-signed HTTPS server. */
  clientMetadataCa?: string | Buffer;
}

/** The composition root: every adapter is chosen here from Config, and nowhere else. */
export async function createFlowposServer(config: Config, options: FlowposServerOptions = {}): Promise<FlowposServer> {
  const logger: FastifyBaseLogger = createLogger({ level: config.logLevel, ...(options.logStream ? { stream: options.logStream } : {}) });
  const { observability } = config;
  const metrics: Metrics | undefined = observability.metricsEnabled
    ? new Metrics({ knownTools: Object.keys(toolDefinitions(config.cartMaxLineQuantity)), openStreams: (): number => legacy.openStreams })
    : undefined;
  const db = await openDb({ ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}), dataDir: config.dataDir, poolMax: config.dbPoolMax });
  try {
    if (config.migrateOnStart) await migrate(db);
    if (config.demoSeed) await seedDemo(db);
  } catch (err) {
    await db.close().catch(() => {});
    throw err;
  }
  const stores = await createStores({
    ...(config.redisUrl ? { redisUrl: config.redisUrl } : {}),
    ...(config.redisClusterNodes ? { redisClusterNodes: config.redisClusterNodes } : {}),
    keyPrefix: config.keyPrefix,
    sessionIdleTtlMs: config.sessionIdleTtlMs,
    cartTtlMs: config.cartTtlMs,
    maxLineQuantity: config.cartMaxLineQuantity,
    maxLines: config.cartMaxLines,
    preferenceTtlMs: 30 * 86_400_000,
    onRedisError: (err) => {
      metrics?.onRedisConnectionError();
      logger.warn({ err: err.message }, 'redis connection problem');
    },
    onBusSubscriberError: (err) => logger.error({ err }, 'session bus subscriber failed'),
  }).catch(async (err: unknown) => {
    await db.close().catch(() => {});
    throw err;
  });

  const app = Fastify({
    loggerInstance: logger,
    // One line per request is written by our onResponse hook, with the MCP method, tool and session.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.maxBodyBytes,
    // Cloud Run and load balancers front us; their X-Forwarded-* describe the real client.
    trustProxy: true,
    return503OnClosing: true,
  });

  const apiKeys = new ApiKeyAuthenticator(db, { cacheMs: config.apiKeyCacheMs });
  // Sign-in steps are counted; the attacks the authorization server catches are also logged, for whoever investigates.
  const onOAuthEvent = (event: OAuthEvent, detail: { clientId?: string; subject?: string }) => {
    metrics?.onOAuthEvent(event);
    if (event === 'code_replayed' || event === 'refresh_reused' || event === 'registration_limited') logger.warn({ oauth: { event, ...detail } }, `oauth: ${event.replace('_', ' ')}`);
  };
  const oauth = createOAuth(config, db, stores, { ...(options.clientMetadataCa ? { clientMetadataCa: options.clientMetadataCa } : {}), onEvent: onOAuthEvent });
  const authenticator = createAuthenticator(apiKeys, oauth.accessTokens);
  const pos = new PosService({
    db,
    carts: stores.carts,
    preferences: stores.preferences,
    memberships: new MembershipCache(db, config.catalogCacheMs),
    catalog: new CatalogCache(db, stores.versions, config.catalogCacheMs),
    versions: stores.versions,
  });
  const factory = createPosServerFactory(pos, {
    maxLineQuantity: config.cartMaxLineQuantity,
    confirmCheckout: config.checkoutConfirm,
    confirmTimeoutMs: config.checkoutConfirmTimeoutMs,
    // An outage is answered (and logged once) as a 503 by the HTTP layer; only real failures are errors here.
    logError: (err, ref) => (infraError(err) ? app.log.debug({ err: (err as Error).message, ref }, 'tool hit an outage') : app.log.error({ err, ref }, 'tool failed')),
  });
  const userEvents = new UserEvents(stores.userBus);
  const legacy = new LegacySessionLayer({
    sessions: stores.sessions,
    events: new SessionEvents(stores.events, stores.bus),
    userEvents,
    factory,
    needsStream: checkoutMayConfirm,
    responseMode: config.responseMode,
    sseKeepAliveMs: config.sseKeepAliveMs,
    sseMaxStreamMs: config.sseMaxStreamMs,
    initialSessionState: async (principal) => {
      const activeBusinessId = await stores.preferences.getActiveBusiness(principal.uid);
      return activeBusinessId ? { activeBusinessId } : {};
    },
    toFailure: firstInfraFailure,
    ...(metrics ? { metrics } : {}),
    serverCache: config.sessionCache,
  });
  const modern = new ModernLayer({
    factory,
    userEvents,
    onError: (err) => app.log.warn({ err }, 'user event bus'),
    responseMode: config.responseMode,
    sseKeepAliveMs: config.sseKeepAliveMs,
    maxBodyBytes: config.maxBodyBytes,
    toFailure: firstInfraFailure,
  });

  let shuttingDown = false;
  installErrorHandling(app, { resourceMetadataUrl: resourceMetadataUrl(config.publicUrl), scopes: ALL_SCOPES });
  // Requests still running when shutdown began are answered, and their connections closed after them.
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (shuttingDown) reply.header('connection', 'close');
    done(null, payload);
  });
  await app.register(cors, {
    origin: (origin, cb) => cb(null, !origin || !config.allowedOrigins || config.allowedOrigins.includes(origin) || isLoopbackOrigin(origin)),
    methods: ['GET', 'POST', 'DELETE', 'OPTIONS'],
    allowedHeaders: ['authorization', 'content-type', 'accept', 'mcp-session-id', 'mcp-protocol-version', 'last-event-id', 'mcp-method', 'mcp-name'],
    exposedHeaders: ['mcp-session-id', 'www-authenticate', 'mcp-protocol-version', 'retry-after'],
    maxAge: 600,
  });
  // Request log first: the tracing hooks read the trace it found in the headers and put their span in its place.
  installRequestLog(app, { ...(observability.googleCloudProject ? { projectId: observability.googleCloudProject } : {}) });
  const tracing = await Tracing.create({
    serviceName: observability.serviceName,
    ...(observability.otlpTracesUrl ? { otlpTracesUrl: observability.otlpTracesUrl } : {}),
    ...(options.spanExporter ? { exporter: options.spanExporter } : {}),
  });
  if (tracing) installTracing(app, tracing);
  if (metrics) {
    installMetrics(app, metrics);
    await app.register(metricsRoutes, { metrics, ...(observability.metricsToken ? { token: observability.metricsToken } : {}) });
  }
  const beforeCall = rateLimitCheck({
    limiter: stores.rateLimiter,
    ...config.rateLimit,
    writeTools: WRITE_TOOLS,
    onLimited: (limit) => metrics?.onRateLimited(limit),
  });
  await app.register(healthRoutes, {
    probes: [
      ...(stores.kind === 'redis' ? [{ name: 'redis' as const, ping: () => stores.ping() }] : []),
      { name: 'database' as const, ping: () => db.ping() },
    ],
    isShuttingDown: () => shuttingDown,
  });
  await app.register(mcpRoutes, {
    config,
    authenticator,
    legacy,
    modern,
    refreshCaches: (userId, businessId) => pos.refreshCaches(userId, businessId),
    ...(beforeCall ? { beforeCall } : {}),
  });
  // Public by design (discovery and the token endpoint are how a client gets a credential); its own plugin, so the
  // /mcp gate above never applies to it.
  const registrationsPerHour = config.oauth.signIn?.registrationsPerHour ?? 0;
  await app.register(oauthRoutes, {
    config,
    exchange: oauth.exchange,
    onEvent: onOAuthEvent,
    ...(oauth.authorization ? { authorization: oauth.authorization } : {}),
    ...(registrationsPerHour > 0
      ? { registrationLimit: (ip: string) => stores.rateLimiter.hit(`ip:${ip}`, [{ bucket: 'registrations', limit: registrationsPerHour, windowMs: 3_600_000 }]) }
      : {}),
  });
  if (oauth.authorization && config.oauth.signIn) {
    const authorizePerMinute = config.oauth.signIn.authorizePerMinute;
    await app.register(authorizeRoutes, {
      config,
      signIn: config.oauth.signIn,
      server: oauth.authorization.server,
      ...(authorizePerMinute > 0
        ? { authorizeLimit: (ip: string) => stores.rateLimiter.hit(`ip:${ip}`, [{ bucket: 'authorize', limit: authorizePerMinute, windowMs: 60_000 }]) }
        : {}),
    });
  }

  let closed: Promise<void> | undefined;
  return {
    app,
    config,
    db,
    stores,
    legacy,
    async listen() {
      const address = await app.listen({ port: config.port, host: config.host });
      return address.replace('[::1]', 'localhost');
    },
    close() {
      closed ??= (async () => {
        shuttingDown = true;
        const failures: Error[] = [];
        const step = (what: string, run: () => Promise<void>) =>
          run().catch((err: unknown) => {
            failures.push(new Error(`${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err }));
          });
        await step('http', () =>
          drainHttp(app, {
            graceMs: config.shutdownGraceMs,
            onStopAccepting: async () => {
              legacy.closeStreams();
              await modern.closeStreams();
            },
            onForced: (open) => app.log.warn({ open, graceMs: config.shutdownGraceMs }, 'shutdown grace period over: closing the remaining connections'),
          }),
        );
        await modern.close().catch(() => {});
        legacy.dispose();
        await step('api keys', () => apiKeys.close());
        await step('redis', () => stores.close());
        await step('database', () => db.close());
        if (failures.length) throw new AggregateError(failures, `shutdown incomplete: ${failures.map((f) => f.message).join('; ')}`);
      })();
      return closed;
    },
  };
}

export { MCP_PATH };
