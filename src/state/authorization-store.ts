import type { Scope } from '../auth/principal.js';

/**
 * The authorization server's short-lived state, shared by every instance so that each step of a sign-in (the
 * /authorize request, the sign-in, the consent, the code redemption, every refresh) may land on a different one.
 *
 * - A *pending authorization* is an /authorize request that was checked and waits for the person to sign in and
 *   consent (minutes).
 * - An *authorization code* is single-use and lives a minute. Redeeming it records which refresh-token family it
 *   produced, so a replay can be detected and that family (and its access token) revoked (RFC 9700 §4.5).
 * - A *refresh-token family* is one grant: the current refresh token (by hash), the hashes of the rotated-away ones,
 *   and the last access token minted from it. Presenting a rotated-away token again means it was stolen or copied:
 *   the whole family is revoked (RFC 9700 §4.14.2).
 */
export interface PendingAuthorization {
  clientId: string;
  redirectUri: string;
  state?: string;
  /** PKCE S256 challenge (base64url of SHA-256 of the verifier). */
  codeChallenge: string;
  /** RFC 8707 resource: this server's MCP URL. */
  resource: string;
  scopes: Scope[];
  /** Set by the sign-in step. */
  subject?: string;
  email?: string;
  /** SHA-256 (base64url) of the cookie that binds the consent step to the browser that signed in. */
  browserBinding?: string;
}

export interface CodeGrant {
  clientId: string;
  redirectUri: string;
  resource: string;
  scopes: Scope[];
  codeChallenge: string;
  subject: string;
}

export type CodeRedemption =
  | { status: 'ok'; grant: CodeGrant }
  /** A replay: what the first redemption produced (or is producing right now), for the caller to revoke. */
  | { status: 'used'; familyId: string; accessToken: IssuedAccessToken }
  | { status: 'unknown' };

export interface RefreshFamily {
  subject: string;
  clientId: string;
  scopes: Scope[];
  resource: string;
  /** Epoch ms: no token of the family is accepted after this, however recently it was rotated. */
  expiresAt: number;
}

/** The access token last minted from a family, so revoking the family revokes it too. */
export interface IssuedAccessToken {
  jti: string;
  /** Epoch ms. */
  expiresAt: number;
}

export type RefreshRotation =
  | { status: 'ok'; family: RefreshFamily }
  /** A rotated-away token was presented: the family is gone; `lastAccessToken` should go on the deny-list. */
  | { status: 'reused'; family: RefreshFamily; lastAccessToken?: IssuedAccessToken }
  /** The token belongs to a family of another client: nothing changed. */
  | { status: 'wrong_client' }
  | { status: 'unknown' };

export interface AuthorizationStore {
  putPending(id: string, pending: PendingAuthorization, ttlMs: number): Promise<void>;
  getPending(id: string): Promise<PendingAuthorization | undefined>;
  /**
   * Replaces a pending authorization, keeping its expiry, only if its browser binding is still `expectedBinding`
   * (undefined: nobody signed in yet) — compare and set in one step, so of two browsers signing in at once one wins.
   */
  bindPending(id: string, expectedBinding: string | undefined, pending: PendingAuthorization): Promise<'ok' | 'gone' | 'taken'>;
  /** Get and delete, atomically: of two concurrent takes, one gets it. */
  takePending(id: string): Promise<PendingAuthorization | undefined>;

  putCode(codeHash: string, grant: CodeGrant, ttlMs: number): Promise<void>;
  /**
   * Marks the code used and records what it will produce (`familyId`, `accessToken`, chosen before the tokens exist),
   * atomically: of two concurrent redemptions one gets `ok`, the other `used` with those ids, and the code is marked
   * replayed. The code stays until it expires, so replays are seen.
   */
  redeemCode(codeHash: string, familyId: string, accessToken: IssuedAccessToken): Promise<CodeRedemption>;
  /**
   * True once a redeemed code has been presented again. The first redemption checks it after creating its refresh
   * family: a replay that raced ahead of that creation could not revoke a family that did not exist yet.
   */
  codeReplayed(codeHash: string): Promise<boolean>;

  /** Starts a family whose current token is `tokenHash`; it lives `idleTtlMs` (capped by `family.expiresAt`). */
  createFamily(familyId: string, family: RefreshFamily, tokenHash: string, idleTtlMs: number, accessToken: IssuedAccessToken): Promise<void>;
  /**
   * If `presentedHash` is the family's current token and `clientId` its client: makes `newHash` current, remembers
   * the old one as used, records `accessToken`, resets the idle TTL. If it is a used one: deletes the family.
   */
  rotate(familyId: string, presentedHash: string, newHash: string, clientId: string, idleTtlMs: number, accessToken: IssuedAccessToken): Promise<RefreshRotation>;
  /** Deletes the family; returns what it was (and its last access token) so the caller can deny that token. */
  revokeFamily(familyId: string): Promise<{ family: RefreshFamily; lastAccessToken?: IssuedAccessToken } | undefined>;
}

/** The TTL a family's keys get now: the idle TTL, but never past the family's absolute expiry. */
export function familyTtlMs(family: RefreshFamily, idleTtlMs: number, now = Date.now()): number {
  return Math.max(1, Math.min(idleTtlMs, family.expiresAt - now));
}
