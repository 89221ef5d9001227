/**
 * Version counters of data that instances cache and that changes made through this service invalidate: a
 * business's catalog (stock moves at checkout) and a user's memberships (`flowpos-mcp member add/remove`). A change
 * bumps its counter after it is committed; a request reads the counters next to its rate check, so what an instance
 * cached under an older counter is not used for it, whichever instance made the change.
 */
export interface VersionStore {
  /** The user's membership version and, when given, the business's catalog version (0 when never bumped). */
  read(userId: string, businessId?: string): Promise<{ memberships: number; catalog?: number }>;
  /** Returns the new version. */
  bumpCatalog(businessId: string): Promise<number>;
  bumpMemberships(userId: string): Promise<number>;
}
