import { OAuthEndpointError } from '../errors.js';
import type { RevocationStore } from '../state/revocation-store.js';
import { AccessTokenError, type AccessTokens } from './access-tokens.js';
import { API_KEY_PREFIX } from './api-key-format.js';
import { FirebaseTokenError, type FirebaseIdentity, type FirebaseVerifier } from './firebase-verifier.js';
import { TOKEN_EXCHANGE_GRANT, TOKEN_TYPE_ACCESS_TOKEN, TOKEN_TYPE_ID_TOKEN, TOKEN_TYPE_JWT } from './oauth-metadata.js';
import { ALL_SCOPES, type Scope } from './principal.js';

/** Request parameters as received: a name given twice keeps every value, so the duplicate can be refused. */
export type OAuthParams = Map<string, string[]>;

export interface TokenExchangeDeps {
  /** Both are absent when FIREBASE_PROJECT_ID is not set. */
  firebase?: FirebaseVerifier;
  tokens?: AccessTokens;
  revocations: RevocationStore;
  /** The MCP URL: the only acceptable `resource`/`audience`, and every token's `aud`. */
  resource: string;
  /** Creates the user on first sight, refreshes email and name after (users-repo ensureUser). */
  ensureUser(identity: FirebaseIdentity): Promise<void>;
}

/** `client_id` when the client names none: RFC 9068 wants the claim, and a public client may stay anonymous. */
export const DEFAULT_CLIENT_ID = 'token-exchange';

const CLIENT_ID = /^[\x21-\x7e]{1,200}$/;

/** The short form a browser app uses: `{"idToken": "..."}` → `{"accessToken", "expiresIn"}`. */
export interface SimpleExchangeResult {
  accessToken: string;
  expiresIn: number;
  tokenType: 'Bearer';
  scope: string;
}

/** RFC 8693 §2.2.1. */
export interface TokenExchangeResult {
  access_token: string;
  issued_token_type: typeof TOKEN_TYPE_ACCESS_TOKEN;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
}

/**
 * The token endpoint's logic, free of HTTP: checks the request, verifies the Firebase ID token, makes sure the user
 * exists, and mints an access token for this server's MCP URL only.
 */
export class TokenExchange {
  constructor(private readonly deps: TokenExchangeDeps) {}

  get enabled(): boolean {
    return this.deps.firebase !== undefined && this.deps.tokens !== undefined;
  }

  /** Either form: `grant_type` selects RFC 8693, a lone `idToken` the short form. */
  async exchange(params: OAuthParams): Promise<{ form: 'rfc8693'; body: TokenExchangeResult } | { form: 'simple'; body: SimpleExchangeResult }> {
    if (!params.has('grant_type') && params.has('idToken')) {
      const idToken = single(params, 'idToken');
      if (!idToken) throw new OAuthEndpointError('invalid_request', 'idToken is empty: send the Firebase ID token from getIdToken().');
      const minted = await this.#mint(idToken, [...ALL_SCOPES], DEFAULT_CLIENT_ID);
      return { form: 'simple', body: { accessToken: minted.token, expiresIn: minted.expiresIn, tokenType: 'Bearer', scope: minted.scopes.join(' ') } };
    }
    const grantType = single(params, 'grant_type');
    if (grantType === undefined) {
      throw new OAuthEndpointError('invalid_request', `grant_type is required: send grant_type=${TOKEN_EXCHANGE_GRANT} (or a JSON body {"idToken": "..."}).`);
    }
    if (grantType !== TOKEN_EXCHANGE_GRANT) {
      throw new OAuthEndpointError('unsupported_grant_type', `grant_type "${grantType.slice(0, 100)}" is not supported; use ${TOKEN_EXCHANGE_GRANT}.`);
    }
    if (!this.enabled) throw new OAuthEndpointError('token_exchange_disabled');
    const subjectToken = single(params, 'subject_token');
    if (!subjectToken) throw new OAuthEndpointError('invalid_request', 'subject_token is required: the Firebase ID token.');
    const subjectTokenType = single(params, 'subject_token_type');
    if (subjectTokenType === undefined) {
      throw new OAuthEndpointError('invalid_request', `subject_token_type is required: ${TOKEN_TYPE_ID_TOKEN} (or ${TOKEN_TYPE_JWT}).`);
    }
    if (subjectTokenType !== TOKEN_TYPE_ID_TOKEN && subjectTokenType !== TOKEN_TYPE_JWT) {
      throw new OAuthEndpointError('invalid_request', `subject_token_type "${subjectTokenType.slice(0, 100)}" is not supported; send a Firebase ID token as ${TOKEN_TYPE_ID_TOKEN}.`);
    }
    if (params.has('actor_token') || params.has('actor_token_type')) {
      throw new OAuthEndpointError('invalid_request', 'Delegation (actor_token) is not supported: the access token acts as the subject itself.');
    }
    const requested = single(params, 'requested_token_type');
    if (requested !== undefined && requested !== TOKEN_TYPE_ACCESS_TOKEN && requested !== TOKEN_TYPE_JWT) {
      throw new OAuthEndpointError('invalid_request', `requested_token_type must be ${TOKEN_TYPE_ACCESS_TOKEN}.`);
    }
    // RFC 8707 allows several resources; a token here is only ever good for one, ours.
    for (const name of ['resource', 'audience'] as const) {
      const values = params.get(name) ?? [];
      if (values.length > 1) throw new OAuthEndpointError('invalid_target', `Send one ${name}: a token from this server is valid only for ${this.deps.resource}.`);
      const value = values[0];
      if (value !== undefined && value !== this.deps.resource) {
        throw new OAuthEndpointError('invalid_target', `${name} "${value.slice(0, 200)}" is not this server; use ${this.deps.resource}.`);
      }
    }
    const scopes = parseScope(single(params, 'scope'));
    const clientId = single(params, 'client_id');
    if (clientId !== undefined && !CLIENT_ID.test(clientId)) throw new OAuthEndpointError('invalid_request', 'client_id must be 1-200 visible ASCII characters.');
    const minted = await this.#mint(subjectToken, scopes, clientId ?? DEFAULT_CLIENT_ID);
    return {
      form: 'rfc8693',
      body: { access_token: minted.token, issued_token_type: TOKEN_TYPE_ACCESS_TOKEN, token_type: 'Bearer', expires_in: minted.expiresIn, scope: minted.scopes.join(' ') },
    };
  }

  /**
   * RFC 7009: puts the token's jti on the deny-list until it expires. Tokens that do not verify (foreign, expired,
   * garbage) need no revoking and are answered the same, so the endpoint tells nothing about them.
   */
  async revoke(params: OAuthParams): Promise<void> {
    const token = single(params, 'token');
    if (!token) throw new OAuthEndpointError('invalid_request', 'token is required: the access token to revoke.');
    single(params, 'token_type_hint');
    if (token.startsWith(API_KEY_PREFIX)) throw new OAuthEndpointError('unsupported_token_type');
    if (!this.deps.tokens) return;
    let claims;
    try {
      claims = await this.deps.tokens.verify(token);
    } catch (err) {
      if (err instanceof AccessTokenError) return;
      throw err;
    }
    await this.deps.revocations.revoke(claims.jti, claims.exp * 1000);
  }

  async #mint(idToken: string, scopes: Scope[], clientId: string) {
    const { firebase, tokens } = this.deps;
    if (!firebase || !tokens) throw new OAuthEndpointError('token_exchange_disabled');
    let identity: FirebaseIdentity;
    try {
      identity = await firebase.verify(idToken);
    } catch (err) {
      if (err instanceof FirebaseTokenError) {
        if (err.reason === 'keys_unavailable') throw new OAuthEndpointError('temporarily_unavailable', err.message, { 'retry-after': '5' });
        throw new OAuthEndpointError('invalid_grant', err.message);
      }
      throw err;
    }
    await this.deps.ensureUser(identity);
    return tokens.mint({ subject: identity.uid, scopes, clientId });
  }
}

/** A parameter that must appear at most once (RFC 6749 §3.2); undefined when absent. */
function single(params: OAuthParams, name: string): string | undefined {
  const values = params.get(name);
  if (values === undefined) return undefined;
  if (values.length !== 1) throw new OAuthEndpointError('invalid_request', `${name} must be sent once.`);
  return values[0];
}

/** RFC 6749 §3.3: space-delimited; absent means everything this server offers. */
function parseScope(scope: string | undefined): Scope[] {
  if (scope === undefined) return [...ALL_SCOPES];
  const names = scope.split(' ').filter(Boolean);
  if (names.length === 0) throw new OAuthEndpointError('invalid_scope', 'scope is empty; omit it for pos:read pos:write, or name the scopes you need.');
  const unknown = names.filter((n) => !(ALL_SCOPES as readonly string[]).includes(n));
  if (unknown.length) {
    throw new OAuthEndpointError('invalid_scope', `Unknown scope ${unknown.map((u) => `"${u.slice(0, 50)}"`).join(', ')}; this server offers ${ALL_SCOPES.join(' ')}.`);
  }
  return ALL_SCOPES.filter((s) => names.includes(s));
}
