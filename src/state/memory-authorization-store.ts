import type {
  AuthorizationStore,
  CodeGrant,
  CodeRedemption,
  IssuedAccessToken,
  PendingAuthorization,
  RefreshFamily,
  RefreshRotation,
} from './authorization-store.js';
import { familyTtlMs } from './authorization-store.js';
import { opaqueId } from './keys.js';
import { Sweeper } from './store-support.js';

interface Expiring<T> {
  value: T;
  until: number;
}

interface FamilyEntry {
  family: RefreshFamily;
  current: string;
  used: Set<string>;
  lastAccessToken: IssuedAccessToken;
  until: number;
}

/** Same semantics as RedisAuthorizationStore, in process memory: one instance only (the embedded default). */
export class MemoryAuthorizationStore implements AuthorizationStore {
  readonly #pending = new Map<string, Expiring<PendingAuthorization>>();
  readonly #codes = new Map<string, Expiring<{ grant: CodeGrant; familyId?: string; accessToken?: IssuedAccessToken; replayed?: boolean }>>();
  readonly #families = new Map<string, FamilyEntry>();
  readonly #sweeper: Sweeper;

  constructor(opts: { sweepIntervalMs?: number } = {}) {
    this.#sweeper = new Sweeper(opts.sweepIntervalMs ?? 60_000, (now) => {
      for (const map of [this.#pending, this.#codes, this.#families] as Map<string, { until: number }>[]) {
        for (const [k, v] of map) if (v.until <= now) map.delete(k);
      }
    });
  }

  async putPending(id: string, pending: PendingAuthorization, ttlMs: number): Promise<void> {
    opaqueId('authorization id', id);
    this.#pending.set(id, { value: clone(pending), until: Date.now() + positive(ttlMs) });
  }

  async getPending(id: string): Promise<PendingAuthorization | undefined> {
    opaqueId('authorization id', id);
    const entry = live(this.#pending, id);
    return entry && clone(entry.value);
  }

  async bindPending(id: string, expectedBinding: string | undefined, pending: PendingAuthorization): Promise<'ok' | 'gone' | 'taken'> {
    opaqueId('authorization id', id);
    const entry = live(this.#pending, id);
    if (!entry) return 'gone';
    if (entry.value.browserBinding !== expectedBinding) return 'taken';
    entry.value = clone(pending);
    return 'ok';
  }

  async takePending(id: string): Promise<PendingAuthorization | undefined> {
    opaqueId('authorization id', id);
    const entry = live(this.#pending, id);
    this.#pending.delete(id);
    return entry?.value;
  }

  async putCode(codeHash: string, grant: CodeGrant, ttlMs: number): Promise<void> {
    opaqueId('code hash', codeHash);
    this.#codes.set(codeHash, { value: { grant: clone(grant) }, until: Date.now() + positive(ttlMs) });
  }

  async redeemCode(codeHash: string, familyId: string, accessToken: IssuedAccessToken): Promise<CodeRedemption> {
    opaqueId('code hash', codeHash);
    opaqueId('family id', familyId);
    const entry = live(this.#codes, codeHash);
    if (!entry) return { status: 'unknown' };
    if (entry.value.familyId !== undefined) {
      entry.value.replayed = true;
      return { status: 'used', familyId: entry.value.familyId, accessToken: { ...entry.value.accessToken! } };
    }
    entry.value.familyId = familyId;
    entry.value.accessToken = { ...accessToken };
    return { status: 'ok', grant: clone(entry.value.grant) };
  }

  async codeReplayed(codeHash: string): Promise<boolean> {
    opaqueId('code hash', codeHash);
    return live(this.#codes, codeHash)?.value.replayed === true;
  }

  async createFamily(familyId: string, family: RefreshFamily, tokenHash: string, idleTtlMs: number, accessToken: IssuedAccessToken): Promise<void> {
    opaqueId('family id', familyId);
    this.#families.set(familyId, {
      family: clone(family),
      current: tokenHash,
      used: new Set(),
      lastAccessToken: { ...accessToken },
      until: Date.now() + familyTtlMs(family, positive(idleTtlMs)),
    });
  }

  async rotate(familyId: string, presentedHash: string, newHash: string, clientId: string, idleTtlMs: number, accessToken: IssuedAccessToken): Promise<RefreshRotation> {
    opaqueId('family id', familyId);
    const entry = live(this.#families, familyId);
    if (!entry) return { status: 'unknown' };
    if (entry.current === presentedHash) {
      if (entry.family.clientId !== clientId) return { status: 'wrong_client' };
      entry.used.add(presentedHash);
      entry.current = newHash;
      entry.lastAccessToken = { ...accessToken };
      entry.until = Date.now() + familyTtlMs(entry.family, positive(idleTtlMs));
      return { status: 'ok', family: clone(entry.family) };
    }
    if (entry.used.has(presentedHash)) {
      this.#families.delete(familyId);
      return { status: 'reused', family: clone(entry.family), lastAccessToken: { ...entry.lastAccessToken } };
    }
    return { status: 'unknown' };
  }

  async revokeFamily(familyId: string): Promise<{ family: RefreshFamily; lastAccessToken?: IssuedAccessToken } | undefined> {
    opaqueId('family id', familyId);
    const entry = live(this.#families, familyId);
    this.#families.delete(familyId);
    return entry && { family: clone(entry.family), lastAccessToken: { ...entry.lastAccessToken } };
  }

  close(): void {
    this.#sweeper.stop();
    this.#pending.clear();
    this.#codes.clear();
    this.#families.clear();
  }
}

function live<T extends { until: number }>(map: Map<string, T>, key: string): T | undefined {
  const entry = map.get(key);
  if (entry && entry.until <= Date.now()) {
    map.delete(key);
    return undefined;
  }
  return entry;
}

/** Callers get copies, as they would from Redis: mutating a returned record never changes the stored one. */
function clone<T>(value: T): T {
  return structuredClone(value);
}

function positive(ms: number): number {
  if (!Number.isFinite(ms) || ms < 1) throw new RangeError('a TTL must be at least 1 ms');
  return Math.ceil(ms);
}
