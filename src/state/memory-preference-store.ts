import { assertKeyPart } from './keys.js';
import type { PreferenceStore } from './preference-store.js';
import { assertBusinessId, preferenceTtl, Sweeper, sweepInterval, type PreferenceStoreOptions } from './store-support.js';

/** Preferences in process memory, same semantics as RedisPreferenceStore (TTL reset by every set). */
export class MemoryPreferenceStore implements PreferenceStore {
  readonly #ttlMs: number;
  readonly #entries = new Map<string, { businessId: string; expiresAt: number }>();
  readonly #sweeper: Sweeper;

  constructor(opts?: PreferenceStoreOptions & { sweepIntervalMs?: number }) {
    this.#ttlMs = preferenceTtl(opts);
    this.#sweeper = new Sweeper(sweepInterval(this.#ttlMs, opts?.sweepIntervalMs), (now) => {
      for (const [userId, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(userId);
    });
  }

  async getActiveBusiness(userId: string): Promise<string | null> {
    assertKeyPart('user id', userId);
    const entry = this.#entries.get(userId);
    if (!entry) return null;
    if (entry.expiresAt <= Date.now()) {
      this.#entries.delete(userId);
      return null;
    }
    return entry.businessId;
  }

  async setActiveBusiness(userId: string, businessId: string): Promise<void> {
    assertKeyPart('user id', userId);
    assertBusinessId(businessId);
    this.#entries.set(userId, { businessId, expiresAt: Date.now() + this.#ttlMs });
  }

  /** Stops the background sweep. */
  close(): void {
    this.#sweeper.stop();
    this.#entries.clear();
  }
}
