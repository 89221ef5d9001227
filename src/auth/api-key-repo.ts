import type { Queryable } from '../db/db.js';
import { isUniqueViolation, pgErrorCode } from '../db/errors.js';
import { generateApiKey } from './api-key-format.js';
import { ALL_SCOPES, type Scope } from './principal.js';

/** An API key as listed: everything but its secret. */
export interface ApiKeyRecord {
  keyId: string;
  userId: string;
  name: string;
  scopes: Scope[];
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** What verification needs: the record plus the secret's SHA-256 hex. */
export interface StoredApiKey extends ApiKeyRecord {
  secretHash: string;
}

interface ApiKeyRow {
  key_id: string;
  user_id: string;
  name: string;
  scopes: string[];
  created_at: Date;
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
  secret_hash?: string;
}

const RECORD_COLUMNS = 'key_id, user_id, name, scopes, created_at, expires_at, last_used_at, revoked_at';

function toDate(value: Date | string | null): Date | null {
  if (value === null) return null;
  return value instanceof Date ? value : new Date(value);
}

function toRecord(row: ApiKeyRow): ApiKeyRecord {
  return {
    keyId: row.key_id,
    userId: row.user_id,
    name: row.name,
    scopes: row.scopes.filter((s): s is Scope => (ALL_SCOPES as readonly string[]).includes(s)),
    createdAt: toDate(row.created_at)!,
    expiresAt: toDate(row.expires_at),
    lastUsedAt: toDate(row.last_used_at),
    revokedAt: toDate(row.revoked_at),
  };
}

export class UnknownUserError extends Error {
  constructor(readonly userId: string) {
    super(`No user "${userId}"; create the user first.`);
    this.name = 'UnknownUserError';
  }
}

/**
 * Creates a key for an existing user (throws UnknownUserError otherwise). The full key is returned once and
 * only its hash is stored. An expiresAt in the past is accepted (the key is simply never valid).
 */
export async function createApiKey(
  db: Queryable,
  input: { userId: string; name: string; scopes: readonly Scope[]; expiresAt?: Date },
): Promise<{ key: string; record: ApiKeyRecord }> {
  const unknownScopes = input.scopes.filter((s) => !(ALL_SCOPES as readonly string[]).includes(s));
  if (unknownScopes.length > 0) throw new RangeError(`Unknown scope(s): ${unknownScopes.join(', ')}`);
  const scopes = [...new Set(input.scopes)];
  for (let attempt = 0; ; attempt++) {
    const generated = generateApiKey();
    try {
      const { rows } = await db.query<ApiKeyRow>(
        `INSERT INTO mcp_api_key (key_id, secret_hash, user_id, name, scopes, expires_at)
         VALUES ($1, $2, $3, $4, $5::text[], $6)
         RETURNING ${RECORD_COLUMNS}`,
        [generated.keyId, generated.secretHash, input.userId, input.name, scopes, input.expiresAt ?? null],
      );
      return { key: generated.key, record: toRecord(rows[0]!) };
    } catch (err) {
      // 60 random bits make a key id collision very unlikely; if one happens, draw again.
      if (isUniqueViolation(err) && attempt < 3) continue;
      if (pgErrorCode(err) === '23503') throw new UnknownUserError(input.userId);
      throw err;
    }
  }
}

/** The key's stored row, revoked or expired ones included (the caller decides); null when unknown. */
export async function findApiKey(db: Queryable, keyId: string): Promise<StoredApiKey | null> {
  const { rows } = await db.query<ApiKeyRow>(`SELECT ${RECORD_COLUMNS}, secret_hash FROM mcp_api_key WHERE key_id = $1`, [keyId]);
  const row = rows[0];
  return row ? { ...toRecord(row), secretHash: row.secret_hash! } : null;
}

/** Keys, oldest first; all users' unless userId is given. */
export async function listApiKeys(db: Queryable, filter: { userId?: string } = {}): Promise<ApiKeyRecord[]> {
  const { rows } = await db.query<ApiKeyRow>(
    `SELECT ${RECORD_COLUMNS} FROM mcp_api_key
     WHERE ($1::text IS NULL OR user_id = $1)
     ORDER BY created_at, key_id`,
    [filter.userId ?? null],
  );
  return rows.map(toRecord);
}

/** Revokes at once; false when the key is unknown or already revoked. */
export async function revokeApiKey(db: Queryable, keyId: string): Promise<boolean> {
  const { rowCount } = await db.query('UPDATE mcp_api_key SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL', [keyId]);
  return rowCount > 0;
}

/**
 * Records use of a batch of keys in one statement. Never moves last_used_at backwards (instances flush at
 * different times). Returns how many rows changed.
 */
export async function touchApiKeysLastUsed(db: Queryable, keyIds: readonly string[], at: Date): Promise<number> {
  const ids = [...new Set(keyIds)];
  if (ids.length === 0) return 0;
  const { rowCount } = await db.query(
    `UPDATE mcp_api_key SET last_used_at = $2
     WHERE key_id = ANY($1::text[]) AND (last_used_at IS NULL OR last_used_at < $2)`,
    [ids, at],
  );
  return rowCount;
}
