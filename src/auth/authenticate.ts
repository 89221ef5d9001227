import { decodeJwt } from 'jose';
import { AppError } from '../errors.js';
import type { AccessTokenAuthenticator } from './access-token-auth.js';
import type { ApiKeyAuthenticator } from './api-key-auth.js';
import { API_KEY_PREFIX } from './api-key-format.js';
import type { Principal } from './principal.js';

export interface Authenticator {
  /** Resolves the caller or throws AppError('unauthorized' | 'invalid_token'). */
  authenticate(authorization: string | undefined): Promise<Principal>;
}

const BEARER = /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i;

/**
 * Turns an Authorization header into a Principal: an API key (`fpk_…`) or, when token exchange is configured, an
 * access token this server signed. Credentials are checked on every request; sessions never stand in for them.
 */
export function createAuthenticator(apiKeys: ApiKeyAuthenticator, accessTokens?: AccessTokenAuthenticator): Authenticator {
  return {
    async authenticate(authorization) {
      if (authorization === undefined || authorization.trim() === '') throw new AppError('unauthorized');
      const match = BEARER.exec(authorization);
      if (!match?.[1]) throw new AppError('invalid_token', 'Use the Bearer scheme: Authorization: Bearer <credential>.');
      const credential = match[1];
      const verdict = credential.startsWith(API_KEY_PREFIX) || !accessTokens ? await apiKeys.verify(credential) : await accessTokens.verify(credential);
      if (verdict.ok) return verdict.principal;
      // No token passthrough: an upstream token is never accepted here, but saying what to do with it costs nothing.
      if (isFirebaseIdToken(credential)) {
        throw new AppError('invalid_token', 'A Firebase ID token is not accepted here: exchange it at POST /mcp/token for an access token.');
      }
      // One message for every other failure: telling "unknown key" from "wrong secret" would help a guesser.
      throw new AppError('invalid_token');
    },
  };
}

function isFirebaseIdToken(credential: string): boolean {
  try {
    const { iss } = decodeJwt(credential);
    return typeof iss === 'string' && iss.startsWith('https://securetoken.google.com/');
  } catch {
    return false;
  }
}
