import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';

/**
 * A stand-in for Google's securetoken JWKS endpoint: real RSA keys generated with jose, served over node:http on
 * 127.0.0.1, signing Firebase-shaped ID tokens. Keys can be rotated (the old one is dropped from the set, as Google
 * eventually does), and `fetches` counts how often the server under test came for them.
 */
export interface JwksFixture {
  /** The JWKS URL (FIREBASE_JWKS_URL). */
  url: string;
  projectId: string;
  /** How many times the key set was fetched. */
  readonly fetches: number;
  /** The current key's public half as SPKI PEM: what an HS/RS confusion attack would use as an HMAC secret. */
  publicKeyPem(): Promise<string>;
  /** A Firebase ID token for `uid` signed with the current key; `claims` override or add claims (undefined removes). */
  idToken(uid?: string, claims?: Record<string, unknown>, opts?: { now?: number; kid?: string; key?: CryptoKey }): Promise<string>;
  /** The Auth Emulator's kind of token: `alg: none`, no signature, the same claims. */
  unsignedIdToken(uid?: string, claims?: Record<string, unknown>, opts?: { now?: number }): string;
  /** A new key becomes the signing key and the only one published. */
  rotate(): Promise<void>;
  /** A key pair that is not (and never was) in the set. */
  strangerKey(): Promise<CryptoKey>;
  /** Makes the endpoint answer 503 (true) or serve keys again (false). */
  failing(fail: boolean): void;
  stop(): Promise<void>;
}

interface Pair {
  kid: string;
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  jwk: JWK;
}

async function newPair(): Promise<Pair> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomUUID().replace(/-/g, '').slice(0, 20);
  return { kid, privateKey, publicKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' } };
}

export function firebaseClaims(projectId: string, uid: string, nowSeconds: number, claims: Record<string, unknown> = {}): JWTPayload {
  const base: Record<string, unknown> = {
    iss: `https://securetoken.google.com/${projectId}`,
    aud: projectId,
    sub: uid,
    user_id: uid,
    auth_time: nowSeconds - 60,
    iat: nowSeconds - 30,
    exp: nowSeconds + 3570,
    email: `${uid}@example.test`,
    name: `User ${uid}`,
    firebase: { sign_in_provider: 'password', identities: {} },
  };
  for (const [k, v] of Object.entries(claims)) {
    if (v === undefined) delete base[k];
    else base[k] = v;
  }
  return base as JWTPayload;
}

export async function startJwksServer(opts: { projectId?: string } = {}): Promise<JwksFixture> {
  const projectId = opts.projectId ?? 'flowpos-test';
  let current = await newPair();
  let fetches = 0;
  let fail = false;
  const server: Server = createServer((req, res) => {
    fetches++;
    if (fail) {
      res.writeHead(503).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'public, max-age=60' });
    res.end(JSON.stringify({ keys: [current.jwk] }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (typeof address !== 'object' || !address) throw new Error('JWKS fixture did not bind');

  return {
    url: `http://127.0.0.1:${address.port}/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com`,
    projectId,
    get fetches() {
      return fetches;
    },
    publicKeyPem: () => exportSPKI(current.publicKey),
    async idToken(uid = `u-${randomUUID().slice(0, 8)}`, claims = {}, o = {}) {
      const now = Math.floor((o.now ?? Date.now()) / 1000);
      return new SignJWT(firebaseClaims(projectId, uid, now, claims))
        .setProtectedHeader({ alg: 'RS256', kid: o.kid ?? current.kid, typ: 'JWT' })
        .sign(o.key ?? current.privateKey);
    },
    unsignedIdToken(uid = `u-${randomUUID().slice(0, 8)}`, claims = {}, o = {}) {
      const now = Math.floor((o.now ?? Date.now()) / 1000);
      return new UnsecuredJWT(firebaseClaims(projectId, uid, now, claims)).encode();
    },
    async rotate() {
      current = await newPair();
    },
    async strangerKey() {
      return (await newPair()).privateKey;
    },
    failing(value) {
      fail = value;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
