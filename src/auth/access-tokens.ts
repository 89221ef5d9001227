import { createHash, randomUUID } from 'node:crypto';
import { decodeProtectedHeader, errors, jwtVerify, SignJWT } from 'jose';
import { ALL_SCOPES, type Scope } from './principal.js';

/**
 * Access tokens this server signs and accepts at /mcp: RFC 9068 JWTs (`typ: at+jwt`), HS256 with MCP_TOKEN_SECRET.
 * A symmetric key is enough because the issuer and the resource server are the same deployment; every instance
 * holds the secret, so any instance verifies what another minted without asking anyone.
 *
 * Rotation: tokens carry `kid`, a digest of the secret that signed them; MCP_TOKEN_SECRET_PREVIOUS keeps verifying
 * tokens minted before a rotation until they expire, while new ones are signed with the current secret.
 */
export const ACCESS_TOKEN_TYP = 'at+jwt';
const ALG = 'HS256';
/** Far above any token we mint (~600 bytes): bounds the work a junk header can cause. */
const MAX_TOKEN_LENGTH = 4096;
export const MIN_SECRET_LENGTH = 32;

export interface AccessTokenOptions {
  /** `iss`: PUBLIC_URL. */
  issuer: string;
  /** `aud`: the MCP endpoint's URL (the RFC 8707 resource). */
  audience: string;
  secret: string;
  /** Still verifies (never signs): the secret before the last rotation. */
  previousSecret?: string;
  ttlSeconds: number;
  /** Epoch ms; injectable so expiry is tested with a frozen clock. */
  now?: () => number;
  /** Seconds of clock skew tolerated between instances. Default 5. */
  clockToleranceSeconds?: number;
}

export interface AccessTokenClaims {
  sub: string;
  jti: string;
  /** Epoch seconds. */
  iat: number;
  exp: number;
  aud: string;
  scopes: Scope[];
  clientId: string;
}

export interface MintedAccessToken {
  token: string;
  jti: string;
  scopes: Scope[];
  /** Seconds until it expires. */
  expiresIn: number;
  /** Epoch seconds. */
  exp: number;
}

export type AccessTokenFailure = 'malformed' | 'expired' | 'wrong_audience' | 'wrong_issuer' | 'bad_signature' | 'bad_algorithm' | 'bad_type' | 'bad_claims';

export class AccessTokenError extends Error {
  constructor(
    readonly reason: AccessTokenFailure,
    message: string,
  ) {
    super(message);
    this.name = 'AccessTokenError';
  }
}

interface Key {
  kid: string;
  secret: Uint8Array;
}

function keyFor(secret: string): Key {
  if (secret.length < MIN_SECRET_LENGTH) throw new RangeError(`an access token secret must be at least ${MIN_SECRET_LENGTH} characters`);
  // A digest, not the secret: it only tells which of the configured secrets signed a token.
  const kid = createHash('sha256').update(`flowpos-mcp access token key\0${secret}`).digest('base64url').slice(0, 16);
  return { kid, secret: new TextEncoder().encode(secret) };
}

export class AccessTokens {
  readonly #opts: AccessTokenOptions;
  readonly #current: Key;
  readonly #keys: Map<string, Key>;
  readonly #now: () => number;
  readonly #tolerance: number;

  constructor(opts: AccessTokenOptions) {
    if (!Number.isInteger(opts.ttlSeconds) || opts.ttlSeconds < 1) throw new RangeError('ttlSeconds must be a positive integer');
    this.#opts = opts;
    this.#current = keyFor(opts.secret);
    this.#keys = new Map([[this.#current.kid, this.#current]]);
    if (opts.previousSecret !== undefined) {
      const previous = keyFor(opts.previousSecret);
      if (!this.#keys.has(previous.kid)) this.#keys.set(previous.kid, previous);
    }
    this.#now = opts.now ?? Date.now;
    this.#tolerance = opts.clockToleranceSeconds ?? 5;
  }

  get ttlSeconds(): number {
    return this.#opts.ttlSeconds;
  }

  /** Signs a token for `subject` with exactly `scopes`; `ttlSeconds` may only shorten the configured lifetime. */
  /** `jti` may be chosen by the caller when it must be recorded (a refresh-token family) before the token exists. */
  async mint(input: { subject: string; scopes: readonly Scope[]; clientId: string; ttlSeconds?: number; jti?: string }): Promise<MintedAccessToken> {
    const iat = Math.floor(this.#now() / 1000);
    const expiresIn = Math.min(input.ttlSeconds ?? this.#opts.ttlSeconds, this.#opts.ttlSeconds);
    const exp = iat + expiresIn;
    const jti = input.jti ?? randomUUID();
    const scopes = ALL_SCOPES.filter((s) => input.scopes.includes(s));
    const token = await new SignJWT({ scope: scopes.join(' '), client_id: input.clientId })
      .setProtectedHeader({ alg: ALG, typ: ACCESS_TOKEN_TYP, kid: this.#current.kid })
      .setIssuer(this.#opts.issuer)
      .setAudience(this.#opts.audience)
      .setSubject(input.subject)
      .setJti(jti)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .sign(this.#current.secret);
    return { token, jti, scopes, expiresIn, exp };
  }

  /** The token's claims, or an AccessTokenError saying why it is refused. Never consults the deny-list. */
  async verify(token: string): Promise<AccessTokenClaims> {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) throw new AccessTokenError('malformed', 'not an access token');
    let header: ReturnType<typeof decodeProtectedHeader>;
    try {
      header = decodeProtectedHeader(token);
    } catch {
      throw new AccessTokenError('malformed', 'not a JWT');
    }
    // Checked before any key is touched: `none` and every asymmetric algorithm are refused outright, so a token
    // "signed" with a public key as HMAC secret, or an RS256 token from elsewhere, never reaches verification.
    if (header.alg !== ALG) throw new AccessTokenError('bad_algorithm', `alg ${String(header.alg).slice(0, 20)} is not accepted`);
    const keys = typeof header.kid === 'string' ? [this.#keys.get(header.kid)].filter((k): k is Key => k !== undefined) : [...this.#keys.values()];
    if (keys.length === 0) throw new AccessTokenError('bad_signature', 'signed with an unknown key');
    let lastError: unknown;
    for (const key of keys) {
      try {
        const { payload } = await jwtVerify(token, key.secret, {
          algorithms: [ALG],
          typ: ACCESS_TOKEN_TYP,
          issuer: this.#opts.issuer,
          audience: this.#opts.audience,
          requiredClaims: ['sub', 'jti', 'iat', 'exp', 'scope'],
          currentDate: new Date(this.#now()),
          clockTolerance: this.#tolerance,
        });
        return this.#claims(payload);
      } catch (err) {
        lastError = err;
        if (!(err instanceof errors.JWSSignatureVerificationFailed)) break;
      }
    }
    throw toAccessTokenError(lastError);
  }

  #claims(payload: Record<string, unknown>): AccessTokenClaims {
    const { sub, jti, iat, exp, scope, client_id: clientId } = payload;
    if (typeof sub !== 'string' || sub === '' || typeof jti !== 'string' || jti === '' || typeof scope !== 'string') {
      throw new AccessTokenError('bad_claims', 'sub, jti and scope must be non-empty strings');
    }
    if (typeof iat !== 'number' || typeof exp !== 'number') throw new AccessTokenError('bad_claims', 'iat and exp must be numbers');
    if (iat > this.#now() / 1000 + this.#tolerance) throw new AccessTokenError('bad_claims', 'issued in the future');
    const names = scope.split(' ').filter(Boolean);
    return {
      sub,
      jti,
      iat,
      exp,
      // jwtVerify has checked that the audience is ours.
      aud: this.#opts.audience,
      scopes: ALL_SCOPES.filter((s) => names.includes(s)),
      clientId: typeof clientId === 'string' ? clientId : '',
    };
  }
}

function toAccessTokenError(err: unknown): AccessTokenError {
  if (err instanceof AccessTokenError) return err;
  if (err instanceof errors.JWTExpired) return new AccessTokenError('expired', 'expired');
  if (err instanceof errors.JWSSignatureVerificationFailed) return new AccessTokenError('bad_signature', 'signature does not verify');
  if (err instanceof errors.JOSEAlgNotAllowed) return new AccessTokenError('bad_algorithm', 'algorithm not accepted');
  if (err instanceof errors.JWTClaimValidationFailed) {
    if (err.claim === 'aud') return new AccessTokenError('wrong_audience', 'issued for another resource');
    if (err.claim === 'iss') return new AccessTokenError('wrong_issuer', 'issued by another server');
    if (err.claim === 'typ') return new AccessTokenError('bad_type', 'not an at+jwt access token');
    return new AccessTokenError('bad_claims', `claim ${err.claim} ${err.reason}`);
  }
  if (err instanceof errors.JOSEError) return new AccessTokenError('malformed', err.message);
  throw err;
}
