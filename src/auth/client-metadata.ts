import { z } from 'zod';
import { OAuthEndpointError } from '../errors.js';
import { ALL_SCOPES } from './principal.js';

/**
 * RFC 7591 client metadata, as sent to POST /register or served as a Client ID Metadata Document. Both paths
 * validate with validateClientMetadata(); unknown fields are ignored (RFC 7591 §2). Only public clients exist
 * here: token_endpoint_auth_method must be absent or "none".
 */

export const SUPPORTED_GRANT_TYPES = ['authorization_code', 'refresh_token'] as const;
export const SUPPORTED_RESPONSE_TYPES = ['code'] as const;
export const MAX_REDIRECT_URIS = 10;
export const MAX_URI_LENGTH = 2000;
export const MAX_CLIENT_NAME_LENGTH = 200;
export const MAX_SOFTWARE_FIELD_LENGTH = 200;

/** Loopback hosts on which a plain-http redirect URI is allowed (RFC 8252 §7.3; `localhost` per §8.3 is tolerated). */
const LOOPBACK_HOSTS = new Set(['127.0.0.1', '[::1]', 'localhost']);

/** Schemes a redirect must never use, whatever else is true of them. */
const FORBIDDEN_SCHEMES = new Set(['javascript:', 'data:', 'file:', 'blob:', 'vbscript:', 'about:', 'filesystem:', 'ws:', 'wss:', 'ftp:', 'mailto:', 'chrome:', 'view-source:']);

/** Client metadata after validation, with defaults applied. */
export interface ClientMetadata {
  /** Exactly as sent: matched string-for-string at /authorize. */
  redirectUris: string[];
  grantTypes: string[];
  responseTypes: string[];
  clientName?: string;
  clientUri?: string;
  logoUri?: string;
  /** Space-separated, each a scope this server offers; absent when the client did not say. */
  scope?: string;
  softwareId?: string;
  softwareVersion?: string;
}

/** What each field must be, named in the error when it is not. */
const FIELD_SHAPES: Record<string, string> = {
  redirect_uris: `an array of 1 to ${MAX_REDIRECT_URIS} redirect URI strings`,
  token_endpoint_auth_method: 'the string "none"',
  grant_types: `an array of strings, each one of ${SUPPORTED_GRANT_TYPES.map((g) => `"${g}"`).join(', ')}`,
  response_types: '["code"]',
  scope: `a string of space-separated scopes (${ALL_SCOPES.join(', ')})`,
  client_name: `a string of 1 to ${MAX_CLIENT_NAME_LENGTH} characters`,
  client_uri: `an https URL of at most ${MAX_URI_LENGTH} characters`,
  logo_uri: `an https URL of at most ${MAX_URI_LENGTH} characters`,
  software_id: `a string of at most ${MAX_SOFTWARE_FIELD_LENGTH} characters`,
  software_version: `a string of at most ${MAX_SOFTWARE_FIELD_LENGTH} characters`,
};

// null is treated as absent: some clients serialise unset fields that way.
const optionalString = (max: number) => z.string().max(max).nullish();

const metadataSchema = z.object({
  redirect_uris: z.array(z.string()).min(1).max(MAX_REDIRECT_URIS),
  token_endpoint_auth_method: z.string().nullish(),
  grant_types: z.array(z.string()).nullish(),
  response_types: z.array(z.string()).nullish(),
  scope: z.string().max(200).nullish(),
  client_name: z.string().min(1).max(MAX_CLIENT_NAME_LENGTH).nullish(),
  client_uri: optionalString(MAX_URI_LENGTH),
  logo_uri: optionalString(MAX_URI_LENGTH),
  software_id: optionalString(MAX_SOFTWARE_FIELD_LENGTH),
  software_version: optionalString(MAX_SOFTWARE_FIELD_LENGTH),
});

function hasControlCharacters(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) return true;
  }
  return false;
}

function metadataError(message: string): OAuthEndpointError {
  return new OAuthEndpointError('invalid_client_metadata', message);
}

function redirectError(message: string): OAuthEndpointError {
  return new OAuthEndpointError('invalid_redirect_uri', message);
}

/**
 * Why `uri` cannot be a redirect URI, or null when it can. Allowed: https URLs; http on a loopback host
 * (127.0.0.1, [::1], localhost — RFC 8252 §7.3); private-use schemes of native apps (RFC 8252 §7.1). RFC 8252 asks
 * for reverse-domain schemes (`com.example.app:/callback`), but MCP clients in the field register plain ones
 * (Cursor: `cursor://anysphere.cursor-mcp/oauth/callback`), so any scheme is accepted except those a browser would
 * run or read locally. The consent page shows the person where the answer goes. Never a fragment (RFC 6749 §3.1.2).
 */
export function redirectUriProblem(uri: string): string | null {
  const quoted = JSON.stringify(uri);
  if (uri.length === 0) return 'redirect URI "" is empty';
  if (uri.length > MAX_URI_LENGTH) return `redirect URI ${JSON.stringify(`${uri.slice(0, 60)}…`)} is longer than ${MAX_URI_LENGTH} characters`;
  if (/\s/.test(uri) || hasControlCharacters(uri)) return `redirect URI ${quoted} contains whitespace or control characters`;
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return `redirect URI ${quoted} is not an absolute URL`;
  }
  if (uri.includes('#')) return `redirect URI ${quoted} must not contain a fragment (#)`;
  const scheme = url.protocol;
  if (scheme === 'https:' || scheme === 'http:') {
    if (!/^https?:\/\//i.test(uri) || url.hostname === '') return `redirect URI ${quoted} has no host`;
    if (url.username !== '' || url.password !== '') return `redirect URI ${quoted} must not contain credentials (user:password@)`;
    if (scheme === 'http:' && !LOOPBACK_HOSTS.has(url.hostname)) {
      return `redirect URI ${quoted} uses http on a host that is not loopback: use https, or http on 127.0.0.1, [::1] or localhost (RFC 8252)`;
    }
    return null;
  }
  if (FORBIDDEN_SCHEMES.has(scheme)) return `redirect URI ${quoted} uses the scheme "${scheme}", which is not allowed for redirects`;
  return null;
}

function httpsUrlProblem(field: string, value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `${field} ${JSON.stringify(value)} is not an absolute URL; it must be ${FIELD_SHAPES[field]}`;
  }
  if (url.protocol !== 'https:') return `${field} ${JSON.stringify(value)} must use https`;
  if (url.username !== '' || url.password !== '') return `${field} ${JSON.stringify(value)} must not contain credentials (user:password@)`;
  return null;
}

function dedupe(values: readonly string[]): string[] {
  return [...new Set(values)];
}

/**
 * Validates RFC 7591 client metadata. Throws OAuthEndpointError('invalid_redirect_uri', …) for anything wrong
 * with redirect_uris and ('invalid_client_metadata', …) for any other field, each message naming the field or
 * URI and what is accepted.
 */
export function validateClientMetadata(input: unknown): ClientMetadata {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw metadataError('The client metadata must be a JSON object.');
  }
  const record = input as Record<string, unknown>;
  if (record.redirect_uris === undefined || record.redirect_uris === null) {
    throw redirectError(`redirect_uris is required: ${FIELD_SHAPES.redirect_uris}.`);
  }
  const parsed = metadataSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const field = String(issue.path[0] ?? '');
    const shape = FIELD_SHAPES[field];
    const message = shape ? `${field} must be ${shape}.` : `The client metadata is invalid: ${issue.message}.`;
    throw field === 'redirect_uris' ? redirectError(message) : metadataError(message);
  }
  const m = parsed.data;

  for (const uri of m.redirect_uris) {
    const problem = redirectUriProblem(uri);
    if (problem) throw redirectError(`${problem}.`);
  }

  if (m.token_endpoint_auth_method != null && m.token_endpoint_auth_method !== 'none') {
    throw metadataError(
      `token_endpoint_auth_method ${JSON.stringify(m.token_endpoint_auth_method)} is not supported: only public clients ` +
        '(token_endpoint_auth_method "none", no client secret) can register here; PKCE protects the authorization code instead.',
    );
  }

  const grantTypes = dedupe(m.grant_types ?? SUPPORTED_GRANT_TYPES);
  const unknownGrant = grantTypes.find((g) => !(SUPPORTED_GRANT_TYPES as readonly string[]).includes(g));
  if (unknownGrant !== undefined) {
    throw metadataError(`grant_types: ${JSON.stringify(unknownGrant)} is not supported; grant_types must be ${FIELD_SHAPES.grant_types}.`);
  }
  if (!grantTypes.includes('authorization_code')) {
    throw metadataError('grant_types must include "authorization_code": it is the only way this server issues tokens to a client.');
  }

  const responseTypes = dedupe(m.response_types ?? SUPPORTED_RESPONSE_TYPES);
  const unknownResponse = responseTypes.find((r) => !(SUPPORTED_RESPONSE_TYPES as readonly string[]).includes(r));
  if (unknownResponse !== undefined || responseTypes.length === 0) {
    throw metadataError(
      `response_types: ${unknownResponse === undefined ? 'an empty list' : JSON.stringify(unknownResponse)} is not supported; response_types must be ["code"].`,
    );
  }

  let scope: string | undefined;
  if (m.scope != null) {
    const scopes = dedupe(m.scope.split(' ').filter((s) => s !== ''));
    const unknownScope = scopes.find((s) => !(ALL_SCOPES as readonly string[]).includes(s));
    if (unknownScope !== undefined) {
      throw metadataError(`scope: ${JSON.stringify(unknownScope)} is not offered here; scope must be a subset of "${ALL_SCOPES.join(' ')}".`);
    }
    scope = scopes.length > 0 ? scopes.join(' ') : undefined;
  }

  if (m.client_name != null && hasControlCharacters(m.client_name)) {
    throw metadataError('client_name must not contain control characters.');
  }
  for (const field of ['client_uri', 'logo_uri'] as const) {
    const value = m[field];
    if (value == null) continue;
    const problem = httpsUrlProblem(field, value);
    if (problem) throw metadataError(`${problem}.`);
  }

  const result: ClientMetadata = { redirectUris: dedupe(m.redirect_uris), grantTypes, responseTypes };
  if (m.client_name != null) result.clientName = m.client_name;
  if (m.client_uri != null) result.clientUri = m.client_uri;
  if (m.logo_uri != null) result.logoUri = m.logo_uri;
  if (scope !== undefined) result.scope = scope;
  if (m.software_id != null) result.softwareId = m.software_id;
  if (m.software_version != null) result.softwareVersion = m.software_version;
  return result;
}
