import { randomBytes } from 'node:crypto';
import type { KeySpace } from './keys.js';
import { validateRules, type RateLimiter, type RateLimitRule, type RateLimitVerdict } from './rate-limiter.js';
import type { StateRedis } from './redis-client.js';

/**
 * Sliding-window limits in Redis (rate-limit.lua): every instance counts into the same buckets, so a limit holds
 * across instances. One script call per hit, whatever the number of rules; all of a subject's buckets share its
 * hash tag, so the call runs on one node of a Redis Cluster.
 */
export class RedisRateLimiter implements RateLimiter {
  readonly #client: StateRedis;
  readonly #keys: KeySpace;
  /**
   * Sorted-set members must be unique per admitted hit across every instance: a random prefix per limiter
   * (72 bits, drawn once) and a counter, instead of 9 random bytes drawn for every hit.
   */
  readonly #memberPrefix = randomBytes(9).toString('base64url');
  #hits = 0;
  /**
   * The script's limit/window arguments of each rule list seen, validated once: callers pass the same (readonly)
   * lists on every hit, and a new list is validated when first seen.
   */
  readonly #ruleArgs = new WeakMap<readonly RateLimitRule[], string[]>();

  constructor(client: StateRedis, keys: KeySpace) {
    this.#client = client;
    this.#keys = keys;
  }

  async hit(subject: string, rules: readonly RateLimitRule[]): Promise<RateLimitVerdict> {
    const args = this.#argsOf(rules);
    const keys = rules.map((r) => this.#keys.rateLimit(subject, r.bucket));
    const reply = (await this.#client.rateLimit(keys, `${this.#memberPrefix}${(this.#hits++).toString(36)}`, ...args)) as unknown;
    if (!Array.isArray(reply) || (reply[0] !== 1 && reply[0] !== 0)) throw new Error(`rate-limit.lua: unexpected reply ${JSON.stringify(reply)}`);
    if (reply[0] === 1) return { allowed: true, remaining: Number(reply[1]) };
    const rule = rules[Number(reply[1]) - 1];
    if (!rule) throw new Error(`rate-limit.lua: refusing bucket ${String(reply[1])} out of range`);
    return { allowed: false, bucket: rule.bucket, retryAfterMs: Number(reply[2]) };
  }

  #argsOf(rules: readonly RateLimitRule[]): string[] {
    const known = this.#ruleArgs.get(rules);
    if (known) return known;
    validateRules(rules);
    const args = rules.flatMap((r) => [String(r.limit), String(r.windowMs)]);
    this.#ruleArgs.set(rules, args);
    return args;
  }

  close(): void {
    // The connection belongs to the stores.
  }
}
