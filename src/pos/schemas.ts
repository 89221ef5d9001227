import * as z from 'zod';

/**
 * Tool input and output shapes, built once at module load and shared by every per-request server.
 * Identifiers are strict so that nothing a caller sends can be mistaken for SQL or a Redis key part.
 */
export const BusinessId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'business ids are 1-64 letters, digits, _ or -').describe('Business id from list_businesses');
export const Sku = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'SKUs are 1-64 letters, digits, . _ or -').describe('Product SKU, e.g. COF-LATTE-12');
export const CartId = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/, 'cart ids are 1-64 letters, digits, _ or -')
  .describe('The cart to act on: the cart_id an earlier cart call returned (or a name of your own, e.g. table-4). Omitted: this session\'s own cart; with no session, add_item_to_cart starts a new cart');
export const OrderId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'order ids are 1-64 letters, digits, _ or -').describe('Order id, e.g. ord_…');
export const IdempotencyKey = z
  .string()
  .regex(/^[\x21-\x7e]{1,128}$/, 'idempotency keys are 1-128 visible ASCII characters')
  .describe('Any unique string; retrying checkout with the same key returns the same order instead of a second one');

export const Business = z.object({ id: z.string(), name: z.string(), currency: z.string(), role: z.string() });
export const Product = z.object({
  sku: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  price_minor: z.number().int().describe('Price in minor units (cents)'),
  currency: z.string(),
  stock: z.number().int(),
});
export const CartLine = z.object({
  sku: z.string(),
  name: z.string(),
  quantity: z.number().int(),
  unit_price_minor: z.number().int(),
  line_total_minor: z.number().int(),
  available_stock: z.number().int(),
});
export const Cart = z.object({
  cart_id: z.string(),
  business_id: z.string(),
  currency: z.string(),
  lines: z.array(CartLine),
  item_count: z.number().int(),
  subtotal_minor: z.number().int(),
  version: z.number().int(),
  warnings: z.array(z.string()),
});
export const OrderLine = z.object({
  line_no: z.number().int(),
  sku: z.string(),
  name: z.string(),
  unit_price_minor: z.number().int(),
  quantity: z.number().int(),
  line_total_minor: z.number().int(),
});
export const Order = z.object({
  order_id: z.string(),
  business_id: z.string(),
  status: z.string(),
  total_minor: z.number().int(),
  currency: z.string(),
  created_at: z.string(),
  lines: z.array(OrderLine),
});
export const OrderSummary = Order.omit({ lines: true }).extend({ line_count: z.number().int() });
