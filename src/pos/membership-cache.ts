import type { Queryable } from '../db/db.js';
import { listBusinessesForUser } from './business-repo.js';
import { VersionTags } from './version-tags.js';

export interface MembershipView {
  id: string;
  name: string;
  currency: string;
  role: string;
}

/**
 * A few seconds of per-instance memory of who belongs where. It is only a cache: PostgreSQL stays the truth, and
 * decisions that grant access (set_active_business) bypass it. An entry is used while it is younger than the TTL
 * (which bounds how long a change made outside this service, in the database, goes unseen) and while the user's
 * membership version (VersionStore, read by every request) is the one it was read under, so `flowpos-mcp member
 * add/remove` is seen on the next request on every instance.
 */
export class MembershipCache {
  private readonly entries = new Map<string, { at: number; version: string; businesses: MembershipView[] }>();
  private readonly versions = new VersionTags();

  constructor(
    private readonly db: Queryable,
    private readonly ttlMs: number,
  ) {}

  /** The user's membership version as a request read it; a moved one makes the user's entry stale. */
  observe(userId: string, version: string): void {
    if (this.versions.observe(userId, version)) this.entries.delete(userId);
  }

  /** The version could not be read: nothing cached for the user is trusted until it is. */
  unknown(userId: string): void {
    this.versions.forget(userId);
    this.entries.delete(userId);
  }

  async list(userId: string, fresh = false): Promise<MembershipView[]> {
    const version = this.versions.current(userId);
    const hit = this.entries.get(userId);
    if (!fresh && hit && hit.version === version && Date.now() - hit.at < this.ttlMs) return hit.businesses;
    const at = Date.now();
    const businesses = await listBusinessesForUser(this.db, userId);
    // Kept only when no newer version was seen while reading: a read that began before a change may miss it.
    if (this.ttlMs > 0 && version !== undefined && this.versions.current(userId) === version) {
      if (this.entries.size > 10_000) this.entries.clear();
      this.entries.set(userId, { at, version, businesses });
    }
    return businesses;
  }
}
