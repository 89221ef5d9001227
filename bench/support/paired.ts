import { Http, runPhase, type PhaseResult } from './load.js';
import { procCpuSeconds } from './pin.js';
import { agentStep, chooseActiveBusiness, legacyToolStep, openSession, setupSession, type Session } from './scenarios.js';
import type { RunningSystem } from './systems.js';

/**
 * The baseline and the systems compared with it (flowpos-mcp on Redis first; flowpos-mcp on the memory store and the
 * HTTP floor when the run includes them) running at the same time on the same core, with the load going to one at a
 * time in short rounds: whatever the host does to the core's speed during a round (and this host's speed has moved
 * by a third between the phases of one sequential run) it does to every side of that round's ratios. The median of
 * the per-round ratios is the figure one slow stretch cannot skew; the range shows how much it still moved. The
 * memory store and the floor, measured in the same rounds, are the ceilings the Redis figure is read against: what
 * flowpos-mcp does with no Redis at all, and what Fastify does with no MCP at all.
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

/** What the rounds need of a system: a bench system, or (bench/ab.ts) a checkout's server. */
export type PairedSystem = Pick<RunningSystem, 'url' | 'key' | 'pids' | 'database'> & { id: string };

export interface PairedSide {
  /** A SystemId in bench results; bench/ab.ts names its checkouts A and B. */
  id: string;
  /** One per counted round, in round order. */
  rounds: PairedRound[];
  /** Medians over the rounds. */
  perSecond: number | null;
  cpuUsPerStep: number | null;
}

export interface PairedContender extends PairedSide {
  /** This side's calls/s over the baseline's, per round. */
  throughput: Spread | null;
  /** This side's CPU per step over the baseline's, per round. */
  cpu: Spread | null;
}

export interface PairedScenario {
  scenario: PairedScenarioId;
  label: string;
  base: PairedSide;
  /** In the order given to runPaired: flowpos-mcp on Redis first. */
  contenders: PairedContender[];
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
  /** The scenarios to run, in this order; default all three. */
  scenarios?: PairedScenarioId[];
  log: (line: string) => void;
}

const LABELS: Record<PairedScenarioId, string> = {
  tools: 'tool calls in 2025-era sessions',
  opens: 'session opens (initialize + initialized)',
  agent: 'ADK-style agent steps (initialize + initialized + tools/call + DELETE)',
};

interface Side {
  sys: PairedSystem;
  http: Http;
  sessions: Session[];
}

/** A scenario's figures for one system, if it took part. */
export function pairedSide(s: PairedScenario, id: string): PairedContender | undefined {
  return s.contenders.find((c) => c.id === id);
}

export async function runPaired(base: PairedSystem, contenders: PairedSystem[], opts: PairedOptions): Promise<PairedResult> {
  if (!contenders.length) throw new TypeError('runPaired: nothing to compare with the baseline');
  const sides: Side[] = [base, ...contenders].map((sys) => ({ sys, http: new Http(sys.url, opts.connections), sessions: [] }));
  const result: PairedResult = { rounds: opts.rounds, seconds: opts.durationMs / 1000, warmupMs: opts.warmupMs, connections: opts.connections, scenarios: [], failures: 0, errors: [] };
  try {
    const scenarios = opts.scenarios ?? (['tools', 'opens', 'agent'] as const);
    for (const side of sides) {
      await chooseActiveBusiness(side.http, side.sys.key);
      // The tool-call rounds reuse one session per connection: opened here, outside every round's CPU count.
      if (scenarios.includes('tools')) side.sessions = await Promise.all(Array.from({ length: opts.connections }, (_, vu) => setupSession(side.http, side.sys.key, `p${vu}`)));
    }
    for (const scenario of scenarios) {
      const figures: PairedRound[][] = sides.map(() => []);
      // One uncounted round per side first: a freshly started server's first seconds of a new kind of load are
      // its JIT's (the first counted round of the baseline ran at half its later rate without this).
      for (const side of sides) await round(side, scenario, opts, result);
      for (let i = 0; i < opts.rounds; i++) {
        // The order rotates, so no side always runs on a core another has just warmed, or always goes first.
        for (let k = 0; k < sides.length; k++) {
          const at = (i + k) % sides.length;
          figures[at]!.push(await round(sides[at]!, scenario, opts, result));
        }
      }
      const s = summarise(scenario, sides.map((side, i) => ({ id: side.sys.id, rounds: figures[i]! })));
      result.scenarios.push(s);
      opts.log(
        `  paired ${scenario.padEnd(6)} baseline ${fmt(s.base.perSecond)}/s` +
          s.contenders
            .map((c) => `, ${c.id} ${fmt(c.perSecond)}/s ${c.throughput ? `×${c.throughput.median.toFixed(2)} (${c.throughput.min.toFixed(2)}–${c.throughput.max.toFixed(2)})` : '–'}${c.cpu ? `, CPU ×${c.cpu.median.toFixed(2)}` : ''}`)
            .join(''),
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

function cpuSeconds(sys: PairedSystem): number {
  return sys.pids.reduce((n, pid) => n + (procCpuSeconds(pid) ?? NaN), 0);
}

function summarise(scenario: PairedScenarioId, sides: { id: string; rounds: PairedRound[] }[]): PairedScenario {
  const med = (xs: (number | null)[]) => spread(xs.map((x) => x ?? NaN))?.median ?? null;
  const side = ({ id, rounds }: { id: string; rounds: PairedRound[] }): PairedSide => ({
    id,
    rounds,
    perSecond: med(rounds.map((r) => r.perSecond)),
    cpuUsPerStep: med(rounds.map((r) => r.cpuUsPerStep)),
  });
  const [first, ...rest] = sides;
  const base = side(first!);
  return {
    scenario,
    label: LABELS[scenario],
    base,
    contenders: rest.map((c) => ({
      ...side(c),
      // Round i of a contender against round i of the baseline: both ran in the same turn of the rotation.
      throughput: spread(c.rounds.map((r, i) => (base.rounds[i]!.perSecond > 0 ? r.perSecond / base.rounds[i]!.perSecond : NaN))),
      cpu: spread(c.rounds.map((r, i) => (base.rounds[i]!.cpuUsPerStep && r.cpuUsPerStep !== null ? r.cpuUsPerStep / base.rounds[i]!.cpuUsPerStep! : NaN))),
    })),
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
