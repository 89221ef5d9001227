/** Why placeOrder refused; nothing was written when one of these is thrown. */
export abstract class OrderError extends Error {
  abstract readonly code: string;
}

export interface StockShortage {
  sku: string;
  name: string;
  requested: number;
  available: number;
}

/** Every line the stock cannot cover, not just the first. */
export class InsufficientStockError extends OrderError {
  readonly code = 'insufficient_stock';
  constructor(readonly lines: StockShortage[]) {
    super(`Insufficient stock for ${lines.map((l) => `${l.sku} (requested ${l.requested}, available ${l.available})`).join(', ')}`);
    this.name = 'InsufficientStockError';
  }
}

/** SKUs that do not exist in the business or are no longer sold (inactive). */
export class UnknownProductError extends OrderError {
  readonly code = 'unknown_product';
  constructor(readonly skus: string[]) {
    super(`Unknown or inactive product(s): ${skus.join(', ')}`);
    this.name = 'UnknownProductError';
  }
}

/** The business does not exist or the user is not a member of it (deliberately indistinguishable). */
export class BusinessNotFoundError extends OrderError {
  readonly code = 'business_not_found';
  constructor(readonly businessId: string) {
    super(`No business ${businessId} for this user`);
    this.name = 'BusinessNotFoundError';
  }
}

/** The request itself is malformed (no lines, non-positive quantity, empty idempotency key…): a caller bug. */
export class InvalidOrderError extends OrderError {
  readonly code = 'invalid_order';
  constructor(message: string) {
    super(message);
    this.name = 'InvalidOrderError';
  }
}
