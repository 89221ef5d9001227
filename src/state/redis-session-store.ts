import { assertSessionId, isValidSessionId, type KeySpace } from './keys.js';
import type { StateRedis } from './redis-client.js';
import type { SessionRecord, SessionRenewal, SessionStore, SessionStoreOptions } from './session-store.js';
import { assertBusinessId, deserializeSession, serializeSession, validateSessionOptions } from './store-support.js';

/**
 * Sessions in Redis: one hash per session (`<prefix>session:<id>`, fields in keys.ts), expiring at
 * min(last touch + idle TTL, principal.expiresAt). Every method is a single round trip.
 *
 * "now" is this process's clock, the same clock principal.expiresAt is checked against by the auth gate.
 */
export class RedisSessionStore implements SessionStore {
  readonly #client: StateRedis;
  readonly #keys: KeySpace;
  readonly #opts: SessionStoreOptions;

  constructor(client: StateRedis, keys: KeySpace, opts: SessionStoreOptions) {
    this.#client = client;
    this.#keys = keys;
    this.#opts = validateSessionOptions(opts);
  }

  async create(record: SessionRecord): Promise<void> {
    assertSessionId(record?.id);
    const { json, activeBusinessId, expiresAt } = serializeSession(record);
    await this.#client.sessionCreate(
      this.#keys.session(record.id),
      json,
      activeBusinessId ?? '',
      expiresAt === undefined ? '' : String(Math.floor(expiresAt)),
      String(Date.now()),
      String(this.#opts.idleTtlMs),
    );
  }

  async touch(id: string, renewal?: SessionRenewal): Promise<SessionRecord | null> {
    if (!isValidSessionId(id)) return null;
    const reply = await this.#client.sessionTouch(
      this.#keys.session(id),
      String(Date.now()),
      String(this.#opts.idleTtlMs),
      renewal?.uid ?? '',
      renewal?.expiresAt === undefined ? '' : String(Math.floor(renewal.expiresAt)),
    );
    if (reply === null || reply === undefined) return null;
    if (!Array.isArray(reply) || typeof reply[0] !== 'string' || typeof reply[1] !== 'string') {
      throw new Error('session-touch: unexpected reply from Redis');
    }
    return deserializeSession(reply[0], reply[1] || undefined);
  }

  async setActiveBusiness(id: string, businessId: string): Promise<boolean> {
    assertBusinessId(businessId);
    if (!isValidSessionId(id)) return false;
    const reply = await this.#client.sessionSetActiveBusiness(this.#keys.session(id), businessId);
    return reply === 1;
  }

  async delete(id: string): Promise<boolean> {
    if (!isValidSessionId(id)) return false;
    return (await this.#client.del(this.#keys.session(id))) > 0;
  }
}
