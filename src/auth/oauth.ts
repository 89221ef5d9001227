import type { Config } from '../config.js';
import type { Queryable } from '../db/db.js';
import { ensureUser } from '../db/users-repo.js';
import type { RevocationStore } from '../state/revocation-store.js';
import { AccessTokenAuthenticator } from './access-token-auth.js';
import { AccessTokens } from './access-tokens.js';
import { FirebaseVerifier } from './firebase-verifier.js';
import { mcpResourceUrl } from './oauth-metadata.js';
import { TokenExchange } from './token-exchange.js';

export interface OAuth {
  /** The token and revocation endpoints' logic (answers "not enabled" without FIREBASE_PROJECT_ID). */
  exchange: TokenExchange;
  /** The /mcp gate's access-token half; absent without MCP_TOKEN_SECRET (then only API keys are accepted). */
  accessTokens?: AccessTokenAuthenticator;
}

/** Builds OAuth V2 from Config: Firebase ID tokens in, server-signed access tokens out, a shared deny-list. */
export function createOAuth(config: Pick<Config, 'publicUrl' | 'oauth'>, db: Queryable, revocations: RevocationStore): OAuth {
  const resource = mcpResourceUrl(config.publicUrl);
  const o = config.oauth;
  const tokens = o.tokenSecret
    ? new AccessTokens({
        issuer: config.publicUrl,
        audience: resource,
        secret: o.tokenSecret,
        ...(o.tokenSecretPrevious ? { previousSecret: o.tokenSecretPrevious } : {}),
        ttlSeconds: o.tokenTtlSeconds,
      })
    : undefined;
  const firebase = o.firebaseProjectId
    ? new FirebaseVerifier({ projectId: o.firebaseProjectId, jwksUrl: o.firebaseJwksUrl, emulator: o.firebaseEmulatorHost !== undefined })
    : undefined;
  const exchange = new TokenExchange({
    ...(firebase ? { firebase } : {}),
    ...(tokens ? { tokens } : {}),
    revocations,
    resource,
    ensureUser: async (identity) => {
      await ensureUser(db, { id: identity.uid, ...(identity.email ? { email: identity.email } : {}), ...(identity.name ? { displayName: identity.name } : {}) });
    },
  });
  return { exchange, ...(tokens ? { accessTokens: new AccessTokenAuthenticator(tokens, revocations) } : {}) };
}
