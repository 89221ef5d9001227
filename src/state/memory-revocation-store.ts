import { assertKeyPart } from './keys.js';
import type { RevocationStore } from './revocation-store.js';
import { Sweeper } from './store-support.js';

/** The deny-list in process memory, same semantics as RedisRevocationStore. For a single instance only. */
export class MemoryRevocationStore implements RevocationStore {
  readonly #entries = new Map<string, number>();
  readonly #sweeper: Sweeper;

  constructor(opts: { sweepIntervalMs?: number } = {}) {
    this.#sweeper = new Sweeper(opts.sweepIntervalMs ?? 60_000, (now) => {
      for (const [id, until] of this.#entries) if (until <= now) this.#entries.delete(id);
    });
  }

  async revoke(tokenId: string, expiresAt: number): Promise<void> {
    assertKeyPart('token id', tokenId);
    assertExpiry(expiresAt);
    if (expiresAt <= Date.now()) return;
    this.#entries.set(tokenId, expiresAt);
  }

  async isRevoked(tokenId: string): Promise<boolean> {
    assertKeyPart('token id', tokenId);
    const until = this.#entries.get(tokenId);
    if (until === undefined) return false;
    if (until <= Date.now()) {
      this.#entries.delete(tokenId);
      return false;
    }
    return true;
  }

  close(): void {
    this.#sweeper.stop();
    this.#entries.clear();
  }
}

export function assertExpiry(expiresAt: unknown): asserts expiresAt is number {
  if (typeof expiresAt !== 'number' || !Number.isFinite(expiresAt)) throw new TypeError('expiresAt must be a finite epoch-ms number');
}
