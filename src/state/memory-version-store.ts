import { randomBytes } from 'node:crypto';
import type { VersionStore } from './version-store.js';

/** A value no bump has used before, on any instance: the time and 48 random bits. */
export function newVersion(): string {
  return `${Date.now().toString(36)}.${randomBytes(6).toString('base64url')}`;
}

/** The versions in process memory: one instance, which is then the only one that caches anything. */
export class MemoryVersionStore implements VersionStore {
  readonly #versions = new Map<string, string>();

  async read(userId: string, businessId?: string): Promise<{ memberships: string; catalog?: string }> {
    const memberships = this.#versions.get(`u:${userId}`) ?? '';
    return businessId === undefined ? { memberships } : { memberships, catalog: this.#versions.get(`b:${businessId}`) ?? '' };
  }

  async bumpCatalog(businessId: string): Promise<string> {
    return this.bump(`b:${businessId}`);
  }

  async bumpMemberships(userId: string): Promise<string> {
    return this.bump(`u:${userId}`);
  }

  private bump(field: string): string {
    const version = newVersion();
    this.#versions.set(field, version);
    return version;
  }
}
