/**
 * Rate limits shared by every instance: a principal's requests are counted wherever they land, so N instances
 * do not multiply a limit by N. Each limit is a bucket of one subject (a user id) with a sliding window: at most
 * `limit` admitted hits in any `windowMs`.
 */
export interface RateLimitRule {
  /** The counter's name within the subject's: letters, digits, `_` and `-`, at most 32 (e.g. `requests`, `writes`). */
  bucket: string;
  /** Hits admitted per window; at least 1 (a disabled limit is simply not passed). */
  limit: number;
  windowMs: number;
}

export type RateLimitVerdict =
  /** `remaining`: the least room any of the rules has left after this hit. */
  | { allowed: true; remaining: number }
  /** `bucket`: the refusing rule (of several, the one that frees up last); `retryAfterMs`: when it has room again. */
  | { allowed: false; bucket: string; retryAfterMs: number };

export interface RateLimiter {
  /**
   * Counts one hit of `subject` against every rule, atomically: when all have room each is charged, when one is
   * full none is. One round trip to the store, whatever the number of rules.
   */
  hit(subject: string, rules: readonly RateLimitRule[]): Promise<RateLimitVerdict>;
  close(): void;
}

const BUCKET = /^[A-Za-z0-9_-]{1,32}$/;
export const MAX_RULES_PER_HIT = 8;

/** Throws a TypeError naming the first bad rule; shared by every implementation so they refuse alike. */
export function validateRules(rules: readonly RateLimitRule[]): void {
  if (!Array.isArray(rules) || rules.length === 0) throw new TypeError('rate limit: at least one rule is required');
  if (rules.length > MAX_RULES_PER_HIT) throw new TypeError(`rate limit: at most ${MAX_RULES_PER_HIT} rules per hit`);
  const seen = new Set<string>();
  for (const r of rules) {
    if (typeof r?.bucket !== 'string' || !BUCKET.test(r.bucket)) throw new TypeError(`rate limit: bad bucket name ${JSON.stringify(r?.bucket)}`);
    if (seen.has(r.bucket)) throw new TypeError(`rate limit: bucket ${r.bucket} given twice`);
    seen.add(r.bucket);
    if (!Number.isSafeInteger(r.limit) || r.limit < 1) throw new TypeError(`rate limit ${r.bucket}: limit must be an integer >= 1`);
    if (!Number.isSafeInteger(r.windowMs) || r.windowMs < 1) throw new TypeError(`rate limit ${r.bucket}: windowMs must be an integer >= 1`);
  }
}
