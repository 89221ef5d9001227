import type { Principal } from '../auth/principal.js';
import { hasScope } from '../auth/principal.js';
import type { Db } from '../db/db.js';
import { ToolError } from '../errors.js';
import type { CartMutation, CartRef, CartSnapshot, CartStore } from '../state/cart-store.js';
import type { PreferenceStore } from '../state/preference-store.js';
import type { VersionStore } from '../state/version-store.js';
import type { CatalogCache } from './catalog-cache.js';
import { getBusinessForUser } from './business-repo.js';
import { newCartId, sessionCartId } from './cart-id.js';
import { getProduct, getProducts, searchProducts, suggestSkus, type Product } from './catalog-repo.js';
import type { MembershipCache, MembershipView } from './membership-cache.js';
import { InsufficientStockError, UnknownProductError } from './order-errors.js';
import { findOrderByKey, getOrder, listOrders, placeOrder } from './order-repo.js';

/** Who acts, and the session they act in (2025-era) — the only context the domain needs. */
export interface PosActor {
  principal: Principal;
  session?: {
    id: string;
    activeBusinessId?: string;
    /** The business whose catalog version this request read (PosService.refreshCaches): its cached rows are current. */
    catalogCurrent?: string;
    setActiveBusiness(businessId: string): Promise<void>;
  };
}

export interface CartLineView {
  sku: string;
  name: string;
  quantity: number;
  unit_price_minor: number;
  line_total_minor: number;
  available_stock: number;
}

export interface CartView {
  cart_id: string;
  business_id: string;
  currency: string;
  lines: CartLineView[];
  item_count: number;
  subtotal_minor: number;
  version: number;
  warnings: string[];
}

export interface PosServiceDeps {
  db: Db;
  carts: CartStore;
  preferences: PreferenceStore;
  memberships: MembershipCache;
  catalog: CatalogCache;
  versions: VersionStore;
}

/** The point-of-sale domain as an agent uses it. It knows nothing of HTTP or MCP transports. */
export class PosService {
  constructor(private readonly deps: PosServiceDeps) {}

  /**
   * Reads the user's membership version and, when given, the business's catalog version (one command, sent with
   * whatever else the request sends in this turn), so that what this instance cached under older versions is not
   * used. Resolves with the business whose catalog version was read; never rejects (without versions, the caches
   * are bypassed).
   */
  async refreshCaches(userId: string, businessId?: string): Promise<string | undefined> {
    try {
      const v = await this.deps.versions.read(userId, businessId);
      this.deps.memberships.observe(userId, v.memberships);
      if (businessId === undefined || v.catalog === undefined) return undefined;
      this.deps.catalog.observe(businessId, v.catalog);
      return businessId;
    } catch {
      this.deps.memberships.unknown(userId);
      return undefined;
    }
  }

  async listBusinesses(actor: PosActor) {
    const businesses = await this.deps.memberships.list(actor.principal.uid);
    const active = await this.activeBusinessOrNull(actor, businesses);
    return { businesses: businesses.map((b) => ({ ...b, active: b.id === active?.id })), active_business_id: active?.id ?? null };
  }

  /** Refused for a business the user does not belong to; then nothing changes anywhere. */
  async setActiveBusiness(actor: PosActor, businessId: string): Promise<MembershipView> {
    const business = await getBusinessForUser(this.deps.db, actor.principal.uid, businessId);
    if (!business) throw new ToolError('business_not_found');
    await actor.session?.setActiveBusiness(business.id);
    await this.deps.preferences.setActiveBusiness(actor.principal.uid, business.id);
    return business;
  }

  async activeBusiness(actor: PosActor): Promise<MembershipView> {
    const business = await this.activeBusinessOrNull(actor);
    if (!business) throw new ToolError('no_active_business');
    return business;
  }

  async searchProducts(actor: PosActor, input: { query?: string; limit: number; offset: number }) {
    const business = await this.activeBusiness(actor);
    const { products, total } = await searchProducts(this.deps.db, business.id, {
      ...(input.query ? { query: input.query } : {}),
      limit: input.limit,
      offset: input.offset,
    });
    return { business, products, total };
  }

  async getProduct(actor: PosActor, sku: string) {
    const business = await this.activeBusiness(actor);
    const product = await this.deps.catalog.getProduct(business.id, sku, actor.session?.catalogCurrent === business.id);
    if (!product) throw new ToolError('product_not_found', `No product with SKU "${sku}" in ${business.name}. Use search_products to find the SKU.`);
    return { business, product };
  }

  async suggestSkus(actor: PosActor, prefix: string): Promise<string[]> {
    const business = await this.activeBusinessOrNull(actor);
    if (!business) return [];
    return suggestSkus(this.deps.db, business.id, prefix, 20);
  }

  async addItem(actor: PosActor, input: { sku: string; quantity: number; cartId?: string }): Promise<CartView> {
    requireWrite(actor.principal);
    const { business, product } = await this.getProduct(actor, input.sku);
    if (product.stock <= 0) {
      throw new ToolError('insufficient_stock', `${product.name} (${product.sku}) is out of stock.`, { sku: product.sku, available: 0 });
    }
    if (input.quantity > product.stock) {
      throw new ToolError('insufficient_stock', `Only ${product.stock} of ${product.name} (${product.sku}) in stock; asked for ${input.quantity}.`, {
        sku: product.sku,
        available: product.stock,
      });
    }
    const ref = this.cartRef(actor, business, input.cartId ?? (actor.session ? undefined : newCartId()));
    return this.viewAfter(business, ref, await this.deps.carts.addItem(ref, product.sku, input.quantity), [product]);
  }

  async updateItem(actor: PosActor, input: { sku: string; quantity: number; cartId?: string }): Promise<CartView> {
    requireWrite(actor.principal);
    const business = await this.activeBusiness(actor);
    const ref = this.cartRef(actor, business, input.cartId);
    if (input.quantity > 0) {
      const product = await getProduct(this.deps.db, business.id, input.sku);
      if (!product) throw new ToolError('product_not_found');
      return this.viewAfter(business, ref, await this.deps.carts.setItem(ref, product.sku, input.quantity), [product]);
    }
    return this.viewAfter(business, ref, await this.deps.carts.removeItem(ref, input.sku));
  }

  async removeItem(actor: PosActor, input: { sku: string; cartId?: string }): Promise<CartView> {
    requireWrite(actor.principal);
    const business = await this.activeBusiness(actor);
    const ref = this.cartRef(actor, business, input.cartId);
    return this.viewAfter(business, ref, await this.deps.carts.removeItem(ref, input.sku));
  }

  async viewCart(actor: PosActor, cartId?: string): Promise<CartView> {
    const business = await this.activeBusiness(actor);
    const ref = this.cartRef(actor, business, cartId);
    return this.view(business, ref, await this.deps.carts.get(ref));
  }

  async clearCart(actor: PosActor, cartId?: string): Promise<CartView> {
    requireWrite(actor.principal);
    const business = await this.activeBusiness(actor);
    const ref = this.cartRef(actor, business, cartId);
    await this.deps.carts.clear(ref);
    return this.view(business, ref, await this.deps.carts.get(ref));
  }

  /**
   * One SQL transaction turns the cart into an order and takes the stock. Without an idempotency key the
   * cart's version stands in for one, so retrying a checkout whose answer was lost returns the same order.
   */
  async checkout(actor: PosActor, input: { cartId?: string; idempotencyKey?: string; expectedVersion?: number }) {
    requireWrite(actor.principal);
    const business = await this.activeBusiness(actor);
    const ref = this.cartRef(actor, business, input.cartId);
    const cart = await this.deps.carts.get(ref);
    if (input.expectedVersion !== undefined && cart.version !== input.expectedVersion) throw new ToolError('cart_changed');
    const key = input.idempotencyKey ?? `cart:${ref.handle}:v${cart.version}`;
    if (cart.lines.length === 0) {
      const previous = input.idempotencyKey ? await findOrderByKey(this.deps.db, business.id, actor.principal.uid, key) : null;
      if (previous) return { order: previous, created: false, cartCleared: true, cartId: ref.handle };
      throw new ToolError('cart_empty');
    }
    let placed;
    try {
      placed = await placeOrder(this.deps.db, {
        businessId: business.id,
        userId: actor.principal.uid,
        idempotencyKey: key,
        cartHandle: ref.handle,
        lines: cart.lines,
      });
    } catch (err) {
      if (err instanceof InsufficientStockError) {
        const parts = err.lines.map((l) => `${l.name} (${l.sku}): asked ${l.requested}, ${l.available} available`);
        throw new ToolError('insufficient_stock', `Not enough stock: ${parts.join('; ')}. Reduce the quantities with update_cart_item and retry.`, {
          lines: err.lines,
        });
      }
      if (err instanceof UnknownProductError) {
        throw new ToolError('product_not_found', `These SKUs are no longer sold: ${err.skus.join(', ')}. Remove them from the cart and retry.`, {
          skus: err.skus,
        });
      }
      throw err;
    }
    // Stock moved: every instance's cached rows of this business are stale from the next request on. A failure here
    // (Redis gone) leaves other instances at most the cache TTL behind; the order stands either way.
    if (placed.created) await this.deps.catalog.changed(business.id).catch(() => {});
    const cartCleared = await this.deps.carts.clear(ref, cart.version);
    return { order: placed.order, created: placed.created, cartCleared, cartId: ref.handle };
  }

  async listOrders(actor: PosActor, limit: number) {
    const business = await this.activeBusiness(actor);
    return { business, orders: await listOrders(this.deps.db, business.id, actor.principal.uid, limit) };
  }

  async getOrder(actor: PosActor, orderId: string) {
    const order = await getOrder(this.deps.db, actor.principal.uid, orderId);
    if (!order) throw new ToolError('order_not_found', `No order "${orderId}" among your orders. Use list_orders to see them.`);
    return order;
  }

  /**
   * The cart a call names, else its session's own cart. Without either there is nothing to look at: a stateless
   * call must say which cart (add_item_to_cart, the only call that starts one, picks a new id before this).
   */
  private cartRef(actor: PosActor, business: MembershipView, cartId?: string): CartRef {
    const handle = cartId ?? (actor.session ? sessionCartId(actor.session.id) : undefined);
    if (handle === undefined) throw new ToolError('cart_required');
    return { businessId: business.id, userId: actor.principal.uid, handle };
  }

  /**
   * The session's choice, else the user's last choice, else the only business the user has. Every candidate
   * is checked against current memberships, so a revoked membership stops working at once.
   */
  private async activeBusinessOrNull(actor: PosActor, known?: MembershipView[]): Promise<MembershipView | null> {
    const businesses = known ?? (await this.deps.memberships.list(actor.principal.uid));
    const chosen = actor.session?.activeBusinessId ?? (await this.deps.preferences.getActiveBusiness(actor.principal.uid));
    const match = chosen ? businesses.find((b) => b.id === chosen) : undefined;
    if (match) return match;
    return businesses.length === 1 ? businesses[0]! : null;
  }

  /** `known`: products this call has just read (the one it checked), which the view need not read again. */
  private async viewAfter(business: MembershipView, ref: CartRef, mutation: CartMutation, known?: readonly Product[]): Promise<CartView> {
    if (!mutation.ok) {
      switch (mutation.reason) {
        case 'line_quantity_exceeded':
          throw new ToolError('cart_limit', 'That would put more of this item in the cart than one line may hold; use a smaller quantity.');
        case 'too_many_lines':
          throw new ToolError('cart_limit', 'The cart holds as many different items as it may; check out or remove some first.');
        case 'not_in_cart':
          throw new ToolError('not_in_cart', 'That SKU is not in the cart; view_cart shows what is.');
      }
    }
    return this.view(business, ref, mutation.cart, known);
  }

  private async view(business: MembershipView, ref: CartRef, cart: CartSnapshot, known: readonly Product[] = []): Promise<CartView> {
    const bySku = new Map(known.map((p) => [p.sku, p]));
    // Only the lines whose product this call has not read yet (a one-line cart after adding to it: none).
    const missing = cart.lines.filter((l) => !bySku.has(l.sku)).map((l) => l.sku);
    for (const p of missing.length ? await getProducts(this.deps.db, business.id, missing) : []) bySku.set(p.sku, p);
    const warnings: string[] = [];
    const lines: CartLineView[] = [];
    for (const line of cart.lines) {
      const p = bySku.get(line.sku);
      if (!p) {
        warnings.push(`${line.sku} is no longer sold; remove it before checkout.`);
        continue;
      }
      if (line.quantity > p.stock) warnings.push(`Only ${p.stock} of ${p.name} (${p.sku}) in stock; the cart has ${line.quantity}.`);
      lines.push({
        sku: p.sku,
        name: p.name,
        quantity: line.quantity,
        unit_price_minor: p.priceMinor,
        line_total_minor: p.priceMinor * line.quantity,
        available_stock: p.stock,
      });
    }
    return {
      cart_id: ref.handle,
      business_id: business.id,
      currency: business.currency,
      lines,
      item_count: lines.reduce((n, l) => n + l.quantity, 0),
      subtotal_minor: lines.reduce((n, l) => n + l.line_total_minor, 0),
      version: cart.version,
      warnings,
    };
  }
}

function requireWrite(principal: Principal): void {
  if (!hasScope(principal, 'pos:write')) throw new ToolError('insufficient_scope');
}
