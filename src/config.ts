import * as z from 'zod';

/**
 * Every setting the server reads, parsed once at start-up. A bad value stops the process with a message
 * naming the variable, instead of surfacing later as a confusing runtime failure.
 */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const list = z
  .string()
  .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean));

/** Google's public keys for Firebase ID tokens, as a JWKS. */
export const GOOGLE_SECURETOKEN_JWKS_URL = 'https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com';

const EnvSchema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: int(0, 65535).default(4000),
  HOST: z.string().min(1).optional(),
  PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),

  REDIS_URL: z.url({ protocol: /^rediss?$/ }).optional(),
  REDIS_HOST: z.string().min(1).optional(),
  REDIS_PORT: int(1, 65535).optional(),
  REDIS_PASSWORD: z.string().min(1).optional(),
  REDIS_TLS: bool.default(false),
  REDIS_CLUSTER_NODES: list.optional(),
  MCP_REDIS_KEY_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,32}$/, 'letters, digits and _ . : - only, at most 32 characters')
    .default('mcp:'),

  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  FLOWPOS_DATA_DIR: z.string().min(1).default('./.flowpos'),
  DATABASE_POOL_MAX: int(1, 200).default(10),
  MIGRATE_ON_START: bool.default(true),

  MCP_SESSION_IDLE_TTL_SECONDS: int(10, 30 * 86400).default(3600),
  MCP_SESSION_CACHE_SIZE: int(0, 1_000_000).default(2000),
  MCP_SESSION_CACHE_IDLE_SECONDS: int(1, 86400).default(300),
  CATALOG_CACHE_SECONDS: int(0, 3600).default(5),
  MCP_MAX_BODY_BYTES: int(1024, 64 * 1024 * 1024).default(1024 * 1024),
  MCP_ALLOWED_ORIGINS: list.optional(),
  MCP_ALLOWED_HOSTS: list.optional(),
  MCP_RESPONSE_MODE: z.enum(['auto', 'json', 'sse']).default('auto'),
  MCP_SSE_KEEPALIVE_SECONDS: int(0, 3600).default(15),
  MCP_SSE_MAX_STREAM_SECONDS: int(0, 86400).default(0),
  SHUTDOWN_GRACE_SECONDS: int(0, 3600).default(8),

  CART_TTL_SECONDS: int(60, 365 * 86400).default(7 * 86400),
  CART_MAX_LINE_QUANTITY: int(1, 1_000_000).default(999),
  CART_MAX_LINES: int(1, 10_000).default(100),
  API_KEY_CACHE_SECONDS: int(0, 3600).default(5),
  RATE_LIMIT_REQUESTS_PER_MINUTE: int(0, 1_000_000).default(3000),
  RATE_LIMIT_WRITES_PER_MINUTE: int(0, 1_000_000).default(600),
  RATE_LIMIT_WINDOW_SECONDS: int(1, 3600).default(60),
  GOOGLE_CLOUD_PROJECT: z.string().regex(/^[a-z0-9.:-]{1,100}$/, 'a Google Cloud project id').optional(),
  METRICS_ENABLED: bool.default(true),
  METRICS_TOKEN: z.string().min(16, 'at least 16 characters').optional(),
  OTEL_EXPORTER_OTLP_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  OTEL_SERVICE_NAME: z.string().min(1).max(100).default('flowpos-mcp'),
  OTEL_SDK_DISABLED: bool.default(false),
  CHECKOUT_CONFIRM: bool.default(true),
  CHECKOUT_CONFIRM_TIMEOUT_SECONDS: int(5, 3600).default(120),
  DEMO_SEED: bool.optional(),

  FIREBASE_PROJECT_ID: z.string().regex(/^[a-z0-9][a-z0-9-]{2,62}$/, 'a Firebase project id: lower-case letters, digits and -').optional(),
  FIREBASE_JWKS_URL: z.url({ protocol: /^https?$/ }).default(GOOGLE_SECURETOKEN_JWKS_URL),
  FIREBASE_AUTH_EMULATOR_HOST: z.string().regex(/^[A-Za-z0-9.[\]:-]+:\d{1,5}$/, 'host:port of the Firebase Auth Emulator').optional(),
  MCP_TOKEN_SECRET: z.string().min(32, 'at least 32 characters (e.g. `openssl rand -base64 48`)').optional(),
  MCP_TOKEN_SECRET_PREVIOUS: z.string().min(32, 'at least 32 characters').optional(),
  MCP_TOKEN_TTL_SECONDS: int(60, 30 * 86400).default(86400),
  FIREBASE_API_KEY: z.string().regex(/^[A-Za-z0-9_-]{1,100}$/, "the Firebase Web API key (Firebase console → Project settings → General → Web API Key)").optional(),
  FIREBASE_AUTH_DOMAIN: z.string().regex(/^[A-Za-z0-9.-]{1,253}$/, 'a host name, e.g. <project>.firebaseapp.com').optional(),
  MCP_REFRESH_TOKEN_TTL_SECONDS: int(60, 365 * 86400).default(30 * 86400),
  MCP_REFRESH_TOKEN_MAX_LIFETIME_SECONDS: int(60, 5 * 365 * 86400).default(90 * 86400),
  OAUTH_CLIENT_METADATA_ALLOW_PRIVATE: bool.default(false),
  OAUTH_REGISTRATIONS_PER_HOUR: int(0, 1_000_000).default(20),
  OAUTH_AUTHORIZE_PER_MINUTE: int(0, 1_000_000).default(30),
});

export type Env = z.infer<typeof EnvSchema>;

export interface Config {
  env: Env['NODE_ENV'];
  production: boolean;
  port: number;
  host: string;
  /** The externally visible base URL; the MCP endpoint is `${publicUrl}/mcp`. */
  publicUrl: string;
  logLevel: Env['LOG_LEVEL'];
  redisUrl?: string;
  /**
   * Seed nodes of a Redis Cluster (REDIS_CLUSTER_NODES) as `redis://` or `rediss://` URLs with REDIS_PASSWORD and
   * REDIS_TLS applied; set instead of redisUrl.
   */
  redisClusterNodes?: string[];
  keyPrefix: string;
  databaseUrl?: string;
  dataDir: string;
  dbPoolMax: number;
  migrateOnStart: boolean;
  /** Embedded, non-production runs seed the demo data and print a demo key so a newcomer can try it at once. */
  demoSeed: boolean;
  sessionIdleTtlMs: number;
  /**
   * Connected SDK servers kept per instance for the 2025-era sessions it served lately (an LRU of at most `size`,
   * each dropped after `idleMs` unused); 0 keeps none. Only a cache: every request still loads the session from
   * the store, and any instance rebuilds what it lacks.
   */
  sessionCache: { size: number; idleMs: number };
  /**
   * How long an instance may reuse a catalog row or a membership list it read. Changes made through this service
   * reach every instance at once (a version in Redis); writes by others to the database are seen within this. 0: no cache.
   */
  catalogCacheMs: number;
  maxBodyBytes: number;
  /**
   * Origins allowed besides loopback ones (http://localhost:* and the like are always allowed: a page on
   * this machine is already inside the trust boundary). null means any Origin is accepted.
   */
  allowedOrigins: string[] | null;
  /** Host names (without port) the server answers to; null means any (a public deployment without PUBLIC_URL). */
  allowedHosts: string[] | null;
  responseMode: Env['MCP_RESPONSE_MODE'];
  sseKeepAliveMs: number;
  /** A GET stream is ended (with a retry hint, so the client resumes, maybe elsewhere) after this long; 0 = never. */
  sseMaxStreamMs: number;
  /** On SIGTERM, how long in-flight requests may take to finish before their connections are cut. */
  shutdownGraceMs: number;
  cartTtlMs: number;
  cartMaxLineQuantity: number;
  cartMaxLines: number;
  apiKeyCacheMs: number;
  /** Per-user limits, counted in Redis across instances (in memory without Redis). A limit of 0 is off. */
  rateLimit: RateLimitConfig;
  /** Cloud Logging fields, /metrics, OpenTelemetry traces. */
  observability: ObservabilityConfig;
  /** Ask the person to confirm checkout (elicitation) when the client supports it. */
  checkoutConfirm: boolean;
  checkoutConfirmTimeoutMs: number;
  /** OAuth V2 (docs/auth.md): Firebase ID tokens exchanged for access tokens this server signs. */
  oauth: OAuthConfig;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

const LOOPBACK_HOSTS = ['localhost', '127.0.0.1', '[::1]', '::1'];

function isLoopback(host: string): boolean {
  return LOOPBACK_HOSTS.includes(host) || host.startsWith('127.');
}

export function loadConfig(source: Record<string, string | undefined> = process.env): Config {
  // Empty strings are what shells and compose files produce for "unset"; treat them so.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const parsed = EnvSchema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => `${i.path.join('.') || '(environment)'}: ${i.message}${valueHint(cleaned, i.path)}`),
    );
  }
  const e = parsed.data;
  const problems: string[] = [];
  const production = e.NODE_ENV === 'production';

  let redisClusterNodes: string[] | undefined;
  const cluster = Boolean(e.REDIS_CLUSTER_NODES?.length);
  if (e.REDIS_CLUSTER_NODES?.length) {
    for (const single of ['REDIS_URL', 'REDIS_HOST', 'REDIS_PORT'] as const) {
      if (e[single] !== undefined) {
        problems.push(`REDIS_CLUSTER_NODES and ${single}: set only one (REDIS_CLUSTER_NODES for a Redis Cluster, ${single === 'REDIS_URL' ? 'REDIS_URL' : 'REDIS_HOST/REDIS_PORT'} for one server)`);
      }
    }
    redisClusterNodes = clusterNodeUrls(e.REDIS_CLUSTER_NODES, e.REDIS_PASSWORD, e.REDIS_TLS, problems);
  }

  // With REDIS_CLUSTER_NODES, REDIS_PASSWORD and REDIS_TLS apply to the cluster nodes (above).
  let redisUrl = cluster ? undefined : e.REDIS_URL;
  if (!cluster && !redisUrl && e.REDIS_HOST) {
    const auth = e.REDIS_PASSWORD ? `:${encodeURIComponent(e.REDIS_PASSWORD)}@` : '';
    redisUrl = `${e.REDIS_TLS ? 'rediss' : 'redis'}://${auth}${e.REDIS_HOST}:${e.REDIS_PORT ?? 6379}`;
  } else if (!cluster && !redisUrl && (e.REDIS_PORT || e.REDIS_PASSWORD)) {
    problems.push('REDIS_HOST: required when REDIS_PORT or REDIS_PASSWORD is set');
  }
  if (production && !redisUrl && !redisClusterNodes) {
    problems.push('REDIS_URL: required when NODE_ENV=production (or REDIS_HOST, or REDIS_CLUSTER_NODES); in-memory sessions cannot be shared between instances');
  }
  if (production && !e.DATABASE_URL) {
    problems.push('DATABASE_URL: required when NODE_ENV=production; the embedded database is for development only');
  }
  if (production && e.DEMO_SEED) {
    problems.push('DEMO_SEED: must not be enabled when NODE_ENV=production');
  }

  const host = e.HOST ?? (production ? '0.0.0.0' : '127.0.0.1');
  const publicUrl = (e.PUBLIC_URL ?? `http://localhost:${e.PORT}`).replace(/\/+$/, '');
  const publicHostname = new URL(publicUrl).hostname.toLowerCase();
  const publicOrigin = new URL(publicUrl).origin;

  // DNS rebinding only threatens servers reachable as localhost; a public deployment without PUBLIC_URL
  // has no name to check against, so it accepts any Host (and says so at start-up). Hosts are compared
  // by name: a rebinding page differs in name, not in port.
  const knowsItsName = Boolean(e.PUBLIC_URL) || isLoopback(host);
  const allowedHosts: string[] | null =
    e.MCP_ALLOWED_HOSTS?.map((h) => h.toLowerCase()) ?? (knowsItsName ? [...new Set([publicHostname, ...LOOPBACK_HOSTS])] : null);
  const allowedOrigins: string[] | null = e.MCP_ALLOWED_ORIGINS ?? (knowsItsName ? [publicOrigin] : null);

  const oauth = oauthConfig(e, production, problems);

  if (problems.length) throw new ConfigError(problems);
  return {
    env: e.NODE_ENV,
    production,
    port: e.PORT,
    host,
    publicUrl,
    logLevel: e.LOG_LEVEL,
    redisUrl,
    ...(redisClusterNodes ? { redisClusterNodes } : {}),
    keyPrefix: e.MCP_REDIS_KEY_PREFIX,
    databaseUrl: e.DATABASE_URL,
    dataDir: e.FLOWPOS_DATA_DIR,
    dbPoolMax: e.DATABASE_POOL_MAX,
    migrateOnStart: e.MIGRATE_ON_START,
    demoSeed: e.DEMO_SEED ?? (!production && !e.DATABASE_URL),
    sessionIdleTtlMs: e.MCP_SESSION_IDLE_TTL_SECONDS * 1000,
    sessionCache: { size: e.MCP_SESSION_CACHE_SIZE, idleMs: e.MCP_SESSION_CACHE_IDLE_SECONDS * 1000 },
    catalogCacheMs: e.CATALOG_CACHE_SECONDS * 1000,
    maxBodyBytes: e.MCP_MAX_BODY_BYTES,
    allowedOrigins,
    allowedHosts,
    responseMode: e.MCP_RESPONSE_MODE,
    sseKeepAliveMs: e.MCP_SSE_KEEPALIVE_SECONDS * 1000,
    sseMaxStreamMs: e.MCP_SSE_MAX_STREAM_SECONDS * 1000,
    shutdownGraceMs: e.SHUTDOWN_GRACE_SECONDS * 1000,
    cartTtlMs: e.CART_TTL_SECONDS * 1000,
    cartMaxLineQuantity: e.CART_MAX_LINE_QUANTITY,
    cartMaxLines: e.CART_MAX_LINES,
    apiKeyCacheMs: e.API_KEY_CACHE_SECONDS * 1000,
    rateLimit: {
      requestsPerWindow: e.RATE_LIMIT_REQUESTS_PER_MINUTE,
      writesPerWindow: e.RATE_LIMIT_WRITES_PER_MINUTE,
      windowMs: e.RATE_LIMIT_WINDOW_SECONDS * 1000,
    },
    observability: observabilityConfig(e),
    checkoutConfirm: e.CHECKOUT_CONFIRM,
    checkoutConfirmTimeoutMs: e.CHECKOUT_CONFIRM_TIMEOUT_SECONDS * 1000,
    oauth,
  };
}

/**
 * REDIS_CLUSTER_NODES entries (`host:port`, `host`, `[v6]:port`, or `redis://`/`rediss://` URLs) as URLs: bare
 * entries take rediss:// when REDIS_TLS is set and REDIS_PASSWORD when given; all nodes must end up with the same
 * scheme and credentials, since the cluster client applies one set to every node it discovers. Problems name the
 * entry by position and never echo it (it may hold a password).
 */
function clusterNodeUrls(entries: string[], password: string | undefined, tls: boolean, problems: string[]): string[] | undefined {
  const urls: URL[] = [];
  const before = problems.length;
  for (const [i, entry] of entries.entries()) {
    const what = `REDIS_CLUSTER_NODES: entry ${i + 1}`;
    const explicit = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(entry);
    let url: URL;
    try {
      url = new URL(explicit ? entry : `${tls ? 'rediss' : 'redis'}://${entry}`);
    } catch {
      problems.push(`${what} is neither host:port nor a redis:// or rediss:// URL`);
      continue;
    }
    if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
      problems.push(`${what} must be host:port or a redis:// or rediss:// URL`);
      continue;
    }
    if (!url.hostname || url.search || url.hash || !['', '/', '/0'].includes(url.pathname) || (!explicit && (url.username || url.password))) {
      problems.push(`${what} must be host:port (a URL may add credentials and nothing else: a cluster has only database 0)`);
      continue;
    }
    if (explicit && tls && url.protocol === 'redis:') {
      problems.push(`${what} says redis:// but REDIS_TLS is set; write rediss:// or unset REDIS_TLS`);
      continue;
    }
    if (password !== undefined) {
      if (!url.password) url.password = password;
      else if (decodeURIComponent(url.password) !== password) {
        problems.push(`${what} carries a password other than REDIS_PASSWORD; keep one of them`);
        continue;
      }
    }
    url.pathname = '';
    if (!url.port) url.port = '6379';
    urls.push(url);
  }
  if (problems.length > before) return undefined;
  const [first] = urls;
  if (first && urls.some((u) => u.protocol !== first.protocol || u.username !== first.username || u.password !== first.password)) {
    problems.push('REDIS_CLUSTER_NODES: every node must use the same scheme (redis:// or rediss://) and credentials');
    return undefined;
  }
  return urls.map((u) => u.toString());
}

export interface RateLimitConfig {
  /** Requests of one user per window, whatever they are. */
  requestsPerWindow: number;
  /** Calls of one user to cart-changing tools and checkout per window. */
  writesPerWindow: number;
  /** RATE_LIMIT_WINDOW_SECONDS: 60 unless set (hence the variables' PER_MINUTE names). */
  windowMs: number;
}

export interface ObservabilityConfig {
  /** GOOGLE_CLOUD_PROJECT: log lines then carry `logging.googleapis.com/trace` for the request's trace. */
  googleCloudProject?: string;
  metricsEnabled: boolean;
  /** When set, GET /metrics requires `Authorization: Bearer <it>`. */
  metricsToken?: string;
  /** Where OTLP/HTTP spans go; tracing is off without it. */
  otlpTracesUrl?: string;
  serviceName: string;
}

function observabilityConfig(e: Env): ObservabilityConfig {
  const base = e.OTEL_EXPORTER_OTLP_ENDPOINT?.replace(/\/+$/, '');
  const traces = e.OTEL_SDK_DISABLED ? undefined : (e.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ?? (base ? `${base}/v1/traces` : undefined));
  return {
    ...(e.GOOGLE_CLOUD_PROJECT ? { googleCloudProject: e.GOOGLE_CLOUD_PROJECT } : {}),
    metricsEnabled: e.METRICS_ENABLED,
    ...(e.METRICS_TOKEN ? { metricsToken: e.METRICS_TOKEN } : {}),
    ...(traces ? { otlpTracesUrl: traces } : {}),
    serviceName: e.OTEL_SERVICE_NAME,
  };
}

function valueHint(env: Record<string, string | undefined>, path: PropertyKey[]): string {
  const name = String(path[0] ?? '');
  const value = env[name];
  if (value === undefined) return '';
  return /PASSWORD|SECRET|URL|TOKEN|ENDPOINT/.test(name) ? ' (value hidden)' : ` (got "${value}")`;
}

export const MCP_PATH = '/mcp';

export interface OAuthConfig {
  /** Token exchange is on only with it: ID tokens must carry `aud` = this and `iss` = securetoken.google.com/<it>. */
  firebaseProjectId?: string;
  firebaseJwksUrl: string;
  /** Set: unsigned Auth Emulator tokens are accepted. Refused under NODE_ENV=production. */
  firebaseEmulatorHost?: string;
  /** Signs access tokens (HS256); required with firebaseProjectId. */
  tokenSecret?: string;
  /** The secret before the last rotation: still verifies, never signs. */
  tokenSecretPrevious?: string;
  tokenTtlSeconds: number;
  /**
   * The browser sign-in (authorization code + PKCE, refresh tokens, client registration) is on only with
   * firebaseProjectId, tokenSecret and a Web API key (the emulator needs none: any string is accepted there).
   */
  signIn?: SignInConfig;
}

export interface SignInConfig {
  /** What the sign-in page hands the Firebase Web SDK. */
  firebaseApiKey: string;
  firebaseAuthDomain: string;
  /** A refresh token unused this long dies; using it rotates it and restarts the clock. */
  refreshTokenTtlSeconds: number;
  /** No refresh token of one sign-in outlives this, however often it is rotated. */
  refreshTokenMaxLifetimeSeconds: number;
  /** Client ID Metadata Documents may be fetched from loopback and private addresses (development only). */
  clientMetadataAllowPrivate: boolean;
  /** Dynamic Client Registrations admitted per client IP address and hour, across instances (0: no limit). */
  registrationsPerHour: number;
  /** GET /authorize admitted per client IP address and minute (each stores a pending authorization; 0: no limit). */
  authorizePerMinute: number;
}

function oauthConfig(e: Env, production: boolean, problems: string[]): OAuthConfig {
  if (e.FIREBASE_AUTH_EMULATOR_HOST && production) {
    problems.push('FIREBASE_AUTH_EMULATOR_HOST: must not be set when NODE_ENV=production; it makes the server accept unsigned ID tokens');
  }
  if (e.FIREBASE_PROJECT_ID && !e.MCP_TOKEN_SECRET) {
    problems.push('MCP_TOKEN_SECRET: required when FIREBASE_PROJECT_ID is set (it signs the access tokens); at least 32 random characters');
  }
  if (e.MCP_TOKEN_SECRET_PREVIOUS && !e.MCP_TOKEN_SECRET) problems.push('MCP_TOKEN_SECRET_PREVIOUS: set MCP_TOKEN_SECRET too (the previous secret only verifies)');
  if (e.OAUTH_CLIENT_METADATA_ALLOW_PRIVATE && production) {
    problems.push('OAUTH_CLIENT_METADATA_ALLOW_PRIVATE: must not be set when NODE_ENV=production; it lets anyone make this server fetch URLs on your private network');
  }
  if (e.FIREBASE_API_KEY && !e.FIREBASE_PROJECT_ID) problems.push('FIREBASE_PROJECT_ID: required when FIREBASE_API_KEY is set (browser sign-in verifies the ID tokens of that project)');
  if (e.MCP_REFRESH_TOKEN_MAX_LIFETIME_SECONDS < e.MCP_REFRESH_TOKEN_TTL_SECONDS) {
    problems.push('MCP_REFRESH_TOKEN_MAX_LIFETIME_SECONDS: must be at least MCP_REFRESH_TOKEN_TTL_SECONDS');
  }
  const apiKey = e.FIREBASE_API_KEY ?? (e.FIREBASE_AUTH_EMULATOR_HOST ? 'emulator-api-key' : undefined);
  const signIn: SignInConfig | undefined =
    e.FIREBASE_PROJECT_ID && e.MCP_TOKEN_SECRET && apiKey
      ? {
          firebaseApiKey: apiKey,
          firebaseAuthDomain: e.FIREBASE_AUTH_DOMAIN ?? `${e.FIREBASE_PROJECT_ID}.firebaseapp.com`,
          refreshTokenTtlSeconds: e.MCP_REFRESH_TOKEN_TTL_SECONDS,
          refreshTokenMaxLifetimeSeconds: e.MCP_REFRESH_TOKEN_MAX_LIFETIME_SECONDS,
          clientMetadataAllowPrivate: e.OAUTH_CLIENT_METADATA_ALLOW_PRIVATE,
          registrationsPerHour: e.OAUTH_REGISTRATIONS_PER_HOUR,
          authorizePerMinute: e.OAUTH_AUTHORIZE_PER_MINUTE,
        }
      : undefined;
  return {
    ...(signIn ? { signIn } : {}),
    ...(e.FIREBASE_PROJECT_ID ? { firebaseProjectId: e.FIREBASE_PROJECT_ID } : {}),
    firebaseJwksUrl: e.FIREBASE_JWKS_URL,
    ...(e.FIREBASE_AUTH_EMULATOR_HOST ? { firebaseEmulatorHost: e.FIREBASE_AUTH_EMULATOR_HOST } : {}),
    ...(e.MCP_TOKEN_SECRET ? { tokenSecret: e.MCP_TOKEN_SECRET } : {}),
    ...(e.MCP_TOKEN_SECRET_PREVIOUS ? { tokenSecretPrevious: e.MCP_TOKEN_SECRET_PREVIOUS } : {}),
    tokenTtlSeconds: e.MCP_TOKEN_TTL_SECONDS,
  };
}
