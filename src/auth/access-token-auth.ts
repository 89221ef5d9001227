import type { RevocationStore } from '../state/revocation-store.js';
import { AccessTokenError, type AccessTokenFailure, type AccessTokens } from './access-tokens.js';
import type { Principal } from './principal.js';

export type AccessTokenVerdict = { ok: true; principal: Principal } | { ok: false; reason: AccessTokenFailure | 'revoked' };

/**
 * The auth gate's half for access tokens: the signature and claims are checked locally (no I/O), then the deny-list
 * once (one Redis round trip), so a token revoked on any instance is refused by every instance at once.
 */
export class AccessTokenAuthenticator {
  constructor(
    private readonly tokens: AccessTokens,
    private readonly revocations: RevocationStore,
  ) {}

  async verify(token: string): Promise<AccessTokenVerdict> {
    let claims;
    try {
      claims = await this.tokens.verify(token);
    } catch (err) {
      if (err instanceof AccessTokenError) return { ok: false, reason: err.reason };
      throw err;
    }
    if (await this.revocations.isRevoked(claims.jti)) return { ok: false, reason: 'revoked' };
    return {
      ok: true,
      principal: {
        uid: claims.sub,
        scopes: claims.scopes,
        method: 'access_token',
        credentialId: claims.jti,
        expiresAt: claims.exp * 1000,
        resource: claims.aud,
      },
    };
  }
}
