import type { Principal } from '../auth/principal.js';

/** What a 2025-era session remembers between requests, whichever instance serves them. */
export interface SessionRecord {
  id: string;
  protocolVersion: string;
  clientInfo: { name: string; version: string; [k: string]: unknown };
  clientCapabilities: Record<string, unknown>;
  principal: Principal;
  /** The business this session acts for, once chosen (or inherited from the user's last choice). */
  activeBusinessId?: string;
  createdAt: number;
}

/** The credential of the request that touches a session: its user and when it expires (undefined: never). */
export interface SessionRenewal {
  uid: string;
  expiresAt: number | undefined;
}

export interface SessionStoreOptions {
  /** Idle lifetime; every successful load pushes expiry out by this much. */
  idleTtlMs: number;
}

/**
 * Sessions live here, never in process memory, so any instance can serve any request.
 * A record expires at min(last use + idle TTL, principal.expiresAt).
 */
export interface SessionStore {
  create(record: SessionRecord): Promise<void>;
  /**
   * Loads the record and refreshes its idle TTL in one step; null when unknown or expired. With `renewal` — the
   * credential presented with this request — and when it belongs to the session's own principal and expires later
   * than the session's cap (a refreshed access token), the cap moves to it.
   */
  touch(id: string, renewal?: SessionRenewal): Promise<SessionRecord | null>;
  /** Sets the active business only if the session still exists; returns whether it did. */
  setActiveBusiness(id: string, businessId: string): Promise<boolean>;
  /** Removes the record; returns whether it existed. */
  delete(id: string): Promise<boolean>;
}
