/**
 * Versions of data that instances cache and that changes made through this service invalidate: a
 * business's catalog (stock moves at checkout) and a user's memberships (`flowpos-mcp member add/remove`). A change
 * bumps its version after it is committed; a request reads the versions next to its rate check, so what an instance
 * cached under another version is not used for it, whichever instance made the change.
 */
export interface VersionStore {
  /**
   * The user's membership version and, when given, the business's catalog version ('' when none is stored). A
   * version is only ever compared for equality: a bump stores a value never used before, so a version that comes
   * back after its record expired still differs from anything cached under the old one.
   */
  read(userId: string, businessId?: string): Promise<{ memberships: string; catalog?: string }>;
  /** Returns the new version. */
  bumpCatalog(businessId: string): Promise<string>;
  bumpMemberships(userId: string): Promise<string>;
}
