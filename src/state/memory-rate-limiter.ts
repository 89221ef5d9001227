import { assertKeyPart } from './keys.js';
import { validateRules, type RateLimiter, type RateLimitRule, type RateLimitVerdict } from './rate-limiter.js';

export interface MemoryRateLimiterOptions {
  /** The clock (ms); tests may drive it. */
  now?: () => number;
  /** How often buckets with nothing left in their window are dropped. Default 60 s. */
  sweepIntervalMs?: number;
}

/**
 * The same sliding-window log as rate-limit.lua, in this process: right for one instance (embedded runs, tests),
 * and it counts nothing another instance sees.
 */
export class MemoryRateLimiter implements RateLimiter {
  /** bucket key → admitted hits (ms), oldest first, and the window they were admitted under. */
  readonly #buckets = new Map<string, { hits: number[]; windowMs: number }>();
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout;

  constructor(opts: MemoryRateLimiterOptions = {}) {
    this.#now = opts.now ?? Date.now;
    this.#timer = setInterval(() => this.#sweep(), opts.sweepIntervalMs ?? 60_000);
    this.#timer.unref();
  }

  async hit(subject: string, rules: readonly RateLimitRule[]): Promise<RateLimitVerdict> {
    assertKeyPart('rate limit subject', subject);
    validateRules(rules);
    const now = this.#now();
    let refused: { bucket: string; retryAfterMs: number } | undefined;
    let remaining = -1;
    const buckets = rules.map((rule) => {
      const key = `${subject}\u0000${rule.bucket}`;
      const bucket = this.#buckets.get(key) ?? { hits: [], windowMs: rule.windowMs };
      bucket.windowMs = rule.windowMs;
      dropBefore(bucket.hits, now - rule.windowMs);
      const count = bucket.hits.length;
      if (count >= rule.limit) {
        const wait = bucket.hits[count - rule.limit]! + rule.windowMs - now;
        if (!refused || wait > refused.retryAfterMs) refused = { bucket: rule.bucket, retryAfterMs: wait };
      } else {
        const left = rule.limit - count - 1;
        if (remaining < 0 || left < remaining) remaining = left;
      }
      return { key, bucket };
    });
    if (refused) return { allowed: false, bucket: refused.bucket, retryAfterMs: Math.max(1, Math.ceil(refused.retryAfterMs)) };
    for (const { key, bucket } of buckets) {
      bucket.hits.push(now);
      this.#buckets.set(key, bucket);
    }
    return { allowed: true, remaining };
  }

  close(): void {
    clearInterval(this.#timer);
    this.#buckets.clear();
  }

  #sweep(): void {
    const now = this.#now();
    for (const [key, bucket] of this.#buckets) {
      dropBefore(bucket.hits, now - bucket.windowMs);
      if (bucket.hits.length === 0) this.#buckets.delete(key);
    }
  }
}

/** Removes hits at or before `cutoff` (the window is (now - windowMs, now]). */
function dropBefore(hits: number[], cutoff: number): void {
  let n = 0;
  while (n < hits.length && hits[n]! <= cutoff) n++;
  if (n > 0) hits.splice(0, n);
}
