import { MCP_PATH } from '../config.js';
import { ALL_SCOPES } from './principal.js';

/** RFC 8693 names. */
export const TOKEN_EXCHANGE_GRANT = 'urn:ietf:params:oauth:grant-type:token-exchange';
export const TOKEN_TYPE_ID_TOKEN = 'urn:ietf:params:oauth:token-type:id_token';
export const TOKEN_TYPE_JWT = 'urn:ietf:params:oauth:token-type:jwt';
export const TOKEN_TYPE_ACCESS_TOKEN = 'urn:ietf:params:oauth:token-type:access_token';

export const TOKEN_PATH = `${MCP_PATH}/token`;
export const REVOCATION_PATH = `${MCP_PATH}/token/revoke`;
export const AUTHORIZATION_SERVER_METADATA_PATH = '/.well-known/oauth-authorization-server';
export const PROTECTED_RESOURCE_METADATA_PATH = '/.well-known/oauth-protected-resource';
export const AUTHORIZATION_PATH = '/authorize';
export const REGISTRATION_PATH = '/register';

/** The scope string a client asks for to get everything this server offers. */
export const ALL_SCOPES_STRING = ALL_SCOPES.join(' ');

/** The MCP endpoint's URL: the RFC 8707 resource indicator and the `aud` of every access token. */
export function mcpResourceUrl(publicUrl: string): string {
  return `${publicUrl}${MCP_PATH}`;
}

/** RFC 9728 §3.1: the metadata of resource `<origin>/mcp` lives at `<origin>/.well-known/oauth-protected-resource/mcp`. */
export function resourceMetadataUrl(publicUrl: string): string {
  return `${publicUrl}${PROTECTED_RESOURCE_METADATA_PATH}${MCP_PATH}`;
}

/**
 * RFC 8414 authorization server metadata. Without the browser sign-in, tokens come only by exchange (no authorization
 * endpoint, no response types); `code_challenge_methods_supported` and `none` are listed because MCP clients refuse
 * metadata without them. With it, everything an MCP client needs to sign a person in: the authorization endpoint
 * (code + PKCE S256 only, `iss` in the response, RFC 9207), refresh tokens, Dynamic Client Registration and Client
 * ID Metadata Documents.
 */
export function authorizationServerMetadata(publicUrl: string, opts: { signIn: boolean } = { signIn: false }) {
  const base = {
    issuer: publicUrl,
    token_endpoint: `${publicUrl}${TOKEN_PATH}`,
    revocation_endpoint: `${publicUrl}${REVOCATION_PATH}`,
    scopes_supported: [...ALL_SCOPES],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['none'],
    revocation_endpoint_auth_methods_supported: ['none'],
  };
  if (!opts.signIn) return { ...base, grant_types_supported: [TOKEN_EXCHANGE_GRANT], response_types_supported: [] as string[] };
  return {
    ...base,
    authorization_endpoint: `${publicUrl}${AUTHORIZATION_PATH}`,
    registration_endpoint: `${publicUrl}${REGISTRATION_PATH}`,
    grant_types_supported: ['authorization_code', 'refresh_token', TOKEN_EXCHANGE_GRANT],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    authorization_response_iss_parameter_supported: true,
    client_id_metadata_document_supported: true,
  };
}

/** RFC 9728 protected resource metadata for the MCP endpoint. */
export function protectedResourceMetadata(publicUrl: string) {
  return {
    resource: mcpResourceUrl(publicUrl),
    authorization_servers: [publicUrl],
    scopes_supported: [...ALL_SCOPES],
    bearer_methods_supported: ['header'],
    resource_name: 'FlowPOS MCP',
  };
}
