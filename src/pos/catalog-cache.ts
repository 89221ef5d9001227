import type { Queryable } from '../db/db.js';
import type { VersionStore } from '../state/version-store.js';
import { getProduct, type Product } from './catalog-repo.js';
import { VersionTags } from './version-tags.js';

/**
 * Per-instance memory of product rows, for the stock and price check of a cart change. An entry is used only
 * by a request that read its business's catalog version next to its rate check (`currentFor`), while that version
 * is the one the entry was read under and the entry is younger than the TTL. Checkout bumps the version after its
 * transaction commits, so stock it took is seen on the next request on every instance; changes made outside this
 * service (the POS backend writing the database) are seen within the TTL. Checkout itself never reads this cache:
 * its transaction locks and re-reads every row, and is what decides.
 */
export class CatalogCache {
  private readonly businesses = new Map<string, { version: string; rows: Map<string, { at: number; product: Product | null }> }>();
  private readonly versions = new VersionTags();

  constructor(
    private readonly db: Queryable,
    private readonly store: VersionStore,
    private readonly ttlMs: number,
  ) {}

  /** The business's catalog version as a request read it; a moved one drops what was cached of the business. */
  observe(businessId: string, version: string): void {
    if (this.versions.observe(businessId, version)) this.businesses.delete(businessId);
  }

  /**
   * The active product by SKU. `current`: this request read the business's version (else PostgreSQL is asked,
   * and nothing is cached).
   */
  async getProduct(businessId: string, sku: string, current: boolean): Promise<Product | null> {
    const version = this.versions.current(businessId);
    if (!current || this.ttlMs <= 0 || version === undefined) return getProduct(this.db, businessId, sku);
    let entry = this.businesses.get(businessId);
    if (entry?.version !== version) {
      if (this.businesses.size >= 1000) this.businesses.clear();
      entry = { version, rows: new Map() };
      this.businesses.set(businessId, entry);
    }
    const hit = entry.rows.get(sku);
    if (hit && Date.now() - hit.at < this.ttlMs) return hit.product;
    const at = Date.now();
    const product = await getProduct(this.db, businessId, sku);
    // Kept only when no newer version was seen while reading: a read that began before a checkout may miss its stock.
    if (this.businesses.get(businessId) === entry && entry.version === this.versions.current(businessId)) {
      if (entry.rows.size >= 10_000) entry.rows.clear();
      entry.rows.set(sku, { at, product });
    }
    return product;
  }

  /** After a committed change of the business's stock: every instance, this one at once, stops using older rows. */
  async changed(businessId: string): Promise<void> {
    this.businesses.delete(businessId);
    this.observe(businessId, await this.store.bumpCatalog(businessId));
  }
}
