import { newVersion } from './memory-version-store.js';
import type { KeySpace } from './keys.js';
import type { StateRedis } from './redis-client.js';
import type { VersionStore } from './version-store.js';

/** Longer than any cache that compares against it; refreshed by every bump. */
const VERSIONS_TTL_MS = 86_400_000;

/** The versions as fields of one hash (`<prefix>pos:versions`, see keys.ts): a read is one HMGET, a bump one HSET. */
export class RedisVersionStore implements VersionStore {
  readonly #client: StateRedis;
  readonly #keys: KeySpace;

  constructor(client: StateRedis, keys: KeySpace) {
    this.#client = client;
    this.#keys = keys;
  }

  async read(userId: string, businessId?: string): Promise<{ memberships: string; catalog?: string }> {
    const user = this.#keys.membershipVersionField(userId);
    const fields = businessId === undefined ? [user] : [user, this.#keys.catalogVersionField(businessId)];
    const [memberships, catalog] = (await this.#client.hmGet(this.#keys.cacheVersions(), fields)) as (string | null)[];
    return { memberships: memberships ?? '', ...(businessId === undefined ? {} : { catalog: catalog ?? '' }) };
  }

  bumpCatalog(businessId: string): Promise<string> {
    return this.bump(this.#keys.catalogVersionField(businessId));
  }

  bumpMemberships(userId: string): Promise<string> {
    return this.bump(this.#keys.membershipVersionField(userId));
  }

  private async bump(field: string): Promise<string> {
    const key = this.#keys.cacheVersions();
    const version = newVersion();
    // One key: a MULTI on its slot, so the TTL is never missing from a written hash.
    await this.#client.multi().hSet(key, field, version).pExpire(key, VERSIONS_TTL_MS).exec();
    return version;
  }
}
