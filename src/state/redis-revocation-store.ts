import type { KeySpace } from './keys.js';
import { assertExpiry } from './memory-revocation-store.js';
import type { StateRedis } from './redis-client.js';
import type { RevocationStore } from './revocation-store.js';

/**
 * The deny-list in Redis: one string per revoked token (`<prefix>revoked:<jti>`) expiring when the token does, so
 * the list never outgrows the tokens still alive. Each call is one command.
 */
export class RedisRevocationStore implements RevocationStore {
  readonly #client: StateRedis;
  readonly #keys: KeySpace;

  constructor(client: StateRedis, keys: KeySpace) {
    this.#client = client;
    this.#keys = keys;
  }

  async revoke(tokenId: string, expiresAt: number): Promise<void> {
    const key = this.#keys.revokedToken(tokenId);
    assertExpiry(expiresAt);
    const ttlMs = Math.ceil(expiresAt - Date.now());
    if (ttlMs <= 0) return;
    await this.#client.set(key, '1', { expiration: { type: 'PX', value: ttlMs } });
  }

  async isRevoked(tokenId: string): Promise<boolean> {
    return (await this.#client.exists(this.#keys.revokedToken(tokenId))) > 0;
  }
}
