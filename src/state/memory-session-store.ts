import { assertSessionId, isValidSessionId } from './keys.js';
import type { SessionRecord, SessionRenewal, SessionStore, SessionStoreOptions } from './session-store.js';
import {
  assertBusinessId,
  deserializeSession,
  serializeSession,
  sessionTtlMs,
  Sweeper,
  sweepInterval,
  validateSessionOptions,
} from './store-support.js';

interface Entry {
  json: string;
  activeBusinessId: string | undefined;
  /** principal.expiresAt, the hard cap (moved by a later credential of the same principal). */
  cap: number | undefined;
  uid: string;
  /** When the entry stops existing (epoch ms). */
  expiresAt: number;
}

/**
 * Sessions in process memory, with the same semantics as RedisSessionStore (TTL, expiresAt cap, no resurrection).
 * For a single instance only: nothing here is visible to another process. Records are kept as JSON, so what goes in
 * and what comes out are never the same objects.
 */
export class MemorySessionStore implements SessionStore {
  readonly #opts: SessionStoreOptions;
  readonly #entries = new Map<string, Entry>();
  readonly #sweeper: Sweeper;

  constructor(opts: SessionStoreOptions & { sweepIntervalMs?: number }) {
    this.#opts = validateSessionOptions(opts);
    this.#sweeper = new Sweeper(sweepInterval(this.#opts.idleTtlMs, opts.sweepIntervalMs), (now) => {
      for (const [id, entry] of this.#entries) if (entry.expiresAt <= now) this.#entries.delete(id);
    });
  }

  #live(id: string, now: number): Entry | undefined {
    const entry = this.#entries.get(id);
    if (entry && entry.expiresAt <= now) {
      this.#entries.delete(id);
      return undefined;
    }
    return entry;
  }

  async create(record: SessionRecord): Promise<void> {
    assertSessionId(record?.id);
    const { json, activeBusinessId, expiresAt } = serializeSession(record);
    const now = Date.now();
    const ttl = sessionTtlMs(now, this.#opts.idleTtlMs, expiresAt);
    this.#entries.delete(record.id);
    if (ttl <= 0) return;
    this.#entries.set(record.id, { json, activeBusinessId, cap: expiresAt, uid: record.principal.uid, expiresAt: now + ttl });
  }

  async touch(id: string, renewal?: SessionRenewal): Promise<SessionRecord | null> {
    if (!isValidSessionId(id)) return null;
    const now = Date.now();
    const entry = this.#live(id, now);
    if (!entry) return null;
    if (renewal && renewal.uid === entry.uid && entry.cap !== undefined && (renewal.expiresAt === undefined || renewal.expiresAt > entry.cap)) {
      entry.cap = renewal.expiresAt;
    }
    const ttl = sessionTtlMs(now, this.#opts.idleTtlMs, entry.cap);
    if (ttl <= 0) {
      this.#entries.delete(id);
      return null;
    }
    entry.expiresAt = now + ttl;
    return deserializeSession(entry.json, entry.activeBusinessId);
  }

  async setActiveBusiness(id: string, businessId: string): Promise<boolean> {
    assertBusinessId(businessId);
    if (!isValidSessionId(id)) return false;
    const entry = this.#live(id, Date.now());
    if (!entry) return false;
    entry.activeBusinessId = businessId;
    return true;
  }

  async delete(id: string): Promise<boolean> {
    if (!isValidSessionId(id)) return false;
    const existed = this.#live(id, Date.now()) !== undefined;
    this.#entries.delete(id);
    return existed;
  }

  /** Stops the background sweep. */
  close(): void {
    this.#sweeper.stop();
    this.#entries.clear();
  }
}
