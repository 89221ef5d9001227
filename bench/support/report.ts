import type { PhaseResult } from './load.js';
import { pairedSide, type PairedResult, type PairedScenario, type Spread } from './paired.js';
import { SYSTEMS, type SystemId } from './systems.js';

export interface SystemResult {
  label: string;
  description: string;
  processes: number;
  failures: number;
  errors: string[];
  /** Server-core speed just before this system was started (see machine.calibrationStart). */
  calibration?: number | null;
  /** 1-minute load average when this system's measurements ended. */
  loadavg?: number;
  idle?: {
    sessions: number;
    heapPerSessionBytes: number | null;
    rssPerSessionBytes: number;
    redisPerSessionBytes: number | null;
    heapBytesAfter: number | null;
    rssBytesAfter: number;
  };
  toolCalls?: PhaseResult;
  single?: PhaseResult;
  modern?: PhaseResult;
  opens?: PhaseResult;
  /** ADK-style agent steps: initialize + notifications/initialized + one tools/call + DELETE each. */
  agentSteps?: PhaseResult;
  /** CPU per 2025-era tool call (many connections), in µs: the server process(es), Redis, PostgreSQL backends. */
  cpuPerCall?: { serverUs: number; redisUs: number | null; postgresUs: number | null };
  /** Commands Redis executed per tool call, those inside Lua scripts included (INFO commandstats). */
  redisExecutedPerCall?: Record<string, number>;
  redisExecutedPerModernCall?: Record<string, number>;
  /** What one tool call sent, counted at the server's sockets with one connection (flowpos single process). */
  wire?: {
    calls: number;
    redisRoundTripsPerCall: number | null;
    /** Those the answer waited for (absent in results written before it was counted). */
    redisRoundTripsBeforeAnswerPerCall?: number | null;
    postgresRoundTripsPerCall: number;
    redisCommandsPerCall: number | null;
    redisCommands: Record<string, number>;
    postgresStatements: Record<string, number>;
  };
  /** One Redis round trip from the server's process with nothing else in flight, median µs (flowpos with Redis). */
  redisRoundTripUs?: number | null;
  long?: {
    seconds: number;
    perSecond: number;
    rssAt1MinBytes: number | null;
    rssAtEndBytes: number | null;
    growth: number | null;
    samples: { s: number; rssMb: number }[];
  };
}

export interface Target {
  id: string;
  text: string;
  value: string;
  status: 'met' | 'met (stretch)' | 'not met' | 'not measured';
}

export interface BenchResult {
  date: string;
  settings: {
    mode: 'quick' | 'full';
    connections: number;
    warmupMs: number;
    toolCallsMs: number;
    singleMs: number;
    modernMs: number;
    opensMs: number;
    warmSessions: number;
    idleSessions: number;
    longMs: number;
    longSampleAtMs: number;
    /** The paired comparison's rounds per scenario, and each round's length (absent in older results). */
    pairedRounds?: number;
    pairedMs?: number;
    pairedWarmupMs?: number;
    pinned: boolean;
    /** What flowpos-mcp ran as: its build (dist/) or its source under tsx (absent in results from before it was asked). */
    flowposBuild?: 'dist' | 'src';
    serverCpu: string | null;
    loadCpu: string | null;
  };
  machine: {
    cpu: string;
    cores: number;
    memoryGb: number;
    node: string;
    redis: string;
    postgres: string;
    loadavgStart: number[];
    loadavgEnd: number[];
    /** Server-core speed: thousands of JSON parse+stringify round trips of a tool-call message per second. */
    calibrationStart: number | null;
    calibrationEnd: number | null;
  };
  source: { commit: string; srcModified: boolean };
  systems: Partial<Record<SystemId, SystemResult>>;
  /** The baseline and flowpos on Redis measured at once in alternating rounds (absent in older results). */
  paired?: PairedResult & { calibration: number | null };
  targets: Target[];
  failures: number;
}

const BASE: SystemId = 'sdk-stateful';
const MODERN_BASE: SystemId = 'sdk-per-request';

type Num = number | null | undefined;

function ratio(value: Num, base: Num): number | null {
  if (value === null || value === undefined || base === null || base === undefined || !Number.isFinite(value) || !Number.isFinite(base) || base === 0) return null;
  return value / base;
}

export function fmtNum(n: Num, digits = 0): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function fmtBytes(n: Num): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return '–';
  const a = Math.abs(n);
  if (a >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MB`;
  if (a >= 1024) return `${(n / 1024).toFixed(2)} KB`;
  return `${n.toFixed(0)} B`;
}

function withRatio(text: string, r: number | null): string {
  return r === null ? text : `${text} (×${r.toFixed(2)})`;
}

/** Cores the cluster's three instances ran on: one when pinned, else every core. */
function clusterCores(result: BenchResult): number {
  return result.settings.pinned ? 1 : result.machine.cores;
}

interface Row {
  label: string;
  cell: (s: SystemResult, id: SystemId) => string;
}

function rows(result: BenchResult): Row[] {
  const base = result.systems[BASE];
  const mbase = result.systems[MODERN_BASE];
  const c = result.settings.connections;
  return [
    { label: `tool calls/s, 2025-era sessions, ${c} connections (× baseline)`, cell: (s) => withRatio(fmtNum(s.toolCalls?.perSecond), ratio(s.toolCalls?.perSecond, base?.toolCalls?.perSecond)) },
    {
      label: 'tool calls/s per server core used (× baseline)',
      cell: (s, id) => {
        const cores = id === 'flowpos-cluster' ? clusterCores(result) : 1;
        const v = s.toolCalls ? s.toolCalls.perSecond / cores : null;
        return withRatio(fmtNum(v), ratio(v, base?.toolCalls?.perSecond));
      },
    },
    { label: `p50 / p99 latency, ${c} connections (ms)`, cell: (s) => (s.toolCalls ? `${fmtNum(s.toolCalls.p50Ms, 2)} / ${fmtNum(s.toolCalls.p99Ms, 2)}` : '–') },
    { label: 'p50 / p99 latency, 1 connection (ms)', cell: (s) => (s.single ? `${fmtNum(s.single.p50Ms, 3)} / ${fmtNum(s.single.p99Ms, 3)}` : '–') },
    { label: 'tool calls/s, 1 connection', cell: (s) => withRatio(fmtNum(s.single?.perSecond), ratio(s.single?.perSecond, base?.single?.perSecond)) },
    {
      label: `tool calls/s, 2026-07-28 stateless, ${c} connections (× SDK per-request)`,
      cell: (s) => withRatio(fmtNum(s.modern?.perSecond), ratio(s.modern?.perSecond, mbase?.modern?.perSecond)),
    },
    { label: 'p50 / p99 latency, 2026-07-28 (ms)', cell: (s) => (s.modern ? `${fmtNum(s.modern.p50Ms, 2)} / ${fmtNum(s.modern.p99Ms, 2)}` : '–') },
    { label: 'session opens/s (initialize + initialized) (× baseline)', cell: (s) => withRatio(fmtNum(s.opens?.perSecond), ratio(s.opens?.perSecond, base?.opens?.perSecond)) },
    {
      label: 'ADK-style agent steps/s (initialize + initialized + tools/call + DELETE) (× baseline)',
      cell: (s) => withRatio(fmtNum(s.agentSteps?.perSecond), ratio(s.agentSteps?.perSecond, base?.agentSteps?.perSecond)),
    },
    {
      label: `heap per idle session (× baseline)`,
      cell: (s) => withRatio(fmtBytes(s.idle?.heapPerSessionBytes), ratio(s.idle?.heapPerSessionBytes, base?.idle?.heapPerSessionBytes)),
    },
    { label: 'RSS per idle session (× baseline)', cell: (s) => withRatio(fmtBytes(s.idle?.rssPerSessionBytes), ratio(s.idle?.rssPerSessionBytes, base?.idle?.rssPerSessionBytes)) },
    { label: 'Redis memory per idle session', cell: (s) => fmtBytes(s.idle?.redisPerSessionBytes) },
    {
      label: 'Redis round trips before the answer / in all / commands per tool call',
      cell: (s) =>
        s.wire?.redisRoundTripsPerCall != null
          ? `${fmtNum(s.wire.redisRoundTripsBeforeAnswerPerCall ?? s.wire.redisRoundTripsPerCall, 2)} / ${fmtNum(s.wire.redisRoundTripsPerCall, 2)} / ${fmtNum(s.wire.redisCommandsPerCall, 2)}`
          : '–',
    },
    { label: 'PostgreSQL round trips per tool call', cell: (s) => fmtNum(s.wire?.postgresRoundTripsPerCall, 2) },
    { label: 'one Redis round trip from the server process, alone (node-redis PING p50, ms)', cell: (s) => (s.redisRoundTripUs != null ? fmtNum(s.redisRoundTripUs / 1000, 3) : '–') },
    {
      label: 'CPU per tool call: server / Redis / PostgreSQL (µs)',
      cell: (s) => (s.cpuPerCall ? `${fmtNum(s.cpuPerCall.serverUs)} / ${fmtNum(s.cpuPerCall.redisUs)} / ${fmtNum(s.cpuPerCall.postgresUs)}` : '–'),
    },
    {
      label: 'RSS after 1 min → end of long run (growth)',
      cell: (s) => (s.long ? `${fmtBytes(s.long.rssAt1MinBytes)} → ${fmtBytes(s.long.rssAtEndBytes)} (${s.long.growth === null ? '–' : `${(s.long.growth * 100).toFixed(1)} %`})` : '–'),
    },
    { label: 'RSS after the idle sessions', cell: (s) => withRatio(fmtBytes(s.idle?.rssBytesAfter), ratio(s.idle?.rssBytesAfter, base?.idle?.rssBytesAfter)) },
    { label: 'server processes', cell: (s) => String(s.processes) },
    { label: 'server-core speed before / load average after (k JSON round trips/s)', cell: (s) => `${s.calibration ?? '–'}k / ${s.loadavg?.toFixed(1) ?? '–'}` },
    { label: 'failed responses', cell: (s) => String(s.failures) },
  ];
}

export function evaluateTargets(result: BenchResult): Target[] {
  const base = result.systems[BASE];
  const redis = result.systems['flowpos-redis'];
  const cluster = result.systems['flowpos-cluster'];
  const out: Target[] = [];
  const add = (id: string, text: string, value: number | null | undefined, shown: string, met: (v: number) => boolean, stretch?: (v: number) => boolean) => {
    if (value === null || value === undefined || !Number.isFinite(value)) out.push({ id, text, value: '–', status: 'not measured' });
    else out.push({ id, text, value: shown, status: stretch?.(value) ? 'met (stretch)' : met(value) ? 'met' : 'not met' });
  };
  // The HTTP floor's own ratio is the most any server on the same HTTP stack can show against the baseline here, and
  // the memory store's what flowpos-mcp shows with no Redis at all: measured in the paired rounds when they ran.
  const floorSys = result.systems['http-floor'];
  const pairedOf = (id: PairedScenario['scenario']) => result.paired?.scenarios.find((s) => s.scenario === id);
  const ceiling = (id: PairedScenario['scenario'], v: number | null | undefined, b: number | null | undefined) => {
    const p = pairedOf(id);
    const memory = p && pairedSide(p, 'flowpos-memory')?.throughput;
    const floor = p && pairedSide(p, 'http-floor')?.throughput;
    if (memory || floor) {
      const parts = [...(memory ? [`memory store ×${memory.median.toFixed(2)}`] : []), ...(floor ? [`HTTP floor ×${floor.median.toFixed(2)}`] : [])];
      return ` (ceilings in the same rounds: ${parts.join(', ')})`;
    }
    const r = ratio(v, b);
    return r === null ? '' : ` (ceiling here, the HTTP floor: ×${r.toFixed(2)})`;
  };
  // With a paired comparison in the run, its median decides: the sequential ratio is shown next to it, but it
  // compares phases minutes apart on a host whose speed moves between them.
  const decide = (id: PairedScenario['scenario'], sequential: number | null): { value: number | null; shown: string } => {
    const s = pairedOf(id);
    const p = s && pairedSide(s, 'flowpos-redis')?.throughput;
    const seq = sequential === null ? '–' : `×${sequential.toFixed(2)}`;
    if (!p) return { value: sequential, shown: seq };
    return { value: p.median, shown: `×${p.median.toFixed(2)} paired (median of ${result.paired!.rounds} rounds, ${p.min.toFixed(2)}–${p.max.toFixed(2)}); ${seq} sequential` };
  };
  const r1 = decide('tools', ratio(redis?.toolCalls?.perSecond, base?.toolCalls?.perSecond));
  add('P1', 'tool calls/s with Redis-backed sessions ≥ 1.5× baseline (stretch 2×)', r1.value, `${r1.shown}${ceiling('tools', floorSys?.toolCalls?.perSecond, base?.toolCalls?.perSecond)}`, (v) => v >= 1.5, (v) => v >= 2);
  const perCore = cluster?.toolCalls ? cluster.toolCalls.perSecond / clusterCores(result) : null;
  const r1c = ratio(perCore, base?.toolCalls?.perSecond);
  add('P1', `cluster tool calls/s per core used (${clusterCores(result)}) ≥ baseline`, r1c, `×${r1c?.toFixed(2)}`, (v) => v >= 1);
  const r2 = decide('opens', ratio(redis?.opens?.perSecond, base?.opens?.perSecond));
  add('P2', 'session opens/s ≥ 2× baseline', r2.value, `${r2.shown}${ceiling('opens', floorSys?.opens?.perSecond, base?.opens?.perSecond)}`, (v) => v >= 2);
  add('P3', 'instance heap per idle session ≤ 1 KB (Redis)', redis?.idle?.heapPerSessionBytes, fmtBytes(redis?.idle?.heapPerSessionBytes), (v) => v <= 1024);
  add('P3', 'Redis memory per session ≤ 1 KB', redis?.idle?.redisPerSessionBytes, fmtBytes(redis?.idle?.redisPerSessionBytes), (v) => v <= 1024);
  // The hot path is what the answer waits for; round trips after it (notifications) are counted in the table.
  const hot = redis?.wire ? (redis.wire.redisRoundTripsBeforeAnswerPerCall ?? redis.wire.redisRoundTripsPerCall) : undefined;
  add('P4', '≤ 2 Redis round trips per tool call before the answer', hot, fmtNum(hot, 2), (v) => v <= 2.05);
  add('P5', 'RSS at 5 min within 10 % of 1 min', redis?.long?.growth, redis?.long?.growth != null ? `${(redis.long.growth * 100).toFixed(1)} %` : '–', (v) => Math.abs(v) <= 0.1);
  // What this machine allows: the same server without Redis, plus the round trips the answer waits for, each at least
  // one bare round trip. A P6 above it is the cost of what those round trips carry; below it is not possible here.
  const memoryP50 = result.systems['flowpos-memory']?.single?.p50Ms;
  const floor = memoryP50 !== undefined && hot != null && redis?.redisRoundTripUs != null ? memoryP50 + (hot * redis.redisRoundTripUs) / 1000 : undefined;
  const floorText =
    (floor !== undefined ? ` (floor here: memory store ${fmtNum(memoryP50, 3)} + ${fmtNum(hot, 2)} × ${fmtNum(redis!.redisRoundTripUs! / 1000, 3)} ms round trip = ${fmtNum(floor, 3)} ms` : '') +
    (floor !== undefined && floorSys?.single ? `; the HTTP floor alone ${fmtNum(floorSys.single.p50Ms, 3)} ms)` : floor !== undefined ? ')' : '');
  add('P6', 'p50 add_item_to_cart with Redis, 1 connection ≤ 0.3 ms', redis?.single?.p50Ms, `${fmtNum(redis?.single?.p50Ms, 3)} ms${floorText}`, (v) => v <= 0.3);
  return out;
}

const x = (sp: Spread | null) => (sp ? `×${sp.median.toFixed(2)} (${sp.min.toFixed(2)}–${sp.max.toFixed(2)})` : '–');

/** The systems of the paired rounds, baseline first, with their labels. */
function pairedSystems(result: BenchResult): { id: string; label: string }[] {
  const first = result.paired?.scenarios[0];
  if (!first) return [];
  const label = (id: string) => SYSTEMS.find((s) => s.id === id)?.label ?? id;
  return [first.base.id, ...first.contenders.map((c) => c.id)].map((id) => ({ id, label: label(id) }));
}

/** One paired scenario, formatted once for both renderers: each side's label and calls/s (a contender's with its ratio). */
interface PairedLine {
  label: string;
  sides: { label: string; perSecond: string; ratio?: string }[];
  /** CPU per step of every side, baseline first. */
  cpu: string;
  /** flowpos on Redis' CPU per step over the baseline's. */
  cpuRatio: string;
}

function pairedLines(result: BenchResult): PairedLine[] {
  const names = new Map(pairedSystems(result).map((p) => [p.id, p.label]));
  return (result.paired?.scenarios ?? []).map((s) => ({
    label: s.label,
    sides: [
      { label: names.get(s.base.id) ?? s.base.id, perSecond: fmtNum(s.base.perSecond) },
      ...s.contenders.map((c) => ({ label: names.get(c.id) ?? c.id, perSecond: fmtNum(c.perSecond), ratio: x(c.throughput) })),
    ],
    cpu: [s.base, ...s.contenders].map((c) => fmtNum(c.cpuUsPerStep)).join(' / '),
    cpuRatio: x(pairedSide(s, 'flowpos-redis')?.cpu ?? null),
  }));
}

function present(result: BenchResult): { id: SystemId; s: SystemResult }[] {
  return SYSTEMS.filter((i) => result.systems[i.id]).map((i) => ({ id: i.id, s: result.systems[i.id]! }));
}

export function renderMarkdown(result: BenchResult): string {
  const systems = present(result);
  const m = result.machine;
  const lines: string[] = [];
  lines.push(`# Benchmark ${result.date} (${result.settings.mode})`, '');
  lines.push(
    `Machine: ${m.cores} × ${m.cpu}, ${m.memoryGb} GB, Node ${m.node}, Redis ${m.redis}, PostgreSQL ${m.postgres}. ` +
      `Load average at start ${m.loadavgStart.map((l) => l.toFixed(2)).join(' / ')}, at end ${m.loadavgEnd.map((l) => l.toFixed(2)).join(' / ')}; ` +
      `server-core speed ${m.calibrationStart ?? '?'}k → ${m.calibrationEnd ?? '?'}k JSON round trips/s (bench/support/calibrate.ts).`,
  );
  lines.push(
    `Commit ${result.source.commit}${result.source.srcModified ? ' with uncommitted changes in src/' : ''}` +
      (result.settings.flowposBuild === 'src' ? '; flowpos-mcp run from src/ under tsx (BENCH_FROM_SOURCE=1).' : result.settings.flowposBuild === 'dist' ? '; flowpos-mcp run as built (dist/, as the Dockerfile runs it).' : '.'),
  );
  lines.push(
    result.settings.pinned
      ? `Servers on core ${result.settings.serverCpu}; load generator, Redis, PostgreSQL backends and the cluster's balancer on core ${result.settings.loadCpu}.`
      : 'No CPU pinning.',
  );
  lines.push(
    `${result.settings.connections} connections, ${result.settings.warmupMs / 1000} s warm-up, ${result.settings.toolCallsMs / 1000} s per throughput scenario, ` +
      `${result.settings.idleSessions} idle sessions${result.settings.longMs ? `, ${result.settings.longMs / 60000} min long run` : ''}. Ratios are to the SDK stateful baseline of the same run unless the row says otherwise.`,
    '',
  );
  lines.push(`| | ${systems.map(({ s }) => s.label).join(' | ')} |`);
  lines.push(`|---|${systems.map(() => '---').join('|')}|`);
  for (const row of rows(result)) lines.push(`| ${row.label} | ${systems.map(({ id, s }) => row.cell(s, id)).join(' | ')} |`);
  const paired = pairedLines(result);
  if (paired.length) {
    const p = result.paired!;
    lines.push(
      '',
      `Paired rounds: ${pairedSystems(result).map((p) => p.label).join('; ')} running at once on the server core (speed ${p.calibration ?? '?'}k), ` +
        `the load going to one at a time in rotating order, ${p.rounds} rounds of ${p.warmupMs / 1000} s warm-up + ${p.seconds} s per scenario and side, ${p.connections} connections. ` +
        'A ratio is the median of the per-round ratios to the baseline (range in brackets): the host drifts less within a round than between the phases above. ' +
        'The memory store and the HTTP floor are the ceilings of the Redis figure: flowpos-mcp with no Redis at all, and Fastify with no MCP at all.',
      '',
      `| scenario | ${pairedSystems(result).map((p, i) => (i === 0 ? `${p.label} /s` : `${p.label} /s (× baseline)`)).join(' | ')} | CPU per step, µs (same order) | CPU of flowpos, Redis × baseline |`,
      `|---|${pairedSystems(result).map(() => '---').join('|')}|---|---|`,
      ...paired.map((l) => `| ${[l.label, ...l.sides.map((d) => (d.ratio ? `${d.perSecond} ${d.ratio}` : d.perSecond)), l.cpu, l.cpuRatio].join(' | ')} |`),
    );
  }
  lines.push('', '| target | measured | status |', '|---|---|---|');
  for (const t of result.targets) lines.push(`| ${t.id} ${t.text} | ${t.value} | ${t.status} |`);
  lines.push('', 'Systems:', '');
  for (const { s } of systems) lines.push(`- **${s.label}**: ${s.description}.`);
  const wire = result.systems['flowpos-redis']?.wire;
  if (wire) {
    lines.push('', `One add_item_to_cart with Redis (1 connection) sends, per call: Redis ${Object.entries(wire.redisCommands).map(([k, v]) => `${k} ×${v}`).join(', ')}; PostgreSQL:`);
    for (const [q, v] of Object.entries(wire.postgresStatements)) lines.push(`- ×${v} \`${q}\``);
  }
  const errors = systems.flatMap(({ s }) => s.errors.map((e) => `- ${s.label}: ${e}`));
  if (errors.length) lines.push('', 'First failures:', '', ...errors);
  return `${lines.join('\n')}\n`;
}

export function renderText(result: BenchResult): string {
  const systems = present(result);
  const table = [['', ...systems.map(({ s }) => s.label)], ...rows(result).map((r) => [r.label, ...systems.map(({ id, s }) => r.cell(s, id))])];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((r) => r[i]!.length)));
  const text = table.map((r) => r.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')).join('\n');
  const targets = result.targets.map((t) => `${t.id} ${t.text}: ${t.value} — ${t.status}`).join('\n');
  const paired = pairedLines(result);
  const pairedText = paired.length
    ? `\n\npaired rounds (${pairedSystems(result).map((p) => p.label).join('; ')} at once, median of ${result.paired!.rounds} rounds):\n` +
      paired
        .map((l) => `${l.label}: ${l.sides.map((d) => `${d.label} ${d.perSecond}/s${d.ratio ? ` ${d.ratio}` : ''}`).join('; ')}; CPU per step ${l.cpu} µs; CPU of flowpos on Redis ${l.cpuRatio} the baseline's`)
        .join('\n')
    : '';
  return `${text}${pairedText}\n\n${targets}\n\nfailed responses: ${result.failures}`;
}
