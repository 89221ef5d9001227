import type { Db, Queryable } from '../db/db.js';
import { isUniqueViolation } from '../db/errors.js';
import { randomBase32 } from '../db/random-id.js';
import { BusinessNotFoundError, InsufficientStockError, InvalidOrderError, UnknownProductError, type StockShortage } from './order-errors.js';

export interface OrderLine {
  lineNo: number;
  sku: string;
  /** Name and price as they were when the order was placed. */
  name: string;
  unitPriceMinor: number;
  quantity: number;
  lineTotalMinor: number;
}

export interface Order {
  id: string;
  businessId: string;
  status: 'placed';
  totalMinor: number;
  currency: string;
  /** ISO 8601. */
  createdAt: string;
  idempotencyKey: string;
  cartHandle: string | null;
  lines: OrderLine[];
}

export interface OrderSummary extends Omit<Order, 'lines'> {
  lineCount: number;
}

export interface PlaceOrderInput {
  businessId: string;
  userId: string;
  /** Same key (per business and user) → same order: a retried checkout never orders twice. */
  idempotencyKey: string;
  cartHandle?: string | null;
  lines: readonly { sku: string; quantity: number }[];
}

const MAX_QUANTITY = 2_147_483_647;

interface OrderRow {
  id: string;
  business_id: string;
  status: 'placed';
  total_minor: number | string | bigint;
  currency: string;
  created_at: Date | string;
  idempotency_key: string;
  cart_handle: string | null;
}

interface LineRow {
  line_no: number;
  sku: string;
  name: string;
  unit_price_minor: number | string | bigint;
  quantity: number;
  line_total_minor: number | string | bigint;
}

const ORDER_COLUMNS = 'o.id, o.business_id, o.status, o.total_minor, o.currency, o.created_at, o.idempotency_key, o.cart_handle';

/** Only orders the user placed in a business they still belong to. */
const MEMBER_JOIN = 'JOIN memberships m ON m.user_id = o.user_id AND m.business_id = o.business_id';

function toSummaryBase(row: OrderRow): Omit<Order, 'lines'> {
  return {
    id: row.id,
    businessId: row.business_id,
    status: row.status,
    totalMinor: Number(row.total_minor),
    currency: row.currency,
    createdAt: new Date(row.created_at).toISOString(),
    idempotencyKey: row.idempotency_key,
    cartHandle: row.cart_handle,
  };
}

function toLine(row: LineRow): OrderLine {
  return {
    lineNo: Number(row.line_no),
    sku: row.sku,
    name: row.name,
    unitPriceMinor: Number(row.unit_price_minor),
    quantity: Number(row.quantity),
    lineTotalMinor: Number(row.line_total_minor),
  };
}

async function withLines(db: Queryable, row: OrderRow | undefined): Promise<Order | null> {
  if (!row) return null;
  const { rows } = await db.query<LineRow>(
    'SELECT line_no, sku, name, unit_price_minor, quantity, line_total_minor FROM order_lines WHERE order_id = $1 ORDER BY line_no',
    [row.id],
  );
  return { ...toSummaryBase(row), lines: rows.map(toLine) };
}

/** Merges repeated SKUs (first occurrence keeps its place) and rejects malformed input. */
function normaliseInput(input: PlaceOrderInput): { sku: string; quantity: number }[] {
  if (typeof input.idempotencyKey !== 'string' || input.idempotencyKey === '' || input.idempotencyKey.length > 255) {
    throw new InvalidOrderError('idempotencyKey must be 1-255 characters');
  }
  if (input.lines.length === 0) throw new InvalidOrderError('An order needs at least one line');
  const merged = new Map<string, number>();
  for (const line of input.lines) {
    if (!Number.isSafeInteger(line.quantity) || line.quantity <= 0) {
      throw new InvalidOrderError(`Quantity for ${line.sku} must be a positive integer, got ${line.quantity}`);
    }
    const quantity = (merged.get(line.sku) ?? 0) + line.quantity;
    if (quantity > MAX_QUANTITY) throw new InvalidOrderError(`Quantity for ${line.sku} is too large`);
    merged.set(line.sku, quantity);
  }
  return [...merged].map(([sku, quantity]) => ({ sku, quantity }));
}

/** The user's order with that idempotency key in that business, or null. */
export async function findOrderByKey(db: Queryable, businessId: string, userId: string, idempotencyKey: string): Promise<Order | null> {
  const { rows } = await db.query<OrderRow>(
    `SELECT ${ORDER_COLUMNS} FROM orders o ${MEMBER_JOIN}
     WHERE o.business_id = $1 AND o.user_id = $2 AND o.idempotency_key = $3`,
    [businessId, userId, idempotencyKey],
  );
  return withLines(db, rows[0]);
}

/**
 * Places an order in one transaction: takes the stock of every line or nothing.
 *
 * - Same (business, user, idempotencyKey) as an earlier order → that order, `created: false`, stock untouched.
 *   (The lines are not compared: a retry is assumed to carry the same cart.) Two concurrent calls with one
 *   key yield one order: the second waits on the first's row in the unique index, then returns it.
 * - Product rows are locked `FOR UPDATE` in SKU order, so concurrent orders queue instead of deadlocking
 *   and stock never goes below zero.
 *
 * Throws InvalidOrderError, BusinessNotFoundError (not a member, or no such business), UnknownProductError
 * (all unknown/inactive SKUs), InsufficientStockError (all short lines).
 */
export async function placeOrder(db: Db, input: PlaceOrderInput): Promise<{ order: Order; created: boolean }> {
  const lines = normaliseInput(input);
  try {
    return await db.transaction((tx) => placeInTransaction(tx, input, lines));
  } catch (err) {
    // Defensive: if the key's unique constraint fired anyway, the other attempt won — answer with its order.
    if (isUniqueViolation(err, 'orders_idempotency_key')) {
      const winner = await findOrderByKey(db, input.businessId, input.userId, input.idempotencyKey);
      if (winner) return { order: winner, created: false };
    }
    throw err;
  }
}

async function placeInTransaction(
  tx: Queryable,
  input: PlaceOrderInput,
  lines: { sku: string; quantity: number }[],
): Promise<{ order: Order; created: boolean }> {
  const { businessId, userId, idempotencyKey } = input;
  const membership = await tx.query<{ currency: string }>(
    `SELECT b.currency FROM memberships m JOIN businesses b ON b.id = m.business_id
     WHERE m.user_id = $1 AND m.business_id = $2`,
    [userId, businessId],
  );
  const currency = membership.rows[0]?.currency;
  if (currency === undefined) throw new BusinessNotFoundError(businessId);

  const existing = await findOrderByKey(tx, businessId, userId, idempotencyKey);
  if (existing) return { order: existing, created: false };

  // Claim the key first. A concurrent attempt with the same key blocks here until we commit or roll back,
  // and then finds our order instead of competing for the stock.
  const orderId = `ord_${randomBase32(20)}`;
  const claimed = await tx.query<{ created_at: Date | string }>(
    `INSERT INTO orders (id, business_id, user_id, idempotency_key, cart_handle, status, total_minor, currency)
     VALUES ($1, $2, $3, $4, $5, 'placed', 0, $6)
     ON CONFLICT ON CONSTRAINT orders_idempotency_key DO NOTHING
     RETURNING created_at`,
    [orderId, businessId, userId, idempotencyKey, input.cartHandle ?? null, currency],
  );
  if (claimed.rows.length === 0) {
    const winner = await findOrderByKey(tx, businessId, userId, idempotencyKey);
    if (!winner) throw new Error(`Order with idempotency key ${JSON.stringify(idempotencyKey)} conflicted but could not be read`);
    return { order: winner, created: false };
  }

  const skus = lines.map((l) => l.sku);
  const { rows: products } = await tx.query<{ sku: string; name: string; price_minor: number | string | bigint; stock: number; active: boolean }>(
    `SELECT sku, name, price_minor, stock, active FROM products
     WHERE business_id = $1 AND sku = ANY($2::text[])
     ORDER BY sku
     FOR UPDATE`,
    [businessId, skus],
  );
  const bySku = new Map(products.map((p) => [p.sku, p]));

  const unknown = skus.filter((sku) => !bySku.get(sku)?.active);
  if (unknown.length > 0) throw new UnknownProductError(unknown);

  const shortages: StockShortage[] = [];
  for (const line of lines) {
    const product = bySku.get(line.sku)!;
    const available = Number(product.stock);
    if (available < line.quantity) shortages.push({ sku: line.sku, name: product.name, requested: line.quantity, available });
  }
  if (shortages.length > 0) throw new InsufficientStockError(shortages);

  const orderLines: OrderLine[] = lines.map((line, i) => {
    const product = bySku.get(line.sku)!;
    const unitPriceMinor = Number(product.price_minor);
    return {
      lineNo: i + 1,
      sku: line.sku,
      name: product.name,
      unitPriceMinor,
      quantity: line.quantity,
      lineTotalMinor: unitPriceMinor * line.quantity,
    };
  });
  const totalMinor = orderLines.reduce((sum, l) => sum + l.lineTotalMinor, 0);
  if (!Number.isSafeInteger(totalMinor)) throw new InvalidOrderError('Order total is too large');

  await tx.query(
    `UPDATE products p SET stock = p.stock - v.quantity
     FROM unnest($2::text[], $3::int[]) AS v(sku, quantity)
     WHERE p.business_id = $1 AND p.sku = v.sku`,
    [businessId, skus, lines.map((l) => l.quantity)],
  );
  await tx.query(
    `INSERT INTO order_lines (order_id, line_no, sku, name, unit_price_minor, quantity, line_total_minor)
     SELECT $1, * FROM unnest($2::int[], $3::text[], $4::text[], $5::bigint[], $6::int[], $7::bigint[])`,
    [
      orderId,
      orderLines.map((l) => l.lineNo),
      orderLines.map((l) => l.sku),
      orderLines.map((l) => l.name),
      orderLines.map((l) => l.unitPriceMinor),
      orderLines.map((l) => l.quantity),
      orderLines.map((l) => l.lineTotalMinor),
    ],
  );
  await tx.query('UPDATE orders SET total_minor = $2 WHERE id = $1', [orderId, totalMinor]);

  return {
    order: {
      id: orderId,
      businessId,
      status: 'placed',
      totalMinor,
      currency,
      createdAt: new Date(claimed.rows[0]!.created_at).toISOString(),
      idempotencyKey,
      cartHandle: input.cartHandle ?? null,
      lines: orderLines,
    },
    created: true,
  };
}

/** The user's latest orders in a business, newest first (empty if the user is no longer a member). */
export async function listOrders(db: Queryable, businessId: string, userId: string, limit: number): Promise<OrderSummary[]> {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new RangeError(`limit must be a non-negative integer, got ${limit}`);
  const { rows } = await db.query<OrderRow & { line_count: number | string | bigint }>(
    `SELECT ${ORDER_COLUMNS}, (SELECT count(*) FROM order_lines l WHERE l.order_id = o.id) AS line_count
     FROM orders o ${MEMBER_JOIN}
     WHERE o.business_id = $1 AND o.user_id = $2
     ORDER BY o.created_at DESC, o.id DESC
     LIMIT $3`,
    [businessId, userId, limit],
  );
  return rows.map((row) => ({ ...toSummaryBase(row), lineCount: Number(row.line_count) }));
}

/**
 * One order with its lines — only if this user placed it, in a business they still belong to; otherwise
 * null, whether the order exists or not.
 */
export async function getOrder(db: Queryable, userId: string, orderId: string): Promise<Order | null> {
  const { rows } = await db.query<OrderRow>(`SELECT ${ORDER_COLUMNS} FROM orders o ${MEMBER_JOIN} WHERE o.id = $1 AND o.user_id = $2`, [
    orderId,
    userId,
  ]);
  return withLines(db, rows[0]);
}
