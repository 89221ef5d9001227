import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import type { RateLimiter, RateLimitRule } from '../../src/state/rate-limiter.js';
import { sleep } from './support.js';

/** Limiters over one shared backend: several connections to one Redis, or one memory limiter several times. */
export type RateLimiterFactory = (connections?: number) => Promise<RateLimiter[]>;

const rule = (bucket: string, limit: number, windowMs = 60_000): RateLimitRule => ({ bucket, limit, windowMs });

/** The behaviour every RateLimiter must have: a sliding window per (subject, bucket), all-or-nothing over rules. */
export function rateLimiterContract(factory: RateLimiterFactory): void {
  const one = async () => (await factory())[0]!;

  it('admits `limit` hits in a window, then refuses with the time until one more fits', async () => {
    const limiter = await one();
    const user = randomUUID();
    const remaining: number[] = [];
    for (let i = 0; i < 3; i++) {
      const v = await limiter.hit(user, [rule('requests', 3, 5000)]);
      assert.ok(v.allowed, `hit ${i + 1}`);
      remaining.push(v.remaining);
    }
    assert.deepEqual(remaining, [2, 1, 0]);
    const refused = await limiter.hit(user, [rule('requests', 3, 5000)]);
    assert.equal(refused.allowed, false);
    assert.ok(!refused.allowed && refused.bucket === 'requests');
    assert.ok(!refused.allowed && refused.retryAfterMs > 4000 && refused.retryAfterMs <= 5000, JSON.stringify(refused));
  });

  it('counts hits from every connection in the same window', async () => {
    const limiters = await factory(3);
    const user = randomUUID();
    for (let i = 0; i < 6; i++) assert.ok((await limiters[i % 3]!.hit(user, [rule('requests', 6)])).allowed, `hit ${i + 1}`);
    for (const l of limiters) assert.equal((await l.hit(user, [rule('requests', 6)])).allowed, false);
  });

  it('admits exactly `limit` of many concurrent hits', async () => {
    const limiters = await factory(3);
    const user = randomUUID();
    const verdicts = await Promise.all(Array.from({ length: 45 }, (_, i) => limiters[i % 3]!.hit(user, [rule('requests', 10)])));
    assert.equal(verdicts.filter((v) => v.allowed).length, 10);
  });

  it('keeps subjects and buckets apart', async () => {
    const limiter = await one();
    const [u1, u2] = [randomUUID(), randomUUID()];
    assert.ok((await limiter.hit(u1, [rule('requests', 1)])).allowed);
    assert.equal((await limiter.hit(u1, [rule('requests', 1)])).allowed, false);
    assert.ok((await limiter.hit(u2, [rule('requests', 1)])).allowed, 'another subject has its own bucket');
    assert.ok((await limiter.hit(u1, [rule('writes', 1)])).allowed, 'another bucket of the same subject too');
    // Ids that look like key syntax stay apart from each other.
    for (const odd of [`${u1}}`, `{${u1}}`, `${u1}:requests`, `${u1}%7D`]) assert.ok((await limiter.hit(odd, [rule('requests', 1)])).allowed, odd);
  });

  it('charges every rule or none: a hit one rule refuses leaves the others as they were', async () => {
    const limiter = await one();
    const user = randomUUID();
    const both = [rule('requests', 3), rule('writes', 1)];
    assert.ok((await limiter.hit(user, both)).allowed);
    const refused = await limiter.hit(user, both);
    assert.ok(!refused.allowed && refused.bucket === 'writes', JSON.stringify(refused));
    // The refused write did not use up a request: two more requests fit, the third does not.
    assert.ok((await limiter.hit(user, [rule('requests', 3)])).allowed);
    assert.ok((await limiter.hit(user, [rule('requests', 3)])).allowed);
    const full = await limiter.hit(user, both);
    assert.ok(!full.allowed, 'both full');
    const remaining = await limiter.hit(user, [rule('requests', 3)]);
    assert.equal(remaining.allowed, false);
  });

  it('of several refusing rules, names the one that frees up last', async () => {
    const limiter = await one();
    const user = randomUUID();
    assert.ok((await limiter.hit(user, [rule('short', 1, 1000), rule('long', 1, 5000)])).allowed);
    const refused = await limiter.hit(user, [rule('short', 1, 1000), rule('long', 1, 5000)]);
    assert.ok(!refused.allowed && refused.bucket === 'long' && refused.retryAfterMs > 1000, JSON.stringify(refused));
  });

  it('slides: a hit counts for one window after it was admitted, and refusals do not push the wait out', async () => {
    const limiter = await one();
    const user = randomUUID();
    const r = rule('requests', 2, 600);
    assert.ok((await limiter.hit(user, [r])).allowed);
    await sleep(300);
    assert.ok((await limiter.hit(user, [r])).allowed);
    const refused = await limiter.hit(user, [r]);
    assert.ok(!refused.allowed && refused.retryAfterMs <= 300, JSON.stringify(refused));
    for (let i = 0; i < 3; i++) assert.equal((await limiter.hit(user, [r])).allowed, false);
    await sleep(refused.allowed ? 0 : refused.retryAfterMs + 30);
    assert.ok((await limiter.hit(user, [r])).allowed, 'the first hit has left the window');
    assert.equal((await limiter.hit(user, [r])).allowed, false, 'the second has not');
  });

  it('refuses malformed rules and subjects', async () => {
    const limiter = await one();
    const user = randomUUID();
    for (const bad of [[], [rule('a b', 1)], [rule('x', 0)], [rule('x', 1.5)], [rule('x', 1, 0)], [rule('x', 1), rule('x', 2)], Array.from({ length: 9 }, (_, i) => rule(`b${i}`, 1))]) {
      await assert.rejects(limiter.hit(user, bad), TypeError, JSON.stringify(bad));
    }
    await assert.rejects(limiter.hit('', [rule('x', 1)]), TypeError);
  });
}
