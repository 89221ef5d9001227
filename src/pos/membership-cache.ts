import type { Queryable } from '../db/db.js';
import { listBusinessesForUser } from './business-repo.js';

export interface MembershipView {
  id: string;
  name: string;
  currency: string;
  role: string;
}

/**
 * A few seconds of per-instance memory of who belongs where. It is only a cache: PostgreSQL stays the
 * truth, every entry is rebuilt on expiry, and decisions that grant access (set_active_business) bypass it.
 */
export class MembershipCache {
  private readonly entries = new Map<string, { at: number; businesses: MembershipView[] }>();

  constructor(
    private readonly db: Queryable,
    private readonly ttlMs: number,
  ) {}

  async list(userId: string, fresh = false): Promise<MembershipView[]> {
    const hit = this.entries.get(userId);
    if (!fresh && hit && Date.now() - hit.at < this.ttlMs) return hit.businesses;
    const businesses = await listBusinessesForUser(this.db, userId);
    if (this.ttlMs > 0) {
      if (this.entries.size > 10_000) this.entries.clear();
      this.entries.set(userId, { at: Date.now(), businesses });
    }
    return businesses;
  }
}
