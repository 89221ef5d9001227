import type { KeySpace } from './keys.js';
import type { PreferenceStore } from './preference-store.js';
import type { StateRedis } from './redis-client.js';
import { assertBusinessId, preferenceTtl, type PreferenceStoreOptions } from './store-support.js';

/** Per-user preferences in Redis: one string per user (`<prefix>user:{<userId>}:active_business`), TTL reset by every set. */
export class RedisPreferenceStore implements PreferenceStore {
  readonly #client: StateRedis;
  readonly #keys: KeySpace;
  readonly #ttlMs: number;

  constructor(client: StateRedis, keys: KeySpace, opts?: PreferenceStoreOptions) {
    this.#client = client;
    this.#keys = keys;
    this.#ttlMs = preferenceTtl(opts);
  }

  async getActiveBusiness(userId: string): Promise<string | null> {
    const value = await this.#client.get(this.#keys.activeBusiness(userId));
    return typeof value === 'string' ? value : null;
  }

  async setActiveBusiness(userId: string, businessId: string): Promise<void> {
    const key = this.#keys.activeBusiness(userId);
    assertBusinessId(businessId);
    await this.#client.set(key, businessId, { expiration: { type: 'PX', value: this.#ttlMs } });
  }
}
