import type { Queryable } from '../db/db.js';
import { isDbUnavailableError } from '../db/errors.js';
import { ERRORS, OAuthEndpointError } from '../errors.js';
import { looksLikeUrl, type ClientMetadataDocuments } from './client-metadata-document.js';
import { validateClientMetadata } from './client-metadata.js';
import type { ClientRegistrationResponse, ClientRegistry, OAuthClient } from './oauth-client.js';
import { findOAuthClient, insertOAuthClient, type OAuthClientRecord } from './oauth-clients-repo.js';

/** Seconds a client should wait before retrying while PostgreSQL is unreachable. */
const RETRY_AFTER_SECONDS = '2';

function unavailable(err: unknown): never {
  if (isDbUnavailableError(err)) {
    throw new OAuthEndpointError('temporarily_unavailable', ERRORS.unavailable_db.message, { 'retry-after': RETRY_AFTER_SECONDS });
  }
  throw err;
}

function toClient(record: OAuthClientRecord): OAuthClient {
  const client: OAuthClient = { clientId: record.clientId, redirectUris: record.redirectUris, grantTypes: record.grantTypes, kind: 'registered' };
  if (record.clientName !== undefined) client.clientName = record.clientName;
  if (record.clientUri !== undefined) client.clientUri = record.clientUri;
  if (record.logoUri !== undefined) client.logoUri = record.logoUri;
  if (record.scope !== undefined) client.scope = record.scope;
  return client;
}

function toRegistrationResponse(record: OAuthClientRecord): ClientRegistrationResponse {
  const response: ClientRegistrationResponse = {
    client_id: record.clientId,
    client_id_issued_at: Math.floor(record.createdAt.getTime() / 1000),
    redirect_uris: record.redirectUris,
    grant_types: record.grantTypes,
    response_types: record.responseTypes,
    token_endpoint_auth_method: 'none',
  };
  if (record.clientName !== undefined) response.client_name = record.clientName;
  if (record.clientUri !== undefined) response.client_uri = record.clientUri;
  if (record.logoUri !== undefined) response.logo_uri = record.logoUri;
  if (record.scope !== undefined) response.scope = record.scope;
  if (record.softwareId !== undefined) response.software_id = record.softwareId;
  if (record.softwareVersion !== undefined) response.software_version = record.softwareVersion;
  return response;
}

/**
 * Clients registered by RFC 7591 (PostgreSQL, table oauth_clients) and clients identified by a Client ID
 * Metadata Document URL (fetched by `documents`). A client_id with a scheme (`…://`) is always treated as a
 * document URL, so a registered id (which never contains ':') cannot be confused with one.
 */
export class DbClientRegistry implements ClientRegistry {
  constructor(
    private readonly db: Queryable,
    private readonly documents: ClientMetadataDocuments,
  ) {}

  async resolve(clientId: string): Promise<OAuthClient> {
    if (typeof clientId !== 'string' || clientId === '') {
      throw new OAuthEndpointError('invalid_client', 'client_id is required: a registered client id or a client ID metadata document URL.');
    }
    if (looksLikeUrl(clientId)) return this.documents.resolve(clientId);
    const record = await findOAuthClient(this.db, clientId).catch(unavailable);
    if (!record) {
      const shown = clientId.length > 100 ? `${clientId.slice(0, 100)}…` : clientId;
      throw new OAuthEndpointError(
        'invalid_client',
        `client_id ${JSON.stringify(shown)} is not registered here: register with POST /register or use a client ID metadata document URL.`,
      );
    }
    return toClient(record);
  }

  async register(metadata: unknown): Promise<ClientRegistrationResponse> {
    const validated = validateClientMetadata(metadata);
    const record = await insertOAuthClient(this.db, validated).catch(unavailable);
    return toRegistrationResponse(record);
  }
}
