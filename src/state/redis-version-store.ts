import type { KeySpace } from './keys.js';
import type { StateRedis } from './redis-client.js';
import type { VersionStore } from './version-store.js';

/** The counters as fields of one hash (`<prefix>pos:versions`, see keys.ts): a read is one HMGET, a bump one HINCRBY. */
export class RedisVersionStore implements VersionStore {
  readonly #client: StateRedis;
  readonly #keys: KeySpace;

  constructor(client: StateRedis, keys: KeySpace) {
    this.#client = client;
    this.#keys = keys;
  }

  async read(userId: string, businessId?: string): Promise<{ memberships: number; catalog?: number }> {
    const user = this.#keys.membershipVersionField(userId);
    const fields = businessId === undefined ? [user] : [user, this.#keys.catalogVersionField(businessId)];
    const [memberships, catalog] = (await this.#client.hmGet(this.#keys.cacheVersions(), fields)) as (string | null)[];
    return { memberships: Number(memberships ?? 0), ...(businessId === undefined ? {} : { catalog: Number(catalog ?? 0) }) };
  }

  async bumpCatalog(businessId: string): Promise<number> {
    return Number(await this.#client.hIncrBy(this.#keys.cacheVersions(), this.#keys.catalogVersionField(businessId), 1));
  }

  async bumpMemberships(userId: string): Promise<number> {
    return Number(await this.#client.hIncrBy(this.#keys.cacheVersions(), this.#keys.membershipVersionField(userId), 1));
  }
}
