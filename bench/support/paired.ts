import { Http, runPhase, type PhaseResult } from './load.js';
import { procCpuSeconds } from './pin.js';
import { agentStep, chooseActiveBusiness, legacyToolStep, openSession, setupSession, type Session } from './scenarios.js';
import type { RunningSystem } from './systems.js';

/**
 * The baseline and flowpos-mcp on Redis running at the same time on the same core, with the load alternating
 * between them in short rounds: whatever the host does to the core's speed during a round (and this host's speed
 * has moved by a third between the phases of one sequential run) it does to both sides of that round's ratio. The
 * median of the per-round ratios is the figure one slow stretch cannot skew; the range shows how much it still moved.
 */
export type PairedScenarioId = 'tools' | 'opens' | 'agent';

export interface PairedRound {
  perSecond: number;
  /** Server CPU time per completed step in the round (warm-up included on both counts), µs. */
  cpuUsPerStep: number | null;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export interface PairedScenario {
  scenario: PairedScenarioId;
  label: string;
  rounds: { base: PairedRound; flowpos: PairedRound }[];
  /** flowpos calls/s over the baseline's, per round. */
  throughput: Spread | null;
  /** flowpos CPU per step over the baseline's, per round. */
  cpu: Spread | null;
  base: { perSecond: number | null; cpuUsPerStep: number | null };
  flowpos: { perSecond: number | null; cpuUsPerStep: number | null };
}

export interface PairedResult {
  rounds: number;
  seconds: number;
  warmupMs: number;
  connections: number;
  scenarios: PairedScenario[];
  failures: number;
  errors: string[];
}

export interface PairedOptions {
  rounds: number;
  durationMs: number;
  warmupMs: number;
  connections: number;
  /** Places the PostgreSQL backends of a database next to the load (no-op when not pinning). */
  pinBackends: (database: string) => Promise<void>;
  log: (line: string) => void;
}

const LABELS: Record<PairedScenarioId, string> = {
  tools: 'tool calls in 2025-era sessions',
  opens: 'session opens (initialize + initialized)',
  agent: 'ADK-style agent steps (initialize + initialized + tools/call + DELETE)',
};

interface Side {
  sys: RunningSystem;
  http: Http;
  sessions: Session[];
}

export async function runPaired(base: RunningSystem, flowpos: RunningSystem, opts: PairedOptions): Promise<PairedResult> {
  const sides: Side[] = [base, flowpos].map((sys) => ({ sys, http: new Http(sys.url, opts.connections), sessions: [] }));
  const result: PairedResult = { rounds: opts.rounds, seconds: opts.durationMs / 1000, warmupMs: opts.warmupMs, connections: opts.connections, scenarios: [], failures: 0, errors: [] };
  try {
    for (const side of sides) {
      await chooseActiveBusiness(side.http, side.sys.key);
      // The tool-call rounds reuse one session per connection: opened here, outside every round's CPU count.
      side.sessions = await Promise.all(Array.from({ length: opts.connections }, (_, vu) => setupSession(side.http, side.sys.key, `p${vu}`)));
    }
    for (const scenario of ['tools', 'opens', 'agent'] as const) {
      const rounds: PairedScenario['rounds'] = [];
      // One uncounted round per side first: a freshly started server's first seconds of a new kind of load are
      // its JIT's (the first counted round of the baseline ran at half its later rate without this).
      for (const side of sides) await round(side, scenario, opts, result);
      for (let i = 0; i < opts.rounds; i++) {
        // Which side goes first alternates, so neither always runs on a core the other has just warmed.
        const order = i % 2 ? [1, 0] : [0, 1];
        const figures: PairedRound[] = [];
        for (const at of order) figures[at] = await round(sides[at]!, scenario, opts, result);
        rounds.push({ base: figures[0]!, flowpos: figures[1]! });
      }
      const s = summarise(scenario, rounds);
      result.scenarios.push(s);
      opts.log(
        `  paired ${scenario.padEnd(6)} baseline ${fmt(s.base.perSecond)}/s, flowpos ${fmt(s.flowpos.perSecond)}/s: ` +
          (s.throughput ? `×${s.throughput.median.toFixed(2)} (rounds ${s.throughput.min.toFixed(2)}–${s.throughput.max.toFixed(2)})` : '–') +
          (s.cpu ? `; CPU per step ×${s.cpu.median.toFixed(2)}` : ''),
      );
    }
  } finally {
    for (const side of sides) await side.http.close();
  }
  return result;
}

async function round(side: Side, scenario: PairedScenarioId, opts: PairedOptions, result: PairedResult): Promise<PairedRound> {
  if (side.sys.database) await opts.pinBackends(side.sys.database);
  const { http, sys } = side;
  const cpu0 = cpuSeconds(sys);
  const common = { name: `paired ${scenario}`, vus: opts.connections, warmupMs: opts.warmupMs, durationMs: opts.durationMs };
  let r: PhaseResult;
  if (scenario === 'tools') r = await runPhase({ ...common, setup: async (vu) => side.sessions[vu]!, step: legacyToolStep(http, sys.key) });
  else if (scenario === 'opens')
    r = await runPhase({
      ...common,
      setup: async () => undefined,
      step: async () => {
        const s = await openSession(http, sys.key);
        return 'error' in s ? s.error : null;
      },
    });
  else r = await runPhase({ ...common, setup: async () => undefined, step: agentStep(http, sys.key) });
  const cpu1 = cpuSeconds(sys);
  result.failures += r.failures;
  for (const e of r.errors) if (result.errors.length < 10) result.errors.push(`${sys.id} ${scenario}: ${e}`);
  const steps = r.total + r.failures;
  return { perSecond: r.perSecond, cpuUsPerStep: Number.isFinite(cpu1 - cpu0) && steps > 0 ? ((cpu1 - cpu0) * 1e6) / steps : null };
}

function cpuSeconds(sys: RunningSystem): number {
  return sys.pids.reduce((n, pid) => n + (procCpuSeconds(pid) ?? NaN), 0);
}

function summarise(scenario: PairedScenarioId, rounds: PairedScenario['rounds']): PairedScenario {
  const throughput = spread(rounds.map((r) => (r.base.perSecond > 0 ? r.flowpos.perSecond / r.base.perSecond : NaN)));
  const cpu = spread(rounds.map((r) => (r.base.cpuUsPerStep && r.flowpos.cpuUsPerStep !== null ? r.flowpos.cpuUsPerStep / r.base.cpuUsPerStep : NaN)));
  const med = (xs: (number | null)[]) => spread(xs.map((x) => x ?? NaN))?.median ?? null;
  return {
    scenario,
    label: LABELS[scenario],
    rounds,
    throughput,
    cpu,
    base: { perSecond: med(rounds.map((r) => r.base.perSecond)), cpuUsPerStep: med(rounds.map((r) => r.base.cpuUsPerStep)) },
    flowpos: { perSecond: med(rounds.map((r) => r.flowpos.perSecond)), cpuUsPerStep: med(rounds.map((r) => r.flowpos.cpuUsPerStep)) },
  };
}

/** Median and range of the finite values; null when there are none. */
export function spread(values: number[]): Spread | null {
  const xs = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!xs.length) return null;
  const m = Math.floor(xs.length / 2);
  return { median: xs.length % 2 ? xs[m]! : (xs[m - 1]! + xs[m]!) / 2, min: xs[0]!, max: xs[xs.length - 1]! };
}

function fmt(n: number | null): string {
  return n === null ? '–' : n.toFixed(0);
}
