import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { OAuthEndpointError } from '../errors.js';
import type { AuthorizationStore, IssuedAccessToken, PendingAuthorization } from '../state/authorization-store.js';
import type { RevocationStore } from '../state/revocation-store.js';
import type { AccessTokens } from './access-tokens.js';
import { FirebaseTokenError, type FirebaseIdentity, type FirebaseVerifier } from './firebase-verifier.js';
import type { ClientRegistry, OAuthClient } from './oauth-client.js';
import { ALL_SCOPES, type Scope } from './principal.js';
import type { OAuthParams } from './token-exchange.js';

/**
 * The OAuth 2.1 authorization server behind the browser sign-in, free of HTTP: the /authorize request, the
 * Firebase sign-in and the consent, then the authorization_code and refresh_token grants. Every step keeps its state
 * in the AuthorizationStore (Redis in production), so each may land on a different instance.
 */
export interface AuthorizationServerDeps {
  /** PUBLIC_URL: the `iss` of tokens and of authorization responses (RFC 9207). */
  issuer: string;
  /** The MCP URL: the only resource (RFC 8707) a token is issued for. */
  resource: string;
  clients: ClientRegistry;
  store: AuthorizationStore;
  tokens: AccessTokens;
  firebase: FirebaseVerifier;
  revocations: RevocationStore;
  ensureUser(identity: FirebaseIdentity): Promise<void>;
  refreshTokenTtlSeconds: number;
  refreshTokenMaxLifetimeSeconds: number;
  /** Told of each step and each attack caught (metrics, security log); never throws into the flow. */
  onEvent?: (event: OAuthEvent, detail: { clientId?: string; subject?: string }) => void;
  /** How long a person has between /authorize and consent. Default 10 min. */
  pendingTtlMs?: number;
  /** How long an authorization code lives. Default 60 s. */
  codeTtlMs?: number;
  now?: () => number;
}

/** Refused before the redirect URI is known to belong to the client: shown to the person, never redirected. */
export class AuthorizePageError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'AuthorizePageError';
  }
}

/** What the authorization server tells its observer: a fixed vocabulary, so it can label a metric. */
export type OAuthEvent =
  | 'signed_in'
  | 'consented'
  | 'denied'
  | 'code_redeemed'
  | 'refreshed'
  | 'code_replayed'
  | 'refresh_reused'
  | 'client_registered'
  | 'registration_limited';

export type AuthorizeOutcome =
  | { kind: 'sign-in'; authorizationId: string; client: OAuthClient }
  /** An RFC 6749 §4.1.2.1 error response: the client gets it at its redirect URI. */
  | { kind: 'redirect'; location: string };

export interface ConsentView {
  client: OAuthClient;
  pending: PendingAuthorization;
}

export interface TokenResponse {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
  refresh_token?: string;
}

const VERIFIER = /^[A-Za-z0-9._~-]{43,128}$/;
const CHALLENGE = /^[A-Za-z0-9_-]{43}$/;
const AUTHORIZATION_ID = /^[A-Za-z0-9_-]{22}$/;
const REFRESH_TOKEN = /^fpr_([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/;
export const REFRESH_TOKEN_PREFIX = 'fpr_';
const MAX_STATE = 2048;

const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url');
const randomId = (bytes: number) => randomBytes(bytes).toString('base64url');

export class AuthorizationServer {
  readonly #d: AuthorizationServerDeps;
  readonly #pendingTtlMs: number;
  readonly #codeTtlMs: number;
  readonly #now: () => number;

  constructor(deps: AuthorizationServerDeps) {
    this.#d = deps;
    this.#pendingTtlMs = deps.pendingTtlMs ?? 10 * 60_000;
    this.#codeTtlMs = deps.codeTtlMs ?? 60_000;
    this.#now = deps.now ?? Date.now;
  }

  get pendingTtlMs(): number {
    return this.#pendingTtlMs;
  }

  /**
   * GET /authorize. The client and its redirect URI are checked first: until both are known good, nothing may be
   * sent to the redirect URI (RFC 6749 §4.1.2.1), so those refusals are pages. Everything after goes back to the
   * client as `error=` at its redirect URI, with `state` and `iss`.
   */
  async authorize(query: OAuthParams): Promise<AuthorizeOutcome> {
    const one = (name: string) => {
      const values = query.get(name);
      if (values && values.length > 1) throw new AuthorizePageError(400, `${name} was sent ${values.length} times; send it once.`);
      return values?.[0];
    };
    const clientId = one('client_id');
    if (!clientId) throw new AuthorizePageError(400, 'client_id is missing: this link did not come from a correctly configured MCP client.');
    let client: OAuthClient;
    try {
      client = await this.#d.clients.resolve(clientId);
    } catch (err) {
      if (err instanceof OAuthEndpointError && err.code === 'invalid_client') throw new AuthorizePageError(400, err.message);
      throw err;
    }
    const redirectUri = one('redirect_uri');
    if (!redirectUri) throw new AuthorizePageError(400, `redirect_uri is missing; ${describeClient(client)} must send one of its registered redirect URIs.`);
    if (!redirectUriMatches(client.redirectUris, redirectUri)) {
      throw new AuthorizePageError(400, `redirect_uri ${redirectUri.slice(0, 300)} is not registered for ${describeClient(client)}; registered: ${client.redirectUris.join(', ')}.`);
    }

    const state = one('state');
    const fail = (error: string, description: string): AuthorizeOutcome => ({
      kind: 'redirect',
      location: this.#redirect(redirectUri, { error, error_description: description, ...(state !== undefined ? { state: state.slice(0, MAX_STATE) } : {}) }),
    });
    try {
      if (state !== undefined && state.length > MAX_STATE) return fail('invalid_request', `state is longer than ${MAX_STATE} characters.`);
      const responseType = one('response_type');
      if (responseType !== 'code') return fail('unsupported_response_type', `response_type must be code${responseType ? ` (got "${responseType.slice(0, 50)}")` : ''}.`);
      if (!client.grantTypes.includes('authorization_code')) return fail('unauthorized_client', 'This client is not registered for the authorization_code grant.');
      const method = one('code_challenge_method');
      const challenge = one('code_challenge');
      if (!challenge) return fail('invalid_request', 'code_challenge is required (PKCE, S256).');
      if (method !== 'S256') return fail('invalid_request', `code_challenge_method must be S256${method ? ` (got "${method.slice(0, 20)}")` : ' (it is required: plain is not accepted)'}.`);
      if (!CHALLENGE.test(challenge)) return fail('invalid_request', 'code_challenge must be the 43-character base64url SHA-256 of the code verifier.');
      const resource = one('resource') ?? this.#d.resource;
      if (resource !== this.#d.resource) return fail('invalid_target', `resource ${resource.slice(0, 200)} is not this server; use ${this.#d.resource}.`);
      const scopes = requestedScopes(one('scope'), client);
      if (typeof scopes === 'string') return fail('invalid_scope', scopes);

      const authorizationId = randomId(16);
      await this.#d.store.putPending(
        authorizationId,
        { clientId: client.clientId, redirectUri, ...(state !== undefined ? { state } : {}), codeChallenge: challenge, resource, scopes },
        this.#pendingTtlMs,
      );
      return { kind: 'sign-in', authorizationId, client };
    } catch (err) {
      if (err instanceof AuthorizePageError) throw err;
      // The client is waiting at its redirect URI: an outage is reported there rather than left as a dead end.
      if (err instanceof OAuthEndpointError && err.code === 'temporarily_unavailable') return fail('temporarily_unavailable', err.message);
      throw err;
    }
  }

  /**
   * The sign-in page posts the Firebase ID token here. Returns the secret of the cookie that binds the consent step
   * to this browser: whoever only learns the authorization id cannot consent in someone else's name.
   */
  async signIn(authorizationId: unknown, idToken: unknown, browserSecret?: string): Promise<{ browserSecret: string; identity: FirebaseIdentity }> {
    const pending = await this.#pending(authorizationId);
    // Signing in again (another account, say) is allowed only from the browser that signed in first: whoever merely
    // learned the authorization id must not swap in their own account for the person's client to receive.
    if (pending.browserBinding && (!browserSecret || !safeEqual(sha256(browserSecret), pending.browserBinding))) throw alreadySignedIn();
    if (typeof idToken !== 'string' || idToken === '') throw new AuthorizePageError(400, 'id_token is missing: sign in with Firebase first.');
    let identity: FirebaseIdentity;
    try {
      identity = await this.#d.firebase.verify(idToken);
    } catch (err) {
      if (err instanceof FirebaseTokenError) {
        if (err.reason === 'keys_unavailable') throw new AuthorizePageError(503, `Firebase's keys could not be fetched; try again in a moment. (${err.message})`);
        throw new AuthorizePageError(401, `The Firebase sign-in was not accepted: ${err.message}`);
      }
      throw err;
    }
    await this.#d.ensureUser(identity);
    const secret = randomId(32);
    const { email: _previous, ...rest } = pending;
    const bound = await this.#d.store.bindPending(authorizationId as string, pending.browserBinding, {
      ...rest,
      subject: identity.uid,
      ...(identity.email ? { email: identity.email } : {}),
      browserBinding: sha256(secret),
    });
    if (bound === 'gone') throw expired();
    if (bound === 'taken') throw alreadySignedIn();
    this.#emit('signed_in', { clientId: pending.clientId, subject: identity.uid });
    return { browserSecret: secret, identity };
  }

  /** What the consent page shows; only to the browser that signed in. */
  async consentView(authorizationId: unknown, browserSecret: string | undefined): Promise<ConsentView> {
    const pending = await this.#signedIn(authorizationId, browserSecret);
    return { client: await this.#d.clients.resolve(pending.clientId), pending };
  }

  /**
   * The person's answer. Allowing issues a single-use code; either way the pending authorization is consumed
   * (atomically: a double submit issues one code) and the answer goes to the client's redirect URI.
   */
  async decide(authorizationId: unknown, browserSecret: string | undefined, allow: boolean): Promise<string> {
    await this.#signedIn(authorizationId, browserSecret);
    const pending = await this.#d.store.takePending(authorizationId as string);
    if (!pending?.subject) throw new AuthorizePageError(409, 'This authorization was already answered. Return to your MCP client.');
    const state: Record<string, string> = pending.state !== undefined ? { state: pending.state } : {};
    if (!allow) {
      this.#emit('denied', { clientId: pending.clientId, subject: pending.subject });
      return this.#redirect(pending.redirectUri, { error: 'access_denied', error_description: 'The person declined the authorization.', ...state });
    }
    const code = randomId(32);
    await this.#d.store.putCode(
      sha256(code),
      {
        clientId: pending.clientId,
        redirectUri: pending.redirectUri,
        resource: pending.resource,
        scopes: pending.scopes,
        codeChallenge: pending.codeChallenge,
        subject: pending.subject,
      },
      this.#codeTtlMs,
    );
    this.#emit('consented', { clientId: pending.clientId, subject: pending.subject });
    return this.#redirect(pending.redirectUri, { code, ...state });
  }

  /** grant_type=authorization_code (RFC 6749 §4.1.3, PKCE RFC 7636 §4.6, OAuth 2.1). */
  async authorizationCodeGrant(params: OAuthParams): Promise<TokenResponse> {
    const client = await this.#client(params, 'authorization_code');
    const code = required(params, 'code', 'the code your redirect URI received');
    const verifier = required(params, 'code_verifier', 'the PKCE code verifier whose S256 challenge you sent to /authorize');
    if (!VERIFIER.test(verifier)) throw new OAuthEndpointError('invalid_request', 'code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~ (RFC 7636 §4.1).');
    const redirectUri = required(params, 'redirect_uri', 'the redirect_uri sent to /authorize');
    const resource = optional(params, 'resource');
    if (resource !== undefined && resource !== this.#d.resource) throw new OAuthEndpointError('invalid_target', `resource ${resource.slice(0, 200)} is not this server; use ${this.#d.resource}.`);

    // The ids of what this redemption will produce are chosen first and recorded with the code, so a replay — even
    // one racing this request on another instance — knows exactly what to revoke.
    const familyId = randomId(16);
    const access: IssuedAccessToken = { jti: randomUUID(), expiresAt: this.#now() + this.#d.tokens.ttlSeconds * 1000 };
    const codeHash = sha256(code);
    const redemption = await this.#d.store.redeemCode(codeHash, familyId, access);
    if (redemption.status === 'unknown') throw new OAuthEndpointError('invalid_grant', 'The authorization code is invalid or expired (a code lives 60 seconds and works once).');
    if (redemption.status === 'used') {
      // RFC 9700 §4.5: a code presented twice was intercepted or replayed; what the first use produced is revoked.
      this.#emit('code_replayed', { clientId: client.clientId });
      await this.#d.revocations.revoke(redemption.accessToken.jti, redemption.accessToken.expiresAt);
      await this.#revokeFamily(redemption.familyId);
      throw new OAuthEndpointError('invalid_grant', 'The authorization code was already used; the tokens issued with it are revoked. Sign in again.');
    }
    const grant = redemption.grant;
    if (grant.clientId !== client.clientId) throw new OAuthEndpointError('invalid_grant', 'The authorization code was issued to another client.');
    if (grant.redirectUri !== redirectUri) throw new OAuthEndpointError('invalid_grant', 'redirect_uri differs from the one sent to /authorize.');
    if (!safeEqual(sha256(verifier), grant.codeChallenge)) {
      throw new OAuthEndpointError('invalid_grant', 'code_verifier does not match the code_challenge of the authorization request (PKCE S256).');
    }
    const issued = await this.#issue({
      subject: grant.subject,
      clientId: client.clientId,
      scopes: grant.scopes,
      access,
      familyId: client.grantTypes.includes('refresh_token') ? familyId : undefined,
    });
    // A replay that arrived before the family existed revoked the access token but could not revoke the family:
    // it marked the code, and this check, made after the family was created, finishes the job.
    if (await this.#d.store.codeReplayed(codeHash)) {
      this.#emit('code_replayed', { clientId: client.clientId, subject: grant.subject });
      await this.#revokeFamily(familyId);
      throw new OAuthEndpointError('invalid_grant', 'The authorization code was used twice at once; the tokens issued with it are revoked. Sign in again.');
    }
    this.#emit('code_redeemed', { clientId: client.clientId, subject: grant.subject });
    return issued;
  }

  /** grant_type=refresh_token (RFC 6749 §6), rotated on every use (OAuth 2.1 §4.3.1 for public clients). */
  async refreshTokenGrant(params: OAuthParams): Promise<TokenResponse> {
    const client = await this.#client(params, 'refresh_token');
    const token = required(params, 'refresh_token', 'the refresh token from your last token response');
    const match = REFRESH_TOKEN.exec(token);
    if (!match) throw new OAuthEndpointError('invalid_grant', 'The refresh token is not one this server issued.');
    const [, familyId, secret] = match as unknown as [string, string, string];
    const scopeParam = optional(params, 'scope');
    const narrowed = scopeParam === undefined ? undefined : parseScopes(scopeParam);
    if (typeof narrowed === 'string') throw new OAuthEndpointError('invalid_scope', narrowed);
    const resource = optional(params, 'resource');
    if (resource !== undefined && resource !== this.#d.resource) throw new OAuthEndpointError('invalid_target', `resource ${resource.slice(0, 200)} is not this server; use ${this.#d.resource}.`);

    const nextSecret = randomId(32);
    const access: IssuedAccessToken = { jti: randomUUID(), expiresAt: this.#now() + this.#d.tokens.ttlSeconds * 1000 };
    const rotation = await this.#d.store.rotate(familyId, sha256(secret), sha256(nextSecret), client.clientId, this.#d.refreshTokenTtlSeconds * 1000, access);
    switch (rotation.status) {
      case 'unknown':
        throw new OAuthEndpointError('invalid_grant', 'The refresh token is invalid, expired or revoked. Sign in again.');
      case 'wrong_client':
        throw new OAuthEndpointError('invalid_grant', 'The refresh token was issued to another client.');
      case 'reused':
        // RFC 9700 §4.14.2: an old refresh token came back, so two parties hold this grant; end it for both.
        this.#emit('refresh_reused', { clientId: client.clientId, subject: rotation.family.subject });
        if (rotation.lastAccessToken) await this.#d.revocations.revoke(rotation.lastAccessToken.jti, rotation.lastAccessToken.expiresAt);
        throw new OAuthEndpointError('invalid_grant', 'This refresh token was already used, so it may have been copied: every token of this sign-in is now revoked. Sign in again.');
    }
    const family = rotation.family;
    // RFC 6749 §3.3: the server may grant less than asked; a refresh never widens the sign-in, and asking for more
    // than was granted is answered with what was granted (the response's `scope` says so) rather than an error that,
    // after the rotation, would cost the client its sign-in.
    const within = narrowed?.filter((s) => family.scopes.includes(s));
    const scopes = within && within.length > 0 ? within : family.scopes;
    const minted = await this.#d.tokens.mint({ subject: family.subject, scopes, clientId: client.clientId, jti: access.jti });
    this.#emit('refreshed', { clientId: client.clientId, subject: family.subject });
    return { access_token: minted.token, token_type: 'Bearer', expires_in: minted.expiresIn, scope: minted.scopes.join(' '), refresh_token: `${REFRESH_TOKEN_PREFIX}${familyId}.${nextSecret}` };
  }

  /** RFC 7009 for refresh tokens: ends the whole sign-in (the family) and its current access token. */
  async revokeRefreshToken(token: string): Promise<void> {
    const match = REFRESH_TOKEN.exec(token);
    if (!match) return;
    await this.#revokeFamily(match[1]!);
  }

  async #issue(input: { subject: string; clientId: string; scopes: Scope[]; access: IssuedAccessToken; familyId: string | undefined }): Promise<TokenResponse> {
    const minted = await this.#d.tokens.mint({ subject: input.subject, scopes: input.scopes, clientId: input.clientId, jti: input.access.jti });
    const body: TokenResponse = { access_token: minted.token, token_type: 'Bearer', expires_in: minted.expiresIn, scope: minted.scopes.join(' ') };
    if (input.familyId) {
      const secret = randomId(32);
      await this.#d.store.createFamily(
        input.familyId,
        {
          subject: input.subject,
          clientId: input.clientId,
          scopes: minted.scopes,
          resource: this.#d.resource,
          expiresAt: this.#now() + this.#d.refreshTokenMaxLifetimeSeconds * 1000,
        },
        sha256(secret),
        this.#d.refreshTokenTtlSeconds * 1000,
        { jti: minted.jti, expiresAt: minted.exp * 1000 },
      );
      body.refresh_token = `${REFRESH_TOKEN_PREFIX}${input.familyId}.${secret}`;
    }
    return body;
  }

  #emit(event: OAuthEvent, detail: { clientId?: string; subject?: string }): void {
    try {
      this.#d.onEvent?.(event, detail);
    } catch {
      // An observer's failure must not fail a sign-in.
    }
  }

  async #revokeFamily(familyId: string): Promise<void> {
    const revoked = await this.#d.store.revokeFamily(familyId);
    if (revoked?.lastAccessToken) await this.#d.revocations.revoke(revoked.lastAccessToken.jti, revoked.lastAccessToken.expiresAt);
  }

  async #client(params: OAuthParams, grantType: string): Promise<OAuthClient> {
    const clientId = required(params, 'client_id', 'public clients identify themselves with client_id');
    const client = await this.#d.clients.resolve(clientId);
    if (!client.grantTypes.includes(grantType)) throw new OAuthEndpointError('unauthorized_client', `This client is not registered for the ${grantType} grant.`);
    return client;
  }

  async #pending(authorizationId: unknown): Promise<PendingAuthorization> {
    if (typeof authorizationId !== 'string' || !AUTHORIZATION_ID.test(authorizationId)) throw new AuthorizePageError(400, 'authorization_id is missing or malformed.');
    const pending = await this.#d.store.getPending(authorizationId);
    if (!pending) throw expired();
    return pending;
  }

  async #signedIn(authorizationId: unknown, browserSecret: string | undefined): Promise<PendingAuthorization & { subject: string }> {
    const pending = await this.#pending(authorizationId);
    if (!pending.subject || !pending.browserBinding) throw new AuthorizePageError(403, 'Sign in first.');
    if (!browserSecret || !safeEqual(sha256(browserSecret), pending.browserBinding)) {
      throw new AuthorizePageError(403, 'This authorization was started in another browser (or its cookie was lost); start again from your MCP client.');
    }
    return pending as PendingAuthorization & { subject: string };
  }

  #redirect(redirectUri: string, params: Record<string, string>): string {
    const url = new URL(redirectUri);
    for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
    url.searchParams.set('iss', this.#d.issuer);
    return url.toString();
  }
}

function alreadySignedIn(): AuthorizePageError {
  return new AuthorizePageError(409, 'Someone already signed in to this authorization from another browser. Start again from your MCP client.');
}

function expired(): AuthorizePageError {
  return new AuthorizePageError(410, 'This sign-in has expired or was already used (it lasts 10 minutes). Start again from your MCP client.');
}

/**
 * Exact string match — except that a loopback IP-literal redirect URI matches on any port (RFC 8252 §7.3): native
 * clients pick a free port at each sign-in and cannot register it in advance.
 */
export function redirectUriMatches(registered: readonly string[], requested: string): boolean {
  if (registered.includes(requested)) return true;
  let req: URL;
  try {
    req = new URL(requested);
  } catch {
    return false;
  }
  if (req.protocol !== 'http:' || (req.hostname !== '127.0.0.1' && req.hostname !== '[::1]')) return false;
  return registered.some((r) => {
    try {
      const reg = new URL(r);
      return reg.protocol === 'http:' && reg.hostname === req.hostname && reg.pathname === req.pathname && reg.search === req.search && req.hash === '';
    } catch {
      return false;
    }
  });
}

function describeClient(client: OAuthClient): string {
  return client.clientName ? `"${client.clientName}" (${client.clientId})` : client.clientId;
}

/** The scopes asked for: absent → what the client registered, else everything; a message when unacceptable. */
function requestedScopes(scope: string | undefined, client: OAuthClient): Scope[] | string {
  if (scope === undefined) {
    const registered = client.scope ? parseScopes(client.scope) : [...ALL_SCOPES];
    return typeof registered === 'string' ? [...ALL_SCOPES] : registered;
  }
  return parseScopes(scope);
}

function parseScopes(scope: string): Scope[] | string {
  const names = scope.split(' ').filter(Boolean);
  if (names.length === 0) return 'scope is empty; omit it for pos:read pos:write, or name the scopes you need.';
  const unknown = names.filter((n) => !(ALL_SCOPES as readonly string[]).includes(n));
  if (unknown.length) return `Unknown scope ${unknown.map((u) => `"${u.slice(0, 50)}"`).join(', ')}; this server offers ${ALL_SCOPES.join(' ')}.`;
  return ALL_SCOPES.filter((s) => names.includes(s));
}

function optional(params: OAuthParams, name: string): string | undefined {
  const values = params.get(name);
  if (values === undefined) return undefined;
  if (values.length !== 1) throw new OAuthEndpointError('invalid_request', `${name} must be sent once.`);
  return values[0];
}

function required(params: OAuthParams, name: string, what: string): string {
  const value = optional(params, name);
  if (!value) throw new OAuthEndpointError('invalid_request', `${name} is required: ${what}.`);
  return value;
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
