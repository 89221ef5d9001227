import type { FastifyError, FastifyInstance } from 'fastify';
import { AppError, jsonRpcErrorBody } from '../errors.js';
import { infraError } from './infra-errors.js';

const REALM = 'Bearer realm="flowpos-mcp"';

export interface ErrorHandlingOptions {
  /**
   * RFC 9728 metadata URL of /mcp. With it, a 401 challenges as MCP clients expect (they discover the authorization
   * server from it): `Bearer resource_metadata="…", scope="…"`, plus `error="invalid_token"` when a credential was sent.
   */
  resourceMetadataUrl?: string;
  /** The scopes to ask for in that challenge. */
  scopes?: readonly string[];
}

/**
 * Every refusal leaves as a precise status with a JSON-RPC error body (MCP clients read the body), and
 * every unexpected error as a logged 500 that names nothing internal.
 */
export function installErrorHandling(app: FastifyInstance, opts: ErrorHandlingOptions = {}): void {
  const challenge = opts.resourceMetadataUrl
    ? `Bearer resource_metadata="${opts.resourceMetadataUrl}", scope="${(opts.scopes ?? []).join(' ')}"`
    : REALM;
  app.setErrorHandler((error: FastifyError | AppError | Error, request, reply) => {
    const appError = toAppError(error);
    if (appError.status >= 500 && appError.code === 'internal') {
      request.log.error({ err: error }, 'unhandled error');
    } else if (appError.status >= 500) {
      request.log.warn({ code: appError.code, cause: (error as Error).message }, 'backing service unavailable');
    }
    for (const [name, value] of Object.entries(appError.headers)) reply.header(name, value);
    if (appError.status === 401) {
      const sent = request.headers.authorization !== undefined;
      reply.header('www-authenticate', sent ? `${challenge}, error="invalid_token"` : challenge);
    }
    const id = idOf(request.body);
    return reply.code(appError.status).type('application/json').send(jsonRpcErrorBody(appError, id));
  });

  app.setNotFoundHandler((request, reply) => {
    const err = new AppError('not_found', `No route for ${request.method} ${request.url.split('?')[0]?.slice(0, 200)}.`);
    return reply.code(404).send(jsonRpcErrorBody(err));
  });
}

function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  const infra = infraError(error);
  if (infra) return infra;
  const e = error as FastifyError;
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('unsupported_media_type');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('payload_too_large');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return new AppError('parse_error', 'The body is empty.');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('invalid_request', 'Content-Length does not match the body.');
  }
  if (e instanceof SyntaxError || e.code === 'FST_ERR_CTP_INVALID_JSON_BODY') return new AppError('parse_error');
  if (e.statusCode === 400 && /prototype|constructor/i.test(e.message)) return new AppError('invalid_request', 'Forbidden property name in body.');
  if (e.statusCode === 413) return new AppError('payload_too_large');
  if (e.statusCode === 415) return new AppError('unsupported_media_type');
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) return new AppError('invalid_request', e.message);
  return new AppError('internal');
}

function idOf(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return null;
  const id = (body as { id?: unknown }).id;
  return typeof id === 'string' || typeof id === 'number' ? id : null;
}
