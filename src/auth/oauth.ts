import type { Config } from '../config.js';
import type { Queryable } from '../db/db.js';
import { ensureUser } from '../db/users-repo.js';
import type { AuthorizationStore } from '../state/authorization-store.js';
import type { RevocationStore } from '../state/revocation-store.js';
import { AccessTokenAuthenticator } from './access-token-auth.js';
import { AuthorizationServer, type AuthorizationServerDeps } from './authorization-server.js';
import { ClientMetadataDocuments } from './client-metadata-document.js';
import { DbClientRegistry } from './client-registry.js';
import type { ClientRegistry } from './oauth-client.js';
import { AccessTokens } from './access-tokens.js';
import { FirebaseVerifier } from './firebase-verifier.js';
import { mcpResourceUrl } from './oauth-metadata.js';
import { TokenExchange } from './token-exchange.js';

export interface OAuth {
  /** The token and revocation endpoints' logic (answers "not enabled" without FIREBASE_PROJECT_ID). */
  exchange: TokenExchange;
  /** The /mcp gate's access-token half; absent without MCP_TOKEN_SECRET (then only API keys are accepted). */
  accessTokens?: AccessTokenAuthenticator;
  /** The browser sign-in and client registration; absent unless Config.oauth.signIn is set. */
  authorization?: { server: AuthorizationServer; clients: ClientRegistry };
}

/** What tests may swap in: trust for a self-signed client metadata server. */
export interface OAuthOptions {
  clientMetadataCa?: string | Buffer;
  /** Sign-in steps and attacks caught, for metrics and the security log. */
  onEvent?: AuthorizationServerDeps['onEvent'];
}

/** Builds OAuth V2 from Config: Firebase ID tokens in, server-signed access tokens out, a shared deny-list. */
export function createOAuth(
  config: Pick<Config, 'publicUrl' | 'oauth'>,
  db: Queryable,
  stores: { revocations: RevocationStore; authorizations: AuthorizationStore },
  options: OAuthOptions = {},
): OAuth {
  const { revocations } = stores;
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
  const ensure = async (identity: { uid: string; email?: string; name?: string }) => {
    await ensureUser(db, { id: identity.uid, ...(identity.email ? { email: identity.email } : {}), ...(identity.name ? { displayName: identity.name } : {}) });
  };
  let authorization: OAuth['authorization'];
  if (o.signIn && firebase && tokens) {
    const clients = new DbClientRegistry(
      db,
      new ClientMetadataDocuments({ allowPrivateNetworks: o.signIn.clientMetadataAllowPrivate, ...(options.clientMetadataCa ? { ca: options.clientMetadataCa } : {}) }),
    );
    const server = new AuthorizationServer({
      issuer: config.publicUrl,
      resource,
      clients,
      store: stores.authorizations,
      tokens,
      firebase,
      revocations,
      ensureUser: ensure,
      refreshTokenTtlSeconds: o.signIn.refreshTokenTtlSeconds,
      refreshTokenMaxLifetimeSeconds: o.signIn.refreshTokenMaxLifetimeSeconds,
      ...(options.onEvent ? { onEvent: options.onEvent } : {}),
    });
    authorization = { server, clients };
  }
  const exchange = new TokenExchange({
    ...(firebase ? { firebase } : {}),
    ...(tokens ? { tokens } : {}),
    revocations,
    resource,
    ensureUser: ensure,
  });
  return { exchange, ...(tokens ? { accessTokens: new AccessTokenAuthenticator(tokens, revocations) } : {}), ...(authorization ? { authorization } : {}) };
}
