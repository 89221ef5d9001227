import type { VersionStore } from './version-store.js';

/** The counters in process memory: one instance, which is then the only one that caches anything. */
export class MemoryVersionStore implements VersionStore {
  readonly #versions = new Map<string, number>();

  async read(userId: string, businessId?: string): Promise<{ memberships: number; catalog?: number }> {
    const memberships = this.#versions.get(`u:${userId}`) ?? 0;
    return businessId === undefined ? { memberships } : { memberships, catalog: this.#versions.get(`b:${businessId}`) ?? 0 };
  }

  async bumpCatalog(businessId: string): Promise<number> {
    return this.bump(`b:${businessId}`);
  }

  async bumpMemberships(userId: string): Promise<number> {
    return this.bump(`u:${userId}`);
  }

  private bump(field: string): number {
    const next = (this.#versions.get(field) ?? 0) + 1;
    this.#versions.set(field, next);
    return next;
  }
}
