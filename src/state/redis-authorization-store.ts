import type {
  AuthorizationStore,
  CodeGrant,
  CodeRedemption,
  IssuedAccessToken,
  PendingAuthorization,
  RefreshFamily,
  RefreshRotation,
} from './authorization-store.js';
import { familyTtlMs } from './authorization-store.js';
import type { KeySpace } from './keys.js';
import type { StateRedis } from './redis-client.js';

/**
 * The authorization server's state in Redis (layout in keys.ts). Every step is one command or one script, so two
 * instances racing on the same code, pending authorization or refresh token can never both win.
 */
export class RedisAuthorizationStore implements AuthorizationStore {
  readonly #client: StateRedis;
  readonly #keys: KeySpace;

  constructor(client: StateRedis, keys: KeySpace) {
    this.#client = client;
    this.#keys = keys;
  }

  async putPending(id: string, pending: PendingAuthorization, ttlMs: number): Promise<void> {
    await this.#client.set(this.#keys.oauthPending(id), JSON.stringify(pending), { expiration: { type: 'PX', value: positive(ttlMs) } });
  }

  async getPending(id: string): Promise<PendingAuthorization | undefined> {
    const json = await this.#client.get(this.#keys.oauthPending(id));
    return json === null ? undefined : (JSON.parse(json) as PendingAuthorization);
  }

  async bindPending(id: string, expectedBinding: string | undefined, pending: PendingAuthorization): Promise<'ok' | 'gone' | 'taken'> {
    const reply = await this.#client.pendingBind(this.#keys.oauthPending(id), expectedBinding ?? '', JSON.stringify(pending));
    if (reply === 'ok' || reply === 'gone' || reply === 'taken') return reply;
    throw new Error('pending-bind: unexpected reply from Redis');
  }

  async takePending(id: string): Promise<PendingAuthorization | undefined> {
    const json = await this.#client.getDel(this.#keys.oauthPending(id));
    return json === null ? undefined : (JSON.parse(json) as PendingAuthorization);
  }

  async putCode(codeHash: string, grant: CodeGrant, ttlMs: number): Promise<void> {
    const key = this.#keys.oauthCode(codeHash);
    // One key: MULTI makes the hash and its TTL appear together.
    await this.#client.multi().hSet(key, 'g', JSON.stringify(grant)).pExpire(key, positive(ttlMs)).exec();
  }

  async redeemCode(codeHash: string, familyId: string, accessToken: IssuedAccessToken): Promise<CodeRedemption> {
    const reply = (await this.#client.codeRedeem(this.#keys.oauthCode(codeHash), familyId, accessToken.jti, String(accessToken.expiresAt))) as unknown[];
    switch (reply[0]) {
      case 'ok':
        return { status: 'ok', grant: JSON.parse(String(reply[1])) as CodeGrant };
      case 'used':
        return { status: 'used', familyId: String(reply[1]), accessToken: { jti: String(reply[2]), expiresAt: Number(reply[3]) } };
      case 'unknown':
        return { status: 'unknown' };
    }
    throw new Error('code-redeem: unexpected reply from Redis');
  }

  async codeReplayed(codeHash: string): Promise<boolean> {
    return (await this.#client.hExists(this.#keys.oauthCode(codeHash), 'r')) === 1;
  }

  async createFamily(familyId: string, family: RefreshFamily, tokenHash: string, idleTtlMs: number, accessToken: IssuedAccessToken): Promise<void> {
    const { family: key } = this.#keys.refreshFamily(familyId);
    await this.#client.refreshCreate(
      key,
      JSON.stringify(family),
      family.clientId,
      tokenHash,
      accessToken.jti,
      String(accessToken.expiresAt),
      String(familyTtlMs(family, idleTtlMs)),
      String(family.expiresAt),
    );
  }

  async rotate(familyId: string, presentedHash: string, newHash: string, clientId: string, idleTtlMs: number, accessToken: IssuedAccessToken): Promise<RefreshRotation> {
    const keys = this.#keys.refreshFamily(familyId);
    const reply = (await this.#client.refreshRotate(
      keys.family,
      keys.used,
      presentedHash,
      newHash,
      clientId,
      accessToken.jti,
      String(accessToken.expiresAt),
      String(positive(idleTtlMs)),
    )) as unknown[];
    switch (reply[0]) {
      case 'ok':
        return { status: 'ok', family: JSON.parse(String(reply[1])) as RefreshFamily };
      case 'reused':
        return { status: 'reused', family: JSON.parse(String(reply[1])) as RefreshFamily, ...lastAccess(reply[2], reply[3]) };
      case 'wrong_client':
        return { status: 'wrong_client' };
      case 'unknown':
        return { status: 'unknown' };
    }
    throw new Error('refresh-rotate: unexpected reply from Redis');
  }

  async revokeFamily(familyId: string): Promise<{ family: RefreshFamily; lastAccessToken?: IssuedAccessToken } | undefined> {
    const keys = this.#keys.refreshFamily(familyId);
    const reply = (await this.#client.refreshRevoke(keys.family, keys.used)) as unknown[];
    if (reply.length === 0) return undefined;
    return { family: JSON.parse(String(reply[0])) as RefreshFamily, ...lastAccess(reply[1], reply[2]) };
  }
}

function lastAccess(jti: unknown, expiresAt: unknown): { lastAccessToken?: IssuedAccessToken } {
  const exp = Number(expiresAt);
  return typeof jti === 'string' && jti !== '' && Number.isFinite(exp) && exp > 0 ? { lastAccessToken: { jti, expiresAt: exp } } : {};
}

function positive(ms: number): number {
  if (!Number.isFinite(ms) || ms < 1) throw new RangeError('a TTL must be at least 1 ms');
  return Math.ceil(ms);
}
