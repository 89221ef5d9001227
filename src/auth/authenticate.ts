import { AppError } from '../errors.js';
import type { ApiKeyAuthenticator } from './api-key-auth.js';
import type { Principal } from './principal.js';

export interface Authenticator {
  /** Resolves the caller or throws AppError('unauthorized' | 'invalid_token'). */
  authenticate(authorization: string | undefined): Promise<Principal>;
}

const BEARER = /^Bearer[ ]+([\x21-\x7e]+)[ ]*$/i;

/** Turns an Authorization header into a Principal. Credentials are checked on every request; sessions never stand in for them. */
export function createAuthenticator(apiKeys: ApiKeyAuthenticator): Authenticator {
  return {
    async authenticate(authorization) {
      if (authorization === undefined || authorization.trim() === '') throw new AppError('unauthorized');
      const match = BEARER.exec(authorization);
      if (!match?.[1]) throw new AppError('invalid_token', 'Use the Bearer scheme: Authorization: Bearer <credential>.');
      const verdict = await apiKeys.verify(match[1]);
      if (verdict.ok) return verdict.principal;
      // One message for every failure: telling "unknown key" from "wrong secret" would help a guesser.
      throw new AppError('invalid_token');
    },
  };
}
