import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { AuthorizePageError, type AuthorizationServer } from '../auth/authorization-server.js';
import type { OAuthParams } from '../auth/token-exchange.js';
import type { Config, SignInConfig } from '../config.js';
import { AppError, OAuthEndpointError } from '../errors.js';
import { loadAuthorizeAssets } from './authorize-assets.js';
import { AUTHORIZE_ASSETS_PATH, consentPage, errorPage, signInPage } from './authorize-pages.js';
import type { RateLimitVerdict } from '../state/rate-limiter.js';
import { checkHostAndOrigin } from './guards.js';
import { infraError } from './infra-errors.js';

export const AUTHORIZE_PATH = '/authorize';
export const SIGN_IN_PATH = '/authorize/sign-in';
export const CONSENT_PATH = '/authorize/consent';
const COOKIE = 'flowpos_authz';
/** The ID token (~1 KB, more with many claims) and an id; a consent form is two short fields. */
const BODY_LIMIT_BYTES = 16 * 1024;

export interface AuthorizeRoutesOptions {
  config: Pick<Config, 'publicUrl' | 'allowedHosts' | 'allowedOrigins'> & { oauth: { firebaseProjectId?: string; firebaseEmulatorHost?: string } };
  signIn: SignInConfig;
  server: AuthorizationServer;
  /** Counts one /authorize from `ip` (shared by every instance); absent: no limit. */
  authorizeLimit?: (ip: string) => Promise<RateLimitVerdict>;
}

/**
 * The browser half of the authorization server: GET /authorize shows the Firebase sign-in, POST /authorize/sign-in
 * takes its ID token, GET /authorize/consent asks, POST /authorize/consent answers the client at its redirect URI.
 * Pages carry a strict Content-Security-Policy and refuse to be framed (the consent button must not be clickjacked).
 */
export async function authorizeRoutes(app: FastifyInstance, opts: AuthorizeRoutesOptions): Promise<void> {
  const { config, signIn, server } = opts;
  const origin = new URL(config.publicUrl).origin;
  const secure = config.publicUrl.startsWith('https:');
  const emulatorUrl = config.oauth.firebaseEmulatorHost ? `http://${config.oauth.firebaseEmulatorHost}` : undefined;
  const assets = loadAuthorizeAssets();

  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES }, (_request, text, done) => {
    done(null, toParams(new URLSearchParams(text as string)));
  });
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT_BYTES }, (_request, text, done) => {
    try {
      done(null, JSON.parse(text as string));
    } catch {
      done(new AuthorizePageError(400, 'The body is not valid JSON.'), undefined);
    }
  });

  app.setErrorHandler((error, request, reply) => {
    const { status, message } = toPageError(error);
    if (status >= 500 && !infraError(error)) request.log.error({ err: error }, 'authorization page failed');
    reply.header('cache-control', 'no-store');
    if (status === 503) reply.header('retry-after', '5');
    if (request.url.startsWith(SIGN_IN_PATH)) return reply.code(status).send({ error: status === 503 ? 'temporarily_unavailable' : 'invalid_request', error_description: message });
    return html(reply.code(status), errorPage(status, message), pageCsp());
  });

  const hostGuard = async (request: FastifyRequest) => checkHostAndOrigin(config, request.headers.host, undefined);
  // A form or fetch from another site carries its Origin: refused, so no page elsewhere can sign someone in or
  // consent for them (the SameSite=Lax cookie already keeps it out of cross-site POSTs; this says why).
  const postGuard = async (request: FastifyRequest) => {
    checkHostAndOrigin(config, request.headers.host, undefined);
    const from = request.headers.origin;
    if (from !== undefined && from !== origin) throw new AuthorizePageError(403, `A page on ${from.slice(0, 100)} may not submit this form.`);
  };

  app.get(AUTHORIZE_PATH, { onRequest: hostGuard }, async (request, reply) => {
    // Each request stores a pending authorization for 10 minutes: a per-address limit keeps a script from filling Redis.
    const verdict = await opts.authorizeLimit?.(request.ip);
    if (verdict && !verdict.allowed) {
      const retryAfter = Math.max(1, Math.ceil(verdict.retryAfterMs / 1000));
      reply.header('retry-after', String(retryAfter));
      throw new AuthorizePageError(429, `Too many sign-in attempts from this address; try again in ${retryAfter} s.`);
    }
    const outcome = await server.authorize(toParams(new URL(request.url, origin).searchParams));
    if (outcome.kind === 'redirect') return reply.header('cache-control', 'no-store').redirect(outcome.location, 303);
    const body = signInPage({
      client: outcome.client,
      authorizationId: outcome.authorizationId,
      signInUrl: SIGN_IN_PATH,
      firebase: {
        apiKey: signIn.firebaseApiKey,
        authDomain: signIn.firebaseAuthDomain,
        projectId: config.oauth.firebaseProjectId ?? '',
        ...(emulatorUrl ? { emulatorUrl } : {}),
      },
    });
    return html(reply, body, pageCsp({ signIn: true }));
  });

  app.post(SIGN_IN_PATH, { onRequest: postGuard, bodyLimit: BODY_LIMIT_BYTES }, async (request, reply) => {
    const body = (request.body ?? {}) as { authorization_id?: unknown; id_token?: unknown };
    if (typeof body !== 'object' || body === null) throw new AuthorizePageError(400, 'Send {"authorization_id", "id_token"} as JSON.');
    const { browserSecret } = await server.signIn(body.authorization_id, body.id_token, cookie(request));
    const maxAge = Math.floor(server.pendingTtlMs / 1000);
    reply.header('set-cookie', `${COOKIE}=${browserSecret}; Path=${AUTHORIZE_PATH}; Max-Age=${maxAge}; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`);
    const next = `${CONSENT_PATH}?authorization_id=${encodeURIComponent(body.authorization_id as string)}`;
    return reply.header('cache-control', 'no-store').send({ next });
  });

  app.get(CONSENT_PATH, { onRequest: hostGuard }, async (request, reply) => {
    const id = new URL(request.url, origin).searchParams.get('authorization_id');
    const { client, pending } = await server.consentView(id, cookie(request));
    const body = consentPage({
      client,
      authorizationId: id!,
      account: pending.email ?? pending.subject!,
      scopes: pending.scopes,
      redirectUri: pending.redirectUri,
      action: CONSENT_PATH,
    });
    return html(reply, body, pageCsp({ formTarget: pending.redirectUri }));
  });

  app.post(CONSENT_PATH, { onRequest: postGuard, bodyLimit: BODY_LIMIT_BYTES }, async (request, reply) => {
    const params = request.body instanceof Map ? (request.body as OAuthParams) : new Map<string, string[]>();
    const decision = params.get('decision')?.[0];
    if (decision !== 'allow' && decision !== 'deny') throw new AuthorizePageError(400, 'Answer with Allow or Deny.');
    const location = await server.decide(params.get('authorization_id')?.[0], cookie(request), decision === 'allow');
    reply.header('set-cookie', `${COOKIE}=; Path=${AUTHORIZE_PATH}; Max-Age=0; HttpOnly; SameSite=Lax${secure ? '; Secure' : ''}`);
    return reply.header('cache-control', 'no-store').redirect(location, 303);
  });

  app.get(`${AUTHORIZE_ASSETS_PATH}/:name`, async (request, reply) => {
    const asset = assets.get((request.params as { name: string }).name);
    if (!asset) throw new AuthorizePageError(404, 'No such file.');
    return reply
      .header('content-type', asset.contentType)
      .header('cache-control', `public, max-age=${asset.maxAgeSeconds}`)
      .header('x-content-type-options', 'nosniff')
      .send(asset.body);
  });

  function pageCsp(opts: { signIn?: boolean; formTarget?: string } = {}): string {
    const firebaseHosts = ['https://identitytoolkit.googleapis.com', 'https://securetoken.googleapis.com', ...(emulatorUrl ? [emulatorUrl] : [])];
    const formAction = ["'self'", ...(opts.formTarget ? [formSource(opts.formTarget)] : [])];
    return [
      "default-src 'none'",
      // apis.google.com: the Firebase SDK's popup support loads Google's iframe helper from there ("Continue with
      // Google"); it is the only script not served by us.
      opts.signIn ? "script-src 'self' https://apis.google.com" : undefined,
      "style-src 'self'",
      "img-src 'self' data:",
      opts.signIn ? `connect-src 'self' ${firebaseHosts.join(' ')}` : undefined,
      // signInWithPopup talks to the auth domain through a hidden iframe.
      opts.signIn ? `frame-src https://${signIn.firebaseAuthDomain}${emulatorUrl ? ` ${emulatorUrl}` : ''}` : undefined,
      // Chromium applies form-action to the redirect that follows the consent form: the client's redirect URI.
      `form-action ${formAction.join(' ')}`,
      "frame-ancestors 'none'",
      "base-uri 'none'",
    ]
      .filter(Boolean)
      .join('; ');
  }
}

/** The CSP source that lets the consent form's redirect reach the client: its origin, or its private-use scheme. */
function formSource(redirectUri: string): string {
  const url = new URL(redirectUri);
  return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : url.protocol;
}

function html(reply: FastifyReply, body: string, csp: string): FastifyReply {
  return reply
    .header('content-type', 'text/html; charset=utf-8')
    .header('content-security-policy', csp)
    .header('x-frame-options', 'DENY')
    .header('x-content-type-options', 'nosniff')
    // same-origin: the forms get a real Origin header (no-referrer makes it "null"), and nothing, not even the
    // origin, leaks to other sites, the client's redirect URI included.
    .header('referrer-policy', 'same-origin')
    .header('cache-control', 'no-store')
    .send(body);
}

function cookie(request: FastifyRequest): string | undefined {
  const header = request.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const [name, ...rest] = part.trim().split('=');
    if (name === COOKIE) return rest.join('=') || undefined;
  }
  return undefined;
}

function toParams(search: URLSearchParams): OAuthParams {
  const params: OAuthParams = new Map();
  for (const [name, value] of search) params.set(name, [...(params.get(name) ?? []), value]);
  return params;
}

function toPageError(error: unknown): { status: number; message: string } {
  if (error instanceof AuthorizePageError) return { status: error.status, message: error.message };
  const infra = infraError(error);
  if (infra) return { status: 503, message: `${infra.message} Try again in a moment.` };
  if (error instanceof OAuthEndpointError) return { status: error.status >= 500 ? error.status : 400, message: error.message };
  if (error instanceof AppError) return { status: error.status, message: error.message };
  const e = error as { statusCode?: number; code?: string; message?: string };
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return { status: 413, message: `The request body exceeds ${BODY_LIMIT_BYTES} bytes.` };
  if (e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return { status: 415, message: 'Send the form as application/x-www-form-urlencoded (or JSON for sign-in).' };
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return { status: e.statusCode, message: e.message ?? 'Bad request.' };
  return { status: 500, message: 'Something went wrong on our side; nothing was shared.' };
}
