import type { CartLine, CartMutation, CartRef, CartSnapshot, CartStore, CartStoreOptions } from './cart-store.js';
import { assertSku, createKeySpace, type KeySpace } from './keys.js';
import {
  assertQuantity,
  cartMutation,
  EMPTY_CART_VERSION,
  nextCartVersion,
  sortLines,
  Sweeper,
  sweepInterval,
  validateCartOptions,
  type CartStatus,
} from './store-support.js';

interface Cart {
  version: number;
  lines: Map<string, number>;
  expiresAt: number;
}

/**
 * Carts in process memory, with the same semantics as RedisCartStore (limits, versions, TTL reset on change,
 * no change on refusal). Single instance only. Snapshots are fresh objects every time.
 */
export class MemoryCartStore implements CartStore {
  readonly #opts: CartStoreOptions;
  /** Keyed like Redis (keys.ts), which also validates refs the same way. */
  readonly #keys: KeySpace = createKeySpace('');
  readonly #carts = new Map<string, Cart>();
  readonly #sweeper: Sweeper;

  constructor(opts: CartStoreOptions & { sweepIntervalMs?: number }) {
    this.#opts = validateCartOptions(opts);
    this.#sweeper = new Sweeper(sweepInterval(this.#opts.ttlMs, opts.sweepIntervalMs), (now) => {
      for (const [key, cart] of this.#carts) if (cart.expiresAt <= now) this.#carts.delete(key);
    });
  }

  #live(key: string, now: number): Cart | undefined {
    const cart = this.#carts.get(key);
    if (cart && cart.expiresAt <= now) {
      this.#carts.delete(key);
      return undefined;
    }
    return cart;
  }

  #snapshot(cart: Cart | undefined): CartSnapshot {
    if (!cart) return { lines: [], version: EMPTY_CART_VERSION };
    const lines: CartLine[] = [...cart.lines].map(([sku, quantity]) => ({ sku, quantity }));
    return { lines: sortLines(lines), version: cart.version };
  }

  /** Applies a change: creates the cart if needed, bumps the version, resets the TTL. */
  #commit(key: string, cart: Cart | undefined, now: number, change: (lines: Map<string, number>) => void): Cart {
    const next = cart ?? { version: 0, lines: new Map<string, number>(), expiresAt: 0 };
    change(next.lines);
    next.version = nextCartVersion(cart?.version, now);
    next.expiresAt = now + this.#opts.ttlMs;
    this.#carts.set(key, next);
    return next;
  }

  #result(status: CartStatus, cart: Cart | undefined): CartMutation {
    return cartMutation(status, this.#snapshot(cart));
  }

  async get(ref: CartRef): Promise<CartSnapshot> {
    return this.#snapshot(this.#live(this.#keys.cart(ref), Date.now()));
  }

  async addItem(ref: CartRef, sku: string, quantity: number): Promise<CartMutation> {
    const key = this.#keys.cart(ref);
    assertSku(sku);
    assertQuantity(quantity, 1);
    const now = Date.now();
    const cart = this.#live(key, now);
    const current = cart?.lines.get(sku) ?? 0;
    if (current + quantity > this.#opts.maxLineQuantity) return this.#result('line_quantity_exceeded', cart);
    if (current === 0 && (cart?.lines.size ?? 0) >= this.#opts.maxLines) return this.#result('too_many_lines', cart);
    return this.#result('ok', this.#commit(key, cart, now, (lines) => lines.set(sku, current + quantity)));
  }

  async setItem(ref: CartRef, sku: string, quantity: number): Promise<CartMutation> {
    const key = this.#keys.cart(ref);
    assertSku(sku);
    assertQuantity(quantity, 0);
    const now = Date.now();
    const cart = this.#live(key, now);
    const current = cart?.lines.get(sku) ?? 0;
    if (quantity === current) return this.#result('ok', cart);
    if (quantity > this.#opts.maxLineQuantity) return this.#result('line_quantity_exceeded', cart);
    if (current === 0 && (cart?.lines.size ?? 0) >= this.#opts.maxLines) return this.#result('too_many_lines', cart);
    const next = this.#commit(key, cart, now, (lines) => {
      if (quantity === 0) lines.delete(sku);
      else lines.set(sku, quantity);
    });
    return this.#result('ok', next);
  }

  async removeItem(ref: CartRef, sku: string): Promise<CartMutation> {
    const key = this.#keys.cart(ref);
    assertSku(sku);
    const now = Date.now();
    const cart = this.#live(key, now);
    if (!cart?.lines.has(sku)) return this.#result('not_in_cart', cart);
    return this.#result('ok', this.#commit(key, cart, now, (lines) => lines.delete(sku)));
  }

  async clear(ref: CartRef, expectedVersion?: number): Promise<boolean> {
    const key = this.#keys.cart(ref);
    const now = Date.now();
    const cart = this.#live(key, now);
    if (expectedVersion !== undefined && expectedVersion !== (cart?.version ?? EMPTY_CART_VERSION)) return false;
    if (!cart || cart.lines.size === 0) return true;
    this.#commit(key, cart, now, (lines) => lines.clear());
    return true;
  }

  /** Stops the background sweep. */
  close(): void {
    this.#sweeper.stop();
    this.#carts.clear();
  }
}
