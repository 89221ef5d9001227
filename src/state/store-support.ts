import type { CartLine, CartMutation, CartSnapshot, CartStoreOptions } from './cart-store.js';
import type { SessionRecord, SessionStoreOptions } from './session-store.js';

/** Rules shared by the memory and Redis implementations, so both behave the same. */

function assertPositiveInteger(name: string, value: unknown): asserts value is number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw new TypeError(`${name} must be a positive integer, got ${String(value)}`);
  }
}

export function validateSessionOptions(opts: SessionStoreOptions): SessionStoreOptions {
  assertPositiveInteger('idleTtlMs', opts.idleTtlMs);
  return { idleTtlMs: opts.idleTtlMs };
}

export function validateCartOptions(opts: CartStoreOptions): CartStoreOptions {
  assertPositiveInteger('ttlMs', opts.ttlMs);
  assertPositiveInteger('maxLineQuantity', opts.maxLineQuantity);
  assertPositiveInteger('maxLines', opts.maxLines);
  return { ttlMs: opts.ttlMs, maxLineQuantity: opts.maxLineQuantity, maxLines: opts.maxLines };
}

export interface PreferenceStoreOptions {
  /** How long a preference is kept after it was last set. Default 30 days. */
  ttlMs?: number;
}

export const DEFAULT_PREFERENCE_TTL_MS = 30 * 86_400_000;

export function preferenceTtl(opts: PreferenceStoreOptions | undefined): number {
  const ttl = opts?.ttlMs ?? DEFAULT_PREFERENCE_TTL_MS;
  assertPositiveInteger('preference ttlMs', ttl);
  return ttl;
}

/** Quantities must be integers: ≥ 1 to add, ≥ 0 to set. Callers validate; this only refuses nonsense. */
export function assertQuantity(quantity: unknown, min: 0 | 1): asserts quantity is number {
  if (typeof quantity !== 'number' || !Number.isSafeInteger(quantity) || quantity < min) {
    throw new RangeError(`quantity must be an integer >= ${min}, got ${String(quantity)}`);
  }
}

export function assertBusinessId(businessId: unknown): asserts businessId is string {
  if (typeof businessId !== 'string' || businessId.length === 0 || businessId.length > 256) {
    throw new TypeError('business id must be a non-empty string of at most 256 characters');
  }
}

/** Lines are ordered by sku, by UTF-16 code units (plain `<`), identically in every implementation. */
export function sortLines(lines: CartLine[]): CartLine[] {
  return lines.sort((a, b) => (a.sku < b.sku ? -1 : a.sku > b.sku ? 1 : 0));
}

export const EMPTY_CART_VERSION = 0;

/**
 * The version a change gives a cart: one more than before, or — for a cart that does not exist (never created,
 * or expired) — the current time in ms. Versions therefore never repeat for a (business, user, handle), even
 * across expiry, which matters because checkout keys its default idempotency key on them.
 */
export function nextCartVersion(current: number | undefined, now: number): number {
  return current === undefined ? Math.floor(now) : current + 1;
}

export type CartStatus = 'ok' | Extract<CartMutation, { ok: false }>['reason'];

export function cartMutation(status: CartStatus, cart: CartSnapshot): CartMutation {
  return status === 'ok' ? { ok: true, cart } : { ok: false, reason: status, cart };
}

/**
 * How long a session may live from `now`: min(idle TTL, expiresAt - now), floored. ≤ 0 means the credential has
 * expired and the session must not exist.
 */
export function sessionTtlMs(now: number, idleTtlMs: number, expiresAt: number | undefined): number {
  const ttl = expiresAt === undefined ? idleTtlMs : Math.min(idleTtlMs, expiresAt - now);
  return Math.floor(ttl);
}

/**
 * Splits a record into what the stores keep: the JSON of everything but activeBusinessId (JSON both stores use, so
 * what comes back is a deep copy with the same rules for undefined, Dates, ...), the active business and the cap.
 */
export function serializeSession(record: SessionRecord): {
  json: string;
  activeBusinessId: string | undefined;
  expiresAt: number | undefined;
} {
  if (typeof record !== 'object' || record === null) throw new TypeError('session record must be an object');
  const { activeBusinessId, ...rest } = record;
  if (activeBusinessId !== undefined) assertBusinessId(activeBusinessId);
  const principal = record.principal as SessionRecord['principal'] | undefined;
  if (typeof principal !== 'object' || principal === null || typeof principal.uid !== 'string') {
    throw new TypeError('session record needs a principal with a uid');
  }
  const expiresAt = principal.expiresAt;
  if (expiresAt !== undefined && (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt))) {
    throw new TypeError('principal.expiresAt must be a finite number of epoch ms');
  }
  return { json: JSON.stringify(rest), activeBusinessId, expiresAt };
}

export function deserializeSession(json: string, activeBusinessId: string | undefined): SessionRecord {
  const record = JSON.parse(json) as SessionRecord;
  if (activeBusinessId) record.activeBusinessId = activeBusinessId;
  return record;
}

/** Periodic removal of expired entries for the memory stores; never keeps the process alive. */
export class Sweeper {
  readonly #timer: NodeJS.Timeout;

  constructor(intervalMs: number, sweep: (now: number) => void) {
    this.#timer = setInterval(() => sweep(Date.now()), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

/** Sweep often enough that memory is reclaimed, rarely enough to cost nothing: the TTL, within [1 s, 60 s]. */
export function sweepInterval(ttlMs: number, override?: number): number {
  return override ?? Math.min(60_000, Math.max(1_000, ttlMs));
}
