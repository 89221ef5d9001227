import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { randomBase32 } from '../db/random-id.js';

/**
 * API keys look like `fpk_<keyId>_<secret>`:
 * - keyId: 12 characters of lower-case base32 (a-z, 2-7) — never `_`, so the key splits unambiguously;
 *   stored in clear and shown in listings and logs.
 * - secret: 32 base64url characters (24 random bytes, 192 bits); may contain `_` and `-`. Only its SHA-256
 *   is stored.
 */
export const API_KEY_PREFIX = 'fpk_';
export const KEY_ID_LENGTH = 12;
export const SECRET_LENGTH = 32;

const KEY_ID_PATTERN = /^[a-z2-7]{12}$/;
const SECRET_PATTERN = /^[A-Za-z0-9_-]{32}$/;
const HASH_PATTERN = /^[0-9a-f]{64}$/;

export interface GeneratedApiKey {
  /** The full key, shown to its owner once. */
  key: string;
  keyId: string;
  /** SHA-256 hex of the secret: what the database keeps. */
  secretHash: string;
}

export function generateApiKey(): GeneratedApiKey {
  const keyId = randomBase32(KEY_ID_LENGTH);
  const secret = randomBytes((SECRET_LENGTH * 3) / 4).toString('base64url');
  return { key: `${API_KEY_PREFIX}${keyId}_${secret}`, keyId, secretHash: hashSecret(secret) };
}

/** Splits a presented key; null unless it has exactly the expected prefix, lengths and characters. */
export function parseApiKey(value: string): { keyId: string; secret: string } | null {
  if (typeof value !== 'string' || value.length !== API_KEY_PREFIX.length + KEY_ID_LENGTH + 1 + SECRET_LENGTH) return null;
  if (!value.startsWith(API_KEY_PREFIX)) return null;
  const keyId = value.slice(API_KEY_PREFIX.length, API_KEY_PREFIX.length + KEY_ID_LENGTH);
  const separator = value.charAt(API_KEY_PREFIX.length + KEY_ID_LENGTH);
  const secret = value.slice(API_KEY_PREFIX.length + KEY_ID_LENGTH + 1);
  if (separator !== '_' || !KEY_ID_PATTERN.test(keyId) || !SECRET_PATTERN.test(secret)) return null;
  return { keyId, secret };
}

export function isValidKeyId(keyId: string): boolean {
  return KEY_ID_PATTERN.test(keyId);
}

export function hashSecret(secret: string): string {
  return hash('sha256', secret, 'hex');
}

/** Constant-time comparison of a presented secret against the stored SHA-256 hex. */
export function secretMatches(secret: string, storedHex: string): boolean {
  if (!HASH_PATTERN.test(storedHex)) return false;
  // The one-shot digest: no Hash object per request (this runs on every API-key request).
  const presented = hash('sha256', secret, 'buffer');
  const stored = Buffer.from(storedHex, 'hex');
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}
