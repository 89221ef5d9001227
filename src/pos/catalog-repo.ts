import type { Queryable } from '../db/db.js';

export interface Product {
  sku: string;
  name: string;
  description: string;
  /** Price in minor units of `currency` (cents, pence…). */
  priceMinor: number;
  currency: string;
  stock: number;
}

interface ProductRow {
  sku: string;
  name: string;
  description: string;
  price_minor: number | string | bigint;
  currency: string;
  stock: number;
}

const PRODUCT_COLUMNS = 'sku, name, description, price_minor, currency, stock';

export function toProduct(row: ProductRow): Product {
  return {
    sku: row.sku,
    name: row.name,
    description: row.description,
    priceMinor: Number(row.price_minor),
    currency: row.currency,
    stock: Number(row.stock),
  };
}

/** Escapes LIKE wildcards so the user's text matches literally (used with `ESCAPE '\'`). */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

function assertLimit(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
}

/**
 * Active products whose SKU, name or description contains `query` (case-insensitive, taken literally: `%`,
 * `_` and `\` are not wildcards), ordered by name then SKU. Without a query, the whole active catalog.
 * `total` counts every match, not just the returned page.
 */
export async function searchProducts(
  db: Queryable,
  businessId: string,
  options: { query?: string; limit: number; offset?: number },
): Promise<{ products: Product[]; total: number }> {
  const offset = options.offset ?? 0;
  assertLimit('limit', options.limit);
  assertLimit('offset', offset);
  const text = options.query?.trim() ?? '';
  // PostgreSQL text cannot hold NUL, so no product contains it.
  if (text.includes('\u0000')) return { products: [], total: 0 };
  const pattern = text === '' ? null : `%${escapeLike(text)}%`;
  const { rows } = await db.query<ProductRow & { total: number | string }>(
    `WITH matched AS (
       SELECT ${PRODUCT_COLUMNS} FROM products
       WHERE business_id = $1 AND active
         AND ($2::text IS NULL
              OR name ILIKE $2 ESCAPE '\\' OR sku ILIKE $2 ESCAPE '\\' OR description ILIKE $2 ESCAPE '\\')
     )
     SELECT t.total, p.*
     FROM (SELECT count(*) AS total FROM matched) t
     LEFT JOIN LATERAL (
       SELECT * FROM matched ORDER BY lower(name), name, sku LIMIT $3 OFFSET $4
     ) p ON true`,
    [businessId, pattern, options.limit, offset],
  );
  const total = rows.length > 0 ? Number(rows[0]!.total) : 0;
  const products = rows.filter((r) => r.sku !== null).map(toProduct);
  return { products, total };
}

/** One active product by exact SKU; null if unknown or no longer sold. */
export async function getProduct(db: Queryable, businessId: string, sku: string): Promise<Product | null> {
  // Named: every cart change runs it, so PostgreSQL parses and plans it once per connection, not per call.
  const { rows } = await db.query<ProductRow>(`SELECT ${PRODUCT_COLUMNS} FROM products WHERE business_id = $1 AND sku = $2 AND active`, [businessId, sku], {
    name: 'catalog_get_product',
  });
  return rows[0] ? toProduct(rows[0]) : null;
}

/** The active products among `skus` (exact match), ordered by SKU; unknown or inactive SKUs are left out. */
export async function getProducts(db: Queryable, businessId: string, skus: readonly string[]): Promise<Product[]> {
  if (skus.length === 0) return [];
  const { rows } = await db.query<ProductRow>(
    `SELECT ${PRODUCT_COLUMNS} FROM products WHERE business_id = $1 AND sku = ANY($2::text[]) AND active ORDER BY sku`,
    [businessId, [...new Set(skus)]],
    { name: 'catalog_get_products' },
  );
  return rows.map(toProduct);
}

/** Up to `limit` active SKUs starting with `prefix` (case-insensitive), for argument completion. */
export async function suggestSkus(db: Queryable, businessId: string, prefix: string, limit: number): Promise<string[]> {
  assertLimit('limit', limit);
  if (prefix.includes('\u0000')) return [];
  const { rows } = await db.query<{ sku: string }>(
    `SELECT sku FROM products
     WHERE business_id = $1 AND active AND lower(sku) LIKE lower($2) ESCAPE '\\'
     ORDER BY lower(sku), sku LIMIT $3`,
    [businessId, `${escapeLike(prefix)}%`, limit],
  );
  return rows.map((r) => r.sku);
}
