/** A cart belongs to (business, user, handle) — never to an MCP session, which some clients open per call, and outlives it. */
export interface CartRef {
  businessId: string;
  userId: string;
  /** The cart_id the agent passes: one the server picked (a session's own cart, or a new one) or a name of its own. */
  handle: string;
}

export interface CartLine {
  sku: string;
  quantity: number;
}

export interface CartSnapshot {
  lines: CartLine[];
  /** Bumped by every change; checkout derives its default idempotency key from it. */
  version: number;
}

export interface CartStoreOptions {
  /** How long an untouched cart is kept. */
  ttlMs: number;
  /** Upper bound on one line's quantity; an add past it is refused, not clamped. */
  maxLineQuantity: number;
  /** Upper bound on distinct lines in one cart. */
  maxLines: number;
}

export type CartMutation =
  | { ok: true; cart: CartSnapshot }
  | { ok: false; reason: 'line_quantity_exceeded' | 'too_many_lines' | 'not_in_cart'; cart: CartSnapshot };

export interface CartStore {
  get(ref: CartRef): Promise<CartSnapshot>;
  /** Adds to a line's quantity atomically, so concurrent adds on any instance all count. */
  addItem(ref: CartRef, sku: string, quantity: number): Promise<CartMutation>;
  /** Sets a line's quantity; 0 removes it. */
  setItem(ref: CartRef, sku: string, quantity: number): Promise<CartMutation>;
  removeItem(ref: CartRef, sku: string): Promise<CartMutation>;
  /** Empties the cart; with expectedVersion, only if nothing changed since that version. Returns whether it cleared. */
  clear(ref: CartRef, expectedVersion?: number): Promise<boolean>;
}
