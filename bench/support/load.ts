import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { LatencyHistogram } from './histogram.js';
import type { Reply } from './mcp.js';

/**
 * The load generator every system is driven by: closed-loop virtual users over keep-alive HTTP/1.1
 * connections (undici), one connection per user, each sending its next request when the previous answer has
 * been read and checked.
 */
export class Http {
  private readonly pool: Pool;

  constructor(
    readonly origin: string,
    connections: number,
  ) {
    this.pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 120_000, keepAliveMaxTimeout: 120_000 });
  }

  async send(method: 'POST' | 'DELETE', path: string, headers: Record<string, string>, body?: string): Promise<Reply> {
    const res = await this.pool.request({ path, method, headers, ...(body !== undefined ? { body } : {}) });
    const text = await res.body.text();
    return { status: res.statusCode, headers: res.headers as Reply['headers'], text };
  }

  post(path: string, headers: Record<string, string>, body: string): Promise<Reply> {
    return this.send('POST', path, headers, body);
  }

  async close(): Promise<void> {
    await this.pool.close().catch(() => {});
  }
}

/** One step of a virtual user: resolves null when every answer was right, else why not. */
export type Step<S> = (vu: number, state: S) => Promise<string | null>;

export interface PhaseOptions<S> {
  name: string;
  vus: number;
  warmupMs: number;
  durationMs: number;
  /** Prepares a user before the clock starts (e.g. opens its session); a throw fails the phase. */
  setup: (vu: number) => Promise<S>;
  step: Step<S>;
  /** Called about every `tickMs` while the phase runs (e.g. to sample a process's RSS). */
  onTick?: (elapsedMs: number) => void | Promise<void>;
  tickMs?: number;
}

export interface PhaseResult {
  name: string;
  vus: number;
  /** Length of the measured window (after warm-up). */
  seconds: number;
  /** Good steps completed inside the measured window. */
  ok: number;
  /** Good steps completed in the whole phase, warm-up included. */
  total: number;
  /** Steps that failed a check or threw, warm-up included. */
  failures: number;
  /** The first few failure reasons. */
  errors: string[];
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  meanMs: number;
  maxMs: number;
}

export async function runPhase<S>(opts: PhaseOptions<S>): Promise<PhaseResult> {
  const states = await Promise.all(Array.from({ length: opts.vus }, (_, vu) => opts.setup(vu)));
  const hist = new LatencyHistogram();
  const errors: string[] = [];
  let total = 0;
  let ok = 0;
  let failures = 0;
  const start = performance.now();
  const windowStart = start + opts.warmupMs;
  const windowEnd = windowStart + opts.durationMs;
  const fail = (why: string) => {
    failures++;
    if (errors.length < 5) errors.push(why);
  };

  let ticking = true;
  const ticker = opts.onTick
    ? (async () => {
        // Ticks inside the measured window only (not while the last requests finish).
        while (ticking && performance.now() < windowEnd) {
          await sleep(Math.min(opts.tickMs ?? 1000, Math.max(1, windowEnd - performance.now())));
          if (ticking) await opts.onTick!(performance.now() - start);
        }
      })()
    : undefined;

  await Promise.all(
    states.map(async (state, vu) => {
      while (performance.now() < windowEnd) {
        const t0 = performance.now();
        let problem: string | null;
        try {
          problem = await opts.step(vu, state);
        } catch (err) {
          problem = `threw: ${err instanceof Error ? err.message : String(err)}`;
        }
        const t1 = performance.now();
        if (problem !== null) {
          fail(problem);
          continue;
        }
        total++;
        if (t1 >= windowStart && t1 <= windowEnd) {
          ok++;
          hist.record((t1 - t0) * 1000);
        }
      }
    }),
  );
  ticking = false;
  await ticker;
  const seconds = opts.durationMs / 1000;
  return {
    name: opts.name,
    vus: opts.vus,
    seconds,
    ok,
    total,
    failures,
    errors,
    perSecond: ok / seconds,
    p50Ms: hist.percentileUs(50) / 1000,
    p99Ms: hist.percentileUs(99) / 1000,
    meanMs: hist.meanUs / 1000,
    maxMs: hist.max / 1000,
  };
}

/** Runs `count` steps over `vus` users as fast as they go (for opening a known number of sessions). */
export async function runCount(count: number, vus: number, step: (i: number) => Promise<string | null>): Promise<{ ok: number; failures: number; errors: string[]; seconds: number }> {
  let next = 0;
  let ok = 0;
  let failures = 0;
  const errors: string[] = [];
  const start = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(vus, count) }, async () => {
      while (next < count) {
        const i = next++;
        let problem: string | null;
        try {
          problem = await step(i);
        } catch (err) {
          problem = `threw: ${err instanceof Error ? err.message : String(err)}`;
        }
        if (problem === null) ok++;
        else {
          failures++;
          if (errors.length < 5) errors.push(problem);
        }
      }
    }),
  );
  return { ok, failures, errors, seconds: (performance.now() - start) / 1000 };
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
