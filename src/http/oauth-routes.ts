import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuthorizationServer } from '../auth/authorization-server.js';
import { REFRESH_TOKEN_PREFIX } from '../auth/authorization-server.js';
import type { ClientRegistry } from '../auth/oauth-client.js';
import {
  AUTHORIZATION_SERVER_METADATA_PATH,
  authorizationServerMetadata,
  PROTECTED_RESOURCE_METADATA_PATH,
  protectedResourceMetadata,
  REGISTRATION_PATH,
  REVOCATION_PATH,
  TOKEN_EXCHANGE_GRANT,
  TOKEN_PATH,
} from '../auth/oauth-metadata.js';
import type { OAuthParams, TokenExchange } from '../auth/token-exchange.js';
import { type Config, MCP_PATH } from '../config.js';
import { AppError, OAuthEndpointError, oauthErrorBody } from '../errors.js';
import type { RateLimitVerdict } from '../state/rate-limiter.js';
import { checkHostAndOrigin } from './guards.js';
import { infraError } from './infra-errors.js';

export interface OAuthRoutesOptions {
  config: Pick<Config, 'publicUrl' | 'allowedHosts' | 'allowedOrigins'>;
  exchange: TokenExchange;
  /** The browser sign-in's grants and client registration, when enabled. */
  authorization?: { server: AuthorizationServer; clients: ClientRegistry };
  /** Counts one registration from `ip` (shared by every instance); absent: no limit. */
  registrationLimit?: (ip: string) => Promise<RateLimitVerdict>;
  onEvent?: (event: 'client_registered' | 'registration_limited', detail: { clientId?: string }) => void;
}

/** RFC 7591 metadata is a small JSON object; a few redirect URIs and names. */
export const REGISTRATION_BODY_LIMIT_BYTES = 16 * 1024;

/** An ID token is ~1 KB and the other parameters are short; nothing legitimate comes near this. */
export const TOKEN_BODY_LIMIT_BYTES = 16 * 1024;

/**
 * The public OAuth surface: discovery documents (RFC 8414, RFC 9728), the token endpoint (RFC 8693 exchange of a
 * Firebase ID token) and revocation (RFC 7009). No credential guards these routes — they are how a client gets one —
 * and the /mcp gate lives in its own plugin, so encapsulation, not a URL list, keeps the two apart.
 */
export async function oauthRoutes(app: FastifyInstance, opts: OAuthRoutesOptions): Promise<void> {
  const { config, exchange, authorization } = opts;
  const asMetadata = authorizationServerMetadata(config.publicUrl, { signIn: authorization !== undefined });
  const prMetadata = protectedResourceMetadata(config.publicUrl);

  // RFC 6749 speaks form encoding; JSON is accepted too because browser apps post it. Both keep repeated names, so a
  // parameter sent twice is refused rather than silently picked.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: TOKEN_BODY_LIMIT_BYTES }, (_request, text, done) => {
    const params: OAuthParams = new Map();
    for (const [name, value] of new URLSearchParams(text as string)) params.set(name, [...(params.get(name) ?? []), value]);
    done(null, params);
  });
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: TOKEN_BODY_LIMIT_BYTES }, (_request, text, done) => {
    try {
      done(null, jsonParams(text as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });

  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    const err = toOAuthError(error);
    if (err.status >= 500 && err.code === 'server_error') request.log.error({ err: error }, 'unhandled error at the token endpoint');
    for (const [name, value] of Object.entries(err.headers)) reply.header(name, value);
    return noStore(reply).code(err.status).type('application/json').send(oauthErrorBody(err));
  });

  const guard = async (request: FastifyRequest) => checkHostAndOrigin(config, request.headers.host, request.headers.origin);

  app.post(TOKEN_PATH, { bodyLimit: TOKEN_BODY_LIMIT_BYTES, onRequest: guard }, async (request, reply) => {
    const params = paramsOf(request.body);
    const grantType = params.get('grant_type');
    if (grantType?.length === 1 && (grantType[0] === 'authorization_code' || grantType[0] === 'refresh_token')) {
      if (!authorization) throw new OAuthEndpointError(
          'unsupported_grant_type',
          `grant_type ${grantType[0]} needs the browser sign-in, which is not enabled here (set FIREBASE_API_KEY); this server accepts ${TOKEN_EXCHANGE_GRANT}.`,
        );
      const body = grantType[0] === 'authorization_code' ? await authorization.server.authorizationCodeGrant(params) : await authorization.server.refreshTokenGrant(params);
      return noStore(reply).send(body);
    }
    const result = await exchange.exchange(params);
    return noStore(reply).send(result.body);
  });

  app.post(REVOCATION_PATH, { bodyLimit: TOKEN_BODY_LIMIT_BYTES, onRequest: guard }, async (request, reply) => {
    const params = paramsOf(request.body);
    const token = params.get('token');
    if (authorization && token?.length === 1 && token[0]!.startsWith(REFRESH_TOKEN_PREFIX)) {
      // A refresh token ends the whole sign-in it belongs to, and the access token last issued with it.
      await authorization.server.revokeRefreshToken(token[0]!);
      return noStore(reply).send({});
    }
    await exchange.revoke(params);
    // RFC 7009 §2.2: 200 whether or not the token was valid; the body is ignored by clients.
    return noStore(reply).send({});
  });

  if (authorization) {
    // RFC 7591 §3: open registration of public clients (what MCP clients do on first contact). The body is JSON only.
    // Its own plugin: registration metadata is free-form JSON (RFC 7591), not the flat parameters of the parent's
    // JSON parser; the parent's error handler (RFC 6749 bodies) still applies.
    await app.register(async (registration) => {
      registration.removeContentTypeParser('application/json');
      registration.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: REGISTRATION_BODY_LIMIT_BYTES }, (_request, text, done) => {
        try {
          done(null, JSON.parse(text as string));
        } catch {
          done(new OAuthEndpointError('invalid_client_metadata', 'The body is not valid JSON.'), undefined);
        }
      });
      registration.post(REGISTRATION_PATH, { bodyLimit: REGISTRATION_BODY_LIMIT_BYTES, onRequest: guard }, async (request, reply) => {
        if (!request.headers['content-type']?.toLowerCase().startsWith('application/json')) {
          throw new OAuthEndpointError('invalid_client_metadata', 'Send the client metadata as a JSON object (Content-Type: application/json).');
        }
        const metadata: unknown = request.body;
        // Registration is anonymous by design; a per-address limit keeps one caller from filling the table.
        const verdict = await opts.registrationLimit?.(request.ip);
        if (verdict && !verdict.allowed) {
          opts.onEvent?.('registration_limited', {});
          const retryAfter = Math.max(1, Math.ceil(verdict.retryAfterMs / 1000));
          throw new OAuthEndpointError('rate_limited', `Too many client registrations from this address; retry in ${retryAfter} s.`, { 'retry-after': String(retryAfter) });
        }
        const registered = await authorization.clients.register(metadata);
        opts.onEvent?.('client_registered', { clientId: registered.client_id });
        return noStore(reply).code(201).send(registered);
      });
    });
  }

  const metadata = (doc: object) => async (_request: FastifyRequest, reply: FastifyReply) => reply.header('cache-control', 'public, max-age=300').send(doc);
  app.get(AUTHORIZATION_SERVER_METADATA_PATH, metadata(asMetadata));
  // RFC 9728 §3.1: the path form (tried first by MCP clients) and the root form name the same resource.
  app.get(`${PROTECTED_RESOURCE_METADATA_PATH}${MCP_PATH}`, metadata(prMetadata));
  app.get(PROTECTED_RESOURCE_METADATA_PATH, metadata(prMetadata));
}

function noStore(reply: FastifyReply): FastifyReply {
  return reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
}

function paramsOf(body: unknown): OAuthParams {
  if (body instanceof Map) return body as OAuthParams;
  if (body === undefined || body === null) return new Map();
  // Parsed by a parser of another media type (Fastify's text/plain, for one): not parameters we can read.
  throw new OAuthEndpointError('unsupported_media_type');
}

/** A flat JSON object of strings (or, for repeatable names, arrays of strings) as parameters. */
function jsonParams(text: string): OAuthParams {
  if (text.trim() === '') return new Map();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new OAuthEndpointError('invalid_request', 'The body is not valid JSON.');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new OAuthEndpointError('invalid_request', 'The body must be a JSON object.');
  const params: OAuthParams = new Map();
  for (const [name, value] of Object.entries(parsed)) {
    if (typeof value === 'string') params.set(name, [value]);
    else if (Array.isArray(value) && value.length > 0 && value.every((v) => typeof v === 'string')) params.set(name, value as string[]);
    else throw new OAuthEndpointError('invalid_request', `${name.slice(0, 50)} must be a string.`);
  }
  return params;
}

function toOAuthError(error: unknown): OAuthEndpointError {
  if (error instanceof OAuthEndpointError) return error;
  if (error instanceof AppError) {
    if (error.status === 403) return new OAuthEndpointError('forbidden', error.message);
  }
  const infra = infraError(error);
  if (infra) return new OAuthEndpointError('temporarily_unavailable', infra.message, infra.headers);
  const e = error as FastifyError;
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new OAuthEndpointError('unsupported_media_type');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new OAuthEndpointError('payload_too_large', `The request body exceeds ${TOKEN_BODY_LIMIT_BYTES} bytes.`);
  }
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return new OAuthEndpointError('invalid_request', e.message);
  return new OAuthEndpointError('server_error');
}
