import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, UnsecuredJWT, type JWTPayload } from 'jose';

export interface FirebaseVerifierOptions {
  projectId: string;
  jwksUrl: string;
  /**
   * FIREBASE_AUTH_EMULATOR_HOST is set: the Auth Emulator's tokens are unsigned (`alg: none`) and accepted after
   * the same claim checks. Signed tokens are still verified against the JWKS. Never in production (config refuses).
   */
  emulator?: boolean;
  /** Epoch ms; injectable for tests with a frozen clock. */
  now?: () => number;
  /** Seconds of skew tolerated against Google's clock. Default 5. */
  clockToleranceSeconds?: number;
  /** One JWKS fetch may take this long. Default 5000 ms. */
  jwksTimeoutMs?: number;
  /**
   * After a fetch, a token with an unknown `kid` triggers no new fetch for this long (Google rotates keys every few
   * hours and publishes them well before use). Default 30 s; it also bounds how hard junk `kid`s can hit Google.
   */
  jwksCooldownMs?: number;
  /** Keys are refetched when older than this. Default 10 minutes. */
  jwksCacheMaxAgeMs?: number;
}

export interface FirebaseIdentity {
  uid: string;
  email?: string;
  name?: string;
}

export type FirebaseTokenFailure =
  | 'malformed'
  | 'expired'
  | 'wrong_audience'
  | 'wrong_issuer'
  | 'bad_signature'
  | 'unknown_key'
  | 'bad_algorithm'
  | 'bad_claims'
  /** Google's keys could not be fetched: not the caller's fault. */
  | 'keys_unavailable';

export class FirebaseTokenError extends Error {
  constructor(
    readonly reason: FirebaseTokenFailure,
    message: string,
  ) {
    super(message);
    this.name = 'FirebaseTokenError';
  }
}

/** ID tokens are ~1 KB; anything far larger is not one. */
const MAX_ID_TOKEN_LENGTH = 8192;
const MAX_UID_LENGTH = 128;

/**
 * Verifies Firebase ID tokens the way the Admin SDK does (RS256 against Google's keys; iss, aud, sub, iat,
 * auth_time, exp), with jose and no Google library.
 */
export class FirebaseVerifier {
  readonly #opts: FirebaseVerifierOptions;
  readonly #issuer: string;
  readonly #jwks: ReturnType<typeof createRemoteJWKSet>;
  readonly #now: () => number;
  readonly #tolerance: number;

  constructor(opts: FirebaseVerifierOptions) {
    this.#opts = opts;
    this.#issuer = `https://securetoken.google.com/${opts.projectId}`;
    this.#jwks = createRemoteJWKSet(new URL(opts.jwksUrl), {
      timeoutDuration: opts.jwksTimeoutMs ?? 5000,
      cooldownDuration: opts.jwksCooldownMs ?? 30_000,
      cacheMaxAge: opts.jwksCacheMaxAgeMs ?? 10 * 60_000,
    });
    this.#now = opts.now ?? Date.now;
    this.#tolerance = opts.clockToleranceSeconds ?? 5;
  }

  async verify(idToken: string): Promise<FirebaseIdentity> {
    if (typeof idToken !== 'string' || idToken.length === 0 || idToken.length > MAX_ID_TOKEN_LENGTH) {
      throw new FirebaseTokenError('malformed', 'The subject token is not a Firebase ID token.');
    }
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(idToken).alg;
    } catch {
      throw new FirebaseTokenError('malformed', 'The subject token is not a JWT.');
    }
    const claimOptions = { issuer: this.#issuer, audience: this.#opts.projectId, currentDate: new Date(this.#now()), clockTolerance: this.#tolerance };
    let payload: JWTPayload;
    try {
      if (alg === 'none' && this.#opts.emulator) {
        payload = UnsecuredJWT.decode(idToken, claimOptions).payload;
      } else if (alg === 'RS256') {
        payload = (await jwtVerify(idToken, this.#jwks, { ...claimOptions, algorithms: ['RS256'], requiredClaims: ['sub', 'iat', 'exp'] })).payload;
      } else {
        throw new FirebaseTokenError('bad_algorithm', `Firebase ID tokens are signed with RS256; this one says alg ${String(alg).slice(0, 20)}.`);
      }
    } catch (err) {
      throw this.#toError(err);
    }
    return this.#identity(payload);
  }

  #identity(payload: JWTPayload): FirebaseIdentity {
    const nowSeconds = this.#now() / 1000;
    const { sub, iat, exp } = payload;
    const authTime = (payload as { auth_time?: unknown }).auth_time;
    if (typeof sub !== 'string' || sub.length === 0) throw new FirebaseTokenError('bad_claims', 'The ID token has no subject (sub).');
    if (sub.length > MAX_UID_LENGTH) throw new FirebaseTokenError('bad_claims', `The ID token's subject is longer than ${MAX_UID_LENGTH} characters.`);
    if (typeof exp !== 'number') throw new FirebaseTokenError('bad_claims', 'The ID token has no expiry (exp).');
    if (typeof iat !== 'number' || iat > nowSeconds + this.#tolerance) throw new FirebaseTokenError('bad_claims', 'The ID token was issued in the future (iat).');
    if (typeof authTime !== 'number' || authTime > nowSeconds + this.#tolerance) {
      throw new FirebaseTokenError('bad_claims', 'The ID token has no sign-in time (auth_time) in the past.');
    }
    const email = (payload as { email?: unknown }).email;
    const name = (payload as { name?: unknown }).name;
    return {
      uid: sub,
      ...(typeof email === 'string' && email.length <= 320 ? { email } : {}),
      ...(typeof name === 'string' && name.length <= 200 ? { name } : {}),
    };
  }

  #toError(err: unknown): FirebaseTokenError {
    if (err instanceof FirebaseTokenError) return err;
    if (err instanceof errors.JWTExpired) return new FirebaseTokenError('expired', 'The ID token has expired; get a fresh one from Firebase (getIdToken()).');
    if (err instanceof errors.JWTClaimValidationFailed) {
      if (err.claim === 'aud') return new FirebaseTokenError('wrong_audience', `The ID token was issued for another Firebase project, not ${this.#opts.projectId}.`);
      if (err.claim === 'iss') {
        // securetoken.google.com/<other project>: a genuine token of another project, worth saying so plainly.
        if (typeof err.payload.iss === 'string' && err.payload.iss.startsWith('https://securetoken.google.com/') && err.payload.aud !== this.#opts.projectId) {
          return new FirebaseTokenError('wrong_audience', `The ID token was issued for another Firebase project, not ${this.#opts.projectId}.`);
        }
        return new FirebaseTokenError('wrong_issuer', `The ID token's issuer is not ${this.#issuer}.`);
      }
      return new FirebaseTokenError('bad_claims', `The ID token's ${err.claim} claim is ${err.reason}.`);
    }
    if (err instanceof errors.JWSSignatureVerificationFailed) return new FirebaseTokenError('bad_signature', 'The ID token signature does not verify.');
    if (err instanceof errors.JWKSNoMatchingKey) return new FirebaseTokenError('unknown_key', "The ID token is signed with a key that is not one of Google's current keys.");
    if (err instanceof errors.JOSEAlgNotAllowed) return new FirebaseTokenError('bad_algorithm', 'The ID token is not signed with RS256.');
    if (err instanceof errors.JWSInvalid || err instanceof errors.JWTInvalid) return new FirebaseTokenError('malformed', 'The subject token is not a well-formed JWT.');
    // Everything else is the key fetch: a timeout, a refused connection, a non-200 or non-JWKS answer.
    return new FirebaseTokenError('keys_unavailable', `Google's token signing keys could not be fetched (${err instanceof Error ? err.message.slice(0, 200) : 'unknown error'}).`);
  }
}
