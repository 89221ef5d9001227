import type { Db } from '../db/db.js';
import { findApiKey, touchApiKeysLastUsed } from './api-key-repo.js';
import { parseApiKey, secretMatches } from './api-key-format.js';
import type { Principal, Scope } from './principal.js';

interface CachedKey {
  userId: string;
  secretHash: string;
  scopes: Scope[];
  expiresAt: number | null;
  revoked: boolean;
  fetchedAt: number;
}

export interface ApiKeyAuthOptions {
  /** How long a key's row may be reused without asking PostgreSQL again; bounds how late a revocation bites. */
  cacheMs: number;
  /** last_used_at is written at most this often per key and instance, never once per request. */
  touchIntervalMs?: number;
  now?: () => number;
}

export type ApiKeyVerdict = { ok: true; principal: Principal } | { ok: false; reason: 'malformed' | 'unknown' | 'wrong_secret' | 'revoked' | 'expired' };

/**
 * Verifies `fpk_<keyId>_<secret>` keys against the hashed rows in mcp_api_key. The secret is compared in
 * constant time on every request, cached row or not, so the cache never weakens the check.
 */
export class ApiKeyAuthenticator {
  private readonly cache = new Map<string, CachedKey>();
  private readonly pendingTouch = new Set<string>();
  private readonly lastTouched = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(
    private readonly db: Db,
    private readonly opts: ApiKeyAuthOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.timer = setInterval(() => void this.flush().catch(() => {}), Math.min(opts.touchIntervalMs ?? 60_000, 60_000));
    this.timer.unref();
  }

  async verify(presented: string): Promise<ApiKeyVerdict> {
    const parsed = parseApiKey(presented);
    if (!parsed) return { ok: false, reason: 'malformed' };
    const row = await this.load(parsed.keyId);
    if (!row) return { ok: false, reason: 'unknown' };
    if (!secretMatches(parsed.secret, row.secretHash)) return { ok: false, reason: 'wrong_secret' };
    if (row.revoked) return { ok: false, reason: 'revoked' };
    const now = this.now();
    if (row.expiresAt !== null && row.expiresAt <= now) return { ok: false, reason: 'expired' };
    this.noteUse(parsed.keyId, now);
    return {
      ok: true,
      principal: {
        uid: row.userId,
        scopes: row.scopes,
        method: 'api_key',
        credentialId: parsed.keyId,
        ...(row.expiresAt !== null ? { expiresAt: row.expiresAt } : {}),
      },
    };
  }

  /** Writes pending last_used_at stamps in one statement. */
  async flush(): Promise<void> {
    if (this.pendingTouch.size === 0) return;
    const ids = [...this.pendingTouch];
    this.pendingTouch.clear();
    await touchApiKeysLastUsed(this.db, ids, new Date(this.now()));
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush().catch(() => {});
  }

  private async load(keyId: string): Promise<CachedKey | null> {
    const cached = this.cache.get(keyId);
    if (cached && this.now() - cached.fetchedAt < this.opts.cacheMs) return cached;
    const row = await findApiKey(this.db, keyId);
    if (!row) {
      this.cache.delete(keyId);
      return null;
    }
    const entry: CachedKey = {
      userId: row.userId,
      secretHash: row.secretHash,
      scopes: row.scopes as Scope[],
      expiresAt: row.expiresAt ? row.expiresAt.getTime() : null,
      revoked: row.revokedAt !== null,
      fetchedAt: this.now(),
    };
    if (this.opts.cacheMs > 0) {
      if (this.cache.size > 10_000) this.cache.clear();
      this.cache.set(keyId, entry);
    }
    return entry;
  }

  private noteUse(keyId: string, now: number): void {
    const last = this.lastTouched.get(keyId) ?? 0;
    if (now - last < (this.opts.touchIntervalMs ?? 60_000)) return;
    if (this.lastTouched.size > 10_000) this.lastTouched.clear();
    this.lastTouched.set(keyId, now);
    this.pendingTouch.add(keyId);
  }
}
