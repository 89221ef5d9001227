import { randomBytes } from 'node:crypto';
import type { Queryable } from '../db/db.js';
import { isUniqueViolation } from '../db/errors.js';
import type { ClientMetadata } from './client-metadata.js';

/** Registered client ids: `fpc_` + 22 base64url characters (128 random bits). Never URL-shaped. */
export const CLIENT_ID_PREFIX = 'fpc_';
const CLIENT_ID_PATTERN = /^fpc_[A-Za-z0-9_-]{22}$/;

export function generateClientId(): string {
  return `${CLIENT_ID_PREFIX}${randomBytes(16).toString('base64url')}`;
}

/** True when `clientId` has the shape of an id this server issues (an unknown one still may not exist). */
export function isRegisteredClientIdShape(clientId: string): boolean {
  return CLIENT_ID_PATTERN.test(clientId);
}

/** A client registered by RFC 7591 Dynamic Client Registration, as stored. */
export interface OAuthClientRecord extends ClientMetadata {
  clientId: string;
  createdAt: Date;
}

interface OAuthClientRow {
  client_id: string;
  client_name: string | null;
  client_uri: string | null;
  logo_uri: string | null;
  redirect_uris: string[];
  grant_types: string[];
  response_types: string[];
  scope: string | null;
  software_id: string | null;
  software_version: string | null;
  created_at: Date | string;
}

const COLUMNS =
  'client_id, client_name, client_uri, logo_uri, redirect_uris, grant_types, response_types, scope, software_id, software_version, created_at';

function toRecord(row: OAuthClientRow): OAuthClientRecord {
  const record: OAuthClientRecord = {
    clientId: row.client_id,
    redirectUris: row.redirect_uris,
    grantTypes: row.grant_types,
    responseTypes: row.response_types,
    createdAt: row.created_at instanceof Date ? row.created_at : new Date(row.created_at),
  };
  if (row.client_name !== null) record.clientName = row.client_name;
  if (row.client_uri !== null) record.clientUri = row.client_uri;
  if (row.logo_uri !== null) record.logoUri = row.logo_uri;
  if (row.scope !== null) record.scope = row.scope;
  if (row.software_id !== null) record.softwareId = row.software_id;
  if (row.software_version !== null) record.softwareVersion = row.software_version;
  return record;
}

/** Stores validated metadata (see validateClientMetadata) under a new random client id. */
export async function insertOAuthClient(db: Queryable, metadata: ClientMetadata): Promise<OAuthClientRecord> {
  for (let attempt = 0; ; attempt++) {
    try {
      const { rows } = await db.query<OAuthClientRow>(
        `INSERT INTO oauth_clients
           (client_id, client_name, client_uri, logo_uri, redirect_uris, grant_types, response_types, scope, software_id, software_version)
         VALUES ($1, $2, $3, $4, $5::text[], $6::text[], $7::text[], $8, $9, $10)
         RETURNING ${COLUMNS}`,
        [
          generateClientId(),
          metadata.clientName ?? null,
          metadata.clientUri ?? null,
          metadata.logoUri ?? null,
          metadata.redirectUris,
          metadata.grantTypes,
          metadata.responseTypes,
          metadata.scope ?? null,
          metadata.softwareId ?? null,
          metadata.softwareVersion ?? null,
        ],
      );
      return toRecord(rows[0]!);
    } catch (err) {
      // 128 random bits do not collide in practice; if they ever do, draw again.
      if (isUniqueViolation(err) && attempt < 3) continue;
      throw err;
    }
  }
}

/** The registered client, or null when there is none (ids of another shape are not looked up). */
export async function findOAuthClient(db: Queryable, clientId: string): Promise<OAuthClientRecord | null> {
  if (!isRegisteredClientIdShape(clientId)) return null;
  const { rows } = await db.query<OAuthClientRow>(`SELECT ${COLUMNS} FROM oauth_clients WHERE client_id = $1`, [clientId]);
  const row = rows[0];
  return row ? toRecord(row) : null;
}
