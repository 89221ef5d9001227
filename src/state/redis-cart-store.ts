import type { CartLine, CartMutation, CartRef, CartSnapshot, CartStore, CartStoreOptions } from './cart-store.js';
import { CART_LINE_FIELD_PREFIX, CART_VERSION_FIELD, cartLineField, type KeySpace } from './keys.js';
import type { StateRedis } from './redis-client.js';
import {
  assertQuantity,
  cartMutation,
  EMPTY_CART_VERSION,
  sortLines,
  validateCartOptions,
  type CartStatus,
} from './store-support.js';

const STATUSES: ReadonlySet<string> = new Set<CartStatus>(['ok', 'line_quantity_exceeded', 'too_many_lines', 'not_in_cart']);

/** Parses `{ status, version, sku1, qty1, ... }` as returned by the cart-*.lua scripts. */
function parseMutationReply(reply: unknown, script: string): CartMutation {
  if (!Array.isArray(reply) || reply.length < 2 || reply.length % 2 !== 0) {
    throw new Error(`${script}: unexpected reply from Redis`);
  }
  const [status, version, ...rest] = reply as unknown[];
  if (typeof status !== 'string' || !STATUSES.has(status) || typeof version !== 'number') {
    throw new Error(`${script}: unexpected reply from Redis`);
  }
  const lines: CartLine[] = [];
  for (let i = 0; i < rest.length; i += 2) {
    const sku = rest[i];
    const quantity = rest[i + 1];
    if (typeof sku !== 'string' || typeof quantity !== 'number') throw new Error(`${script}: unexpected reply from Redis`);
    lines.push({ sku, quantity });
  }
  return cartMutation(status as CartStatus, { lines: sortLines(lines), version });
}

/**
 * Carts in Redis: one hash per (business, user, handle) — see keys.ts. Every mutation is one Lua script that
 * reads, checks the limits, writes, bumps the version, resets the TTL and returns the new snapshot, so concurrent
 * changes from any number of instances all count and each call is one round trip. Reads do not extend the TTL.
 */
export class RedisCartStore implements CartStore {
  readonly #client: StateRedis;
  readonly #keys: KeySpace;
  readonly #opts: CartStoreOptions;

  constructor(client: StateRedis, keys: KeySpace, opts: CartStoreOptions) {
    this.#client = client;
    this.#keys = keys;
    this.#opts = validateCartOptions(opts);
  }

  async get(ref: CartRef): Promise<CartSnapshot> {
    const hash = await this.#client.hGetAll(this.#keys.cart(ref));
    let version = EMPTY_CART_VERSION;
    const lines: CartLine[] = [];
    for (const [field, value] of Object.entries(hash)) {
      if (field === CART_VERSION_FIELD) version = Number(value);
      else if (field.startsWith(CART_LINE_FIELD_PREFIX)) {
        lines.push({ sku: field.slice(CART_LINE_FIELD_PREFIX.length), quantity: Number(value) });
      }
    }
    return { lines: sortLines(lines), version };
  }

  async addItem(ref: CartRef, sku: string, quantity: number): Promise<CartMutation> {
    const key = this.#keys.cart(ref);
    const field = cartLineField(sku);
    assertQuantity(quantity, 1);
    const { maxLineQuantity, maxLines, ttlMs } = this.#opts;
    const reply = await this.#client.cartAdd(
      key,
      field,
      String(quantity),
      String(maxLineQuantity),
      String(maxLines),
      String(ttlMs),
      String(Date.now()),
    );
    return parseMutationReply(reply, 'cart-add');
  }

  async setItem(ref: CartRef, sku: string, quantity: number): Promise<CartMutation> {
    const key = this.#keys.cart(ref);
    const field = cartLineField(sku);
    assertQuantity(quantity, 0);
    const { maxLineQuantity, maxLines, ttlMs } = this.#opts;
    const reply = await this.#client.cartSet(
      key,
      field,
      String(quantity),
      String(maxLineQuantity),
      String(maxLines),
      String(ttlMs),
      String(Date.now()),
    );
    return parseMutationReply(reply, 'cart-set');
  }

  async removeItem(ref: CartRef, sku: string): Promise<CartMutation> {
    const key = this.#keys.cart(ref);
    const field = cartLineField(sku);
    const reply = await this.#client.cartRemove(key, field, String(this.#opts.ttlMs));
    return parseMutationReply(reply, 'cart-remove');
  }

  async clear(ref: CartRef, expectedVersion?: number): Promise<boolean> {
    const key = this.#keys.cart(ref);
    let expected = '';
    if (expectedVersion !== undefined) {
      // Versions are non-negative integers; anything else cannot match.
      if (!Number.isSafeInteger(expectedVersion) || expectedVersion < 0) return false;
      expected = String(expectedVersion);
    }
    const reply = await this.#client.cartClear(key, expected, String(this.#opts.ttlMs));
    return reply === 1;
  }
}
