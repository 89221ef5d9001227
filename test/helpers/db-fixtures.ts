import { randomBytes } from 'node:crypto';
import type { Queryable } from '../../src/db/db.js';

let counter = 0;

/** A short token unique within the test run, usable in SKUs and ids. */
export function uniqueToken(): string {
  counter += 1;
  return `${counter.toString(36).toUpperCase()}${randomBytes(3).toString('hex').toUpperCase()}`;
}

export interface ProductFixture {
  sku?: string;
  name?: string;
  description?: string;
  priceMinor?: number;
  stock: number;
  active?: boolean;
}

/** Inserts a product priced in the business's currency; returns its SKU. */
export async function addProduct(db: Queryable, businessId: string, p: ProductFixture): Promise<string> {
  const sku = p.sku ?? `T-${uniqueToken()}`;
  await db.query(
    `INSERT INTO products (business_id, sku, name, description, price_minor, currency, stock, active)
     SELECT $1, $2, $3, $4, $5, b.currency, $6, $7 FROM businesses b WHERE b.id = $1`,
    [businessId, sku, p.name ?? `Test product ${sku}`, p.description ?? '', p.priceMinor ?? 100, p.stock, p.active ?? true],
  );
  return sku;
}

export async function stockOf(db: Queryable, businessId: string, sku: string): Promise<number> {
  const { rows } = await db.query<{ stock: number }>('SELECT stock FROM products WHERE business_id = $1 AND sku = $2', [businessId, sku]);
  if (!rows[0]) throw new Error(`no product ${sku} in ${businessId}`);
  return Number(rows[0].stock);
}

export async function addUser(db: Queryable, memberOf: { businessId: string; role?: 'owner' | 'staff' }[] = []): Promise<string> {
  const id = `user-${uniqueToken().toLowerCase()}`;
  await db.query('INSERT INTO users (id, display_name) VALUES ($1, $2)', [id, `Test ${id}`]);
  for (const m of memberOf) {
    await db.query('INSERT INTO memberships (user_id, business_id, role) VALUES ($1, $2, $3)', [id, m.businessId, m.role ?? 'staff']);
  }
  return id;
}

export async function addBusiness(db: Queryable, b: { name: string; currency: string; members?: { userId: string; role?: 'owner' | 'staff' }[] }): Promise<string> {
  const id = `biz_${uniqueToken().toLowerCase()}`;
  await db.query('INSERT INTO businesses (id, name, currency) VALUES ($1, $2, $3)', [id, b.name, b.currency]);
  for (const m of b.members ?? []) {
    await db.query('INSERT INTO memberships (user_id, business_id, role) VALUES ($1, $2, $3)', [m.userId, id, m.role ?? 'owner']);
  }
  return id;
}

export async function countRows(db: Queryable, sql: string, params: unknown[] = []): Promise<number> {
  const { rows } = await db.query<{ n: number | string }>(`SELECT count(*) AS n FROM (${sql}) AS q`, params);
  return Number(rows[0]!.n);
}
