/**
 * Latency histogram with 1 µs buckets up to 20 ms and 100 µs buckets up to 10 s; values above are clamped.
 * Fixed memory, O(1) record, exact enough for p50/p99 of calls that take tenths of a millisecond.
 */
const FINE_LIMIT_US = 20_000;
const COARSE_STEP_US = 100;
const COARSE_LIMIT_US = 10_000_000;

export class LatencyHistogram {
  private readonly fine = new Uint32Array(FINE_LIMIT_US);
  private readonly coarse = new Uint32Array((COARSE_LIMIT_US - FINE_LIMIT_US) / COARSE_STEP_US + 1);
  private total = 0;
  private sumUs = 0;
  private maxUs = 0;

  /** Records one latency in microseconds. */
  record(us: number): void {
    const v = Math.max(0, Math.round(us));
    if (v < FINE_LIMIT_US) this.fine[v]!++;
    else this.coarse[Math.min(this.coarse.length - 1, Math.floor((v - FINE_LIMIT_US) / COARSE_STEP_US))]!++;
    this.total++;
    this.sumUs += v;
    if (v > this.maxUs) this.maxUs = v;
  }

  get count(): number {
    return this.total;
  }

  get meanUs(): number {
    return this.total ? this.sumUs / this.total : 0;
  }

  get max(): number {
    return this.maxUs;
  }

  /** The smallest recorded value (µs) at or below which `p` percent of the values lie. */
  percentileUs(p: number): number {
    if (this.total === 0) return 0;
    const rank = Math.max(1, Math.ceil((p / 100) * this.total));
    let seen = 0;
    for (let i = 0; i < this.fine.length; i++) {
      seen += this.fine[i]!;
      if (seen >= rank) return i;
    }
    for (let i = 0; i < this.coarse.length; i++) {
      seen += this.coarse[i]!;
      if (seen >= rank) return FINE_LIMIT_US + i * COARSE_STEP_US;
    }
    return this.maxUs;
  }
}
