/**
 * The side-by-side benchmark: `npm run bench` (full) or `npm run bench -- --quick` (seconds per scenario, part
 * of the tests). Starts every system in turn on this machine, drives each with the same load generator, and
 * writes bench/results/<date>.json and .md (quick runs write to a temporary directory unless --out is given).
 *
 *   --quick              a few seconds per scenario; no long run
 *   --out <dir>          where to write <date>.json and <date>.md
 *   --only a,b           only these systems (ids in bench/support/systems.ts)
 *   --sessions <n>       idle sessions for the memory figures (default 10,000; quick 50)
 *   --long-seconds <n>   length of the long run (default 300; 0 skips it)
 *   --connections <n>    concurrent connections for throughput scenarios (default 50; quick 10)
 *   --paired-rounds <n>  rounds of the paired comparison (the baseline, flowpos on Redis and, when --only does not
 *                        leave them out, flowpos on the memory store and the HTTP floor, all running at once;
 *                        default 6, quick 2; 0 skips it)
 *   --no-pin             do not place processes on cores
 *   --source <label>     what code is measured, when this is not a git checkout (e.g. an exported commit)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { commandDelta, pinPostgresBackends, postgresBackends, postgresVersion, RedisStats, startBenchRedis, type TestDatabase, type TestRedis } from './support/backing.js';
import { Http, runCount, runPhase, type PhaseOptions, type PhaseResult } from './support/load.js';
import { FROM_SOURCE } from './support/build.js';
import { calibrate } from './support/calibrate.js';
import { runPaired } from './support/paired.js';
import { canPin, pinPid, procCpuSeconds, procRss } from './support/pin.js';
import { evaluateTargets, renderMarkdown, renderText, type BenchResult, type SystemResult } from './support/report.js';
import { agentStep, chooseActiveBusiness, legacyToolStep, modernToolStep, openSession, setupSession } from './support/scenarios.js';
import { startSystem, SYSTEMS, type RunningSystem, type SystemId } from './support/systems.js';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    only: { type: 'string' },
    sessions: { type: 'string' },
    'long-seconds': { type: 'string' },
    connections: { type: 'string' },
    'paired-rounds': { type: 'string' },
    'no-pin': { type: 'boolean', default: false },
    source: { type: 'string' },
  },
  allowPositionals: false,
});

const quick = args.quick;
const settings = {
  mode: quick ? ('quick' as const) : ('full' as const),
  connections: Number(args.connections ?? (quick ? 10 : 50)),
  warmupMs: quick ? 100 : 3_000,
  toolCallsMs: quick ? 600 : 20_000,
  singleMs: quick ? 400 : 10_000,
  modernMs: quick ? 600 : 20_000,
  opensMs: quick ? 600 : 15_000,
  warmSessions: quick ? 20 : 1_000,
  idleSessions: Number(args.sessions ?? (quick ? 50 : 10_000)),
  longMs: quick ? 0 : Number(args['long-seconds'] ?? 300) * 1000,
  longSampleAtMs: 60_000,
  pairedRounds: Number(args['paired-rounds'] ?? (quick ? 2 : 6)),
  pairedMs: quick ? 400 : 5_000,
  pairedWarmupMs: quick ? 100 : 1_000,
};
const only = args.only ? new Set(args.only.split(',').map((s) => s.trim())) : undefined;
const pin = !args['no-pin'] && canPin();
const SERVER_CPU = '0';
const LOAD_CPU = '1';
/** Measured against the baseline in the paired rounds, in this order: the figure the targets read, then its two ceilings. */
const PAIRED_CONTENDERS = ['flowpos-redis', 'flowpos-memory', 'http-floor'] as const;

const log = (line: string) => process.stdout.write(`${line}\n`);
const date = new Date();
const stamp = date.toISOString().slice(0, 19).replace(/:/g, '-');
const outDir = args.out ?? (quick ? join(tmpdir(), 'flowpos-bench') : fileURLToPath(new URL('./results/', import.meta.url)));

async function main(): Promise<number> {
  if (pin) pinPid(process.pid, LOAD_CPU);
  mkdirSync(outDir, { recursive: true });
  const result: BenchResult = {
    date: date.toISOString(),
    settings: { ...settings, pinned: pin, flowposBuild: FROM_SOURCE ? 'src' : 'dist', serverCpu: pin ? SERVER_CPU : null, loadCpu: pin ? LOAD_CPU : null },
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      memoryGb: Math.round(totalmem() / 2 ** 30),
      node: process.version,
      redis: 'unknown',
      postgres: await postgresVersion(),
      loadavgStart: loadavg(),
      loadavgEnd: [],
      calibrationStart: calibrate(pin ? SERVER_CPU : undefined),
      calibrationEnd: null,
    },
    source: gitSource(),
    systems: {},
    targets: [],
    failures: 0,
  };
  log(
    `flowpos-mcp benchmark (${settings.mode}) — ${result.machine.cores} × ${result.machine.cpu}, load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}, ` +
      `server core speed ${result.machine.calibrationStart ?? '?'}k JSON round trips/s`,
  );
  log(pin ? `servers on core ${SERVER_CPU}; load generator, Redis, PostgreSQL backends and the balancer on core ${LOAD_CPU}` : 'no CPU pinning');

  const databases: TestDatabase[] = [];
  let redis: TestRedis | undefined;
  let stats: RedisStats | undefined;
  let running: RunningSystem | undefined;
  const paired: RunningSystem[] = [];
  const stopAll = async () => {
    await running?.stop().catch(() => {});
    for (const sys of paired.splice(0)) await sys.stop().catch(() => {});
    await stats?.close();
    await redis?.stop().catch(() => {});
    for (const db of databases) await db.drop().catch(() => {});
  };
  const onSignal = (signal: NodeJS.Signals) => {
    log(`\n${signal}: stopping everything this run started …`);
    void stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  try {
    redis = await startBenchRedis();
    stats = await RedisStats.connect(redis.url);
    result.machine.redis = await stats.version();
    for (const info of SYSTEMS) {
      if (only && !only.has(info.id)) continue;
      log(`\n== ${info.label} ==`);
      const speed = calibrate(pin ? SERVER_CPU : undefined);
      const t0 = Date.now();
      running = await startSystem(info.id, { redis, ...(pin ? { serverCpu: SERVER_CPU, loadCpu: LOAD_CPU } : {}), databases, log });
      log(`  started in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      try {
        result.systems[info.id] = { ...(await measure(info.id, running, stats)), calibration: speed, loadavg: loadavg()[0]! };
      } finally {
        await running.stop().catch(() => {});
        running = undefined;
      }
    }
    if (settings.pairedRounds > 0 && (!only || (only.has('sdk-stateful') && only.has('flowpos-redis')))) {
      result.paired = await measurePaired(redis, databases, paired);
      for (const sys of paired.splice(0)) await sys.stop().catch(() => {});
    }
  } finally {
    await stopAll();
  }

  result.machine.loadavgEnd = loadavg();
  result.machine.calibrationEnd = calibrate(pin ? SERVER_CPU : undefined);
  result.failures = Object.values(result.systems).reduce((n, s) => n + (s?.failures ?? 0), 0) + (result.paired?.failures ?? 0);
  result.targets = evaluateTargets(result);
  const base = join(outDir, stamp);
  writeFileSync(`${base}.json`, `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(`${base}.md`, renderMarkdown(result));
  log(`\n${renderText(result)}`);
  log(`\nwritten: ${base}.json, ${base}.md`);
  return result.failures === 0 ? 0 : 1;
}

/**
 * The baseline, flowpos on Redis and, when the run includes them, flowpos on the memory store and the HTTP floor,
 * started together, all on the server core, and measured in rotating rounds (bench/support/paired.ts): ratios that the
 * host's drift between sequential phases minutes apart does not reach, with the two ceilings measured in the same rounds.
 */
async function measurePaired(redis: TestRedis, databases: TestDatabase[], started: RunningSystem[]): Promise<NonNullable<BenchResult['paired']>> {
  const ids = PAIRED_CONTENDERS.filter((id) => !only || only.has(id));
  log(`\n== paired rounds: SDK stateful (baseline), ${ids.join(', ')} at once, ${settings.pairedRounds} rounds of ${settings.pairedMs / 1000} s per scenario and side ==`);
  const ctx = { redis, ...(pin ? { serverCpu: SERVER_CPU, loadCpu: LOAD_CPU } : {}), databases, log };
  const base = await startSystem('sdk-stateful', ctx);
  started.push(base);
  const contenders: RunningSystem[] = [];
  for (const id of ids) {
    const sys = await startSystem(id, ctx);
    started.push(sys);
    contenders.push(sys);
  }
  const calibration = calibrate(pin ? SERVER_CPU : undefined);
  const r = await runPaired(base, contenders, {
    rounds: settings.pairedRounds,
    durationMs: settings.pairedMs,
    warmupMs: settings.pairedWarmupMs,
    connections: settings.connections,
    pinBackends: async (database) => {
      if (pin) await pinPostgresBackends(database, LOAD_CPU);
    },
    log,
  });
  return { ...r, calibration };
}

async function measure(id: SystemId, sys: RunningSystem, stats: RedisStats): Promise<SystemResult> {
  const info = SYSTEMS.find((s) => s.id === id)!;
  const out: SystemResult = { label: info.label, description: info.description, processes: sys.pids.length, failures: 0, errors: [] };
  const http = new Http(sys.url, settings.connections);
  const one = new Http(sys.url, 1);
  const key = sys.key;
  const note = (r: { failures: number; errors: string[] }) => {
    out.failures += r.failures;
    for (const e of r.errors) if (out.errors.length < 10) out.errors.push(e);
  };
  const pinBackends = async () => {
    if (pin && sys.database) await pinPostgresBackends(sys.database, LOAD_CPU);
  };
  const phase = async <S>(name: string, opts: PhaseOptions<S>): Promise<PhaseResult> => {
    await pinBackends();
    const r = await runPhase({ ...opts, onTick: opts.onTick ?? (() => void pinBackends()), tickMs: opts.tickMs ?? 2_000 });
    note(r);
    log(`  ${name.padEnd(26)} ${r.perSecond.toFixed(0).padStart(7)}/s  p50 ${r.p50Ms.toFixed(3)} ms  p99 ${r.p99Ms.toFixed(3)} ms  failures ${r.failures}`);
    return r;
  };

  try {
    await chooseActiveBusiness(one, key);

    // The HTTP floor keeps no sessions: memory per idle session would say nothing about it.
    if (info.legacy && id !== 'http-floor') {
      // Idle sessions: memory before and after opening N sessions that then do nothing.
      // Warm-up sessions first, so JIT code and pools are in the 'before' figure.
      const warm = await runCount(settings.warmSessions, settings.connections, async () => {
        const s = await openSession(http, key);
        return 'error' in s ? s.error : null;
      });
      note(warm);
      await pinBackends();
      const mem0 = await sys.memory();
      const redis0 = sys.usesRedis ? await stats.usedMemory() : undefined;
      const opened = await runCount(settings.idleSessions, settings.connections, async () => {
        const s = await openSession(http, key);
        return 'error' in s ? s.error : null;
      });
      note(opened);
      const mem1 = await sys.memory();
      const redis1 = sys.usesRedis ? await stats.usedMemory() : undefined;
      out.idle = {
        sessions: opened.ok,
        heapPerSessionBytes: mem0.heapUsed !== undefined && mem1.heapUsed !== undefined ? (mem1.heapUsed - mem0.heapUsed) / opened.ok : null,
        rssPerSessionBytes: (mem1.rss - mem0.rss) / opened.ok,
        redisPerSessionBytes: redis0 !== undefined && redis1 !== undefined ? (redis1 - redis0) / opened.ok : null,
        heapBytesAfter: mem1.heapUsed ?? null,
        rssBytesAfter: mem1.rss,
      };
      log(
        `  idle sessions ${opened.ok}: heap ${fmtBytes(out.idle.heapPerSessionBytes)}/session, RSS ${fmtBytes(out.idle.rssPerSessionBytes)}/session` +
          (out.idle.redisPerSessionBytes !== null ? `, Redis ${fmtBytes(out.idle.redisPerSessionBytes)}/session` : ''),
      );
    }

    if (info.legacy) {
      // Tool calls inside 2025-era sessions, many connections; CPU of the server, Redis and PostgreSQL per call.
      const cpu0 = await cpuSnapshot(sys, stats);
      const c0 = sys.usesRedis ? await stats.commands() : undefined;
      out.toolCalls = await phase('tool calls (sessions)', {
        name: 'tool calls',
        vus: settings.connections,
        warmupMs: settings.warmupMs,
        durationMs: settings.toolCallsMs,
        setup: (vu) => setupSession(http, key, `s${vu}`),
        step: legacyToolStep(http, key),
      });
      // The set-up (one initialize + initialized per connection) is in these deltas too; it is small next to the calls.
      const calls = out.toolCalls.total + out.toolCalls.failures;
      out.cpuPerCall = cpuPerCall(cpu0, await cpuSnapshot(sys, stats), calls);
      if (c0) {
        const delta = commandDelta(c0, await stats.commands());
        out.redisExecutedPerCall = Object.fromEntries(Object.entries(delta).map(([k, v]) => [k, round(v / calls, 3)]));
      }

      // One connection: latency, and what one call sends to Redis and PostgreSQL, counted at the sockets.
      await sys.wire?.start();
      out.single = await phase('tool calls (1 connection)', {
        name: 'tool calls, 1 connection',
        vus: 1,
        warmupMs: settings.warmupMs,
        durationMs: settings.singleMs,
        setup: () => setupSession(one, key, 'single'),
        step: legacyToolStep(one, key),
      });
      if (sys.wire) {
        const w = await sys.wire.stop();
        // The window also holds one initialize + initialized (the set-up) and nothing else.
        const n = out.single.total + out.single.failures;
        const per = (o: Record<string, number>) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, round(v / n, 3)]));
        out.wire = {
          calls: n,
          redisRoundTripsPerCall: sys.usesRedis ? round((w.flights.redis ?? 0) / n, 3) : null,
          redisRoundTripsBeforeAnswerPerCall: sys.usesRedis ? round(((w.flights.redis ?? 0) - (w.flightsAfterAnswer.redis ?? 0)) / n, 3) : null,
          postgresRoundTripsPerCall: round((w.flights.postgres ?? 0) / n, 3),
          redisCommandsPerCall: sys.usesRedis ? round(sum(w.redisCommands) / n, 3) : null,
          redisCommands: per(w.redisCommands),
          postgresStatements: per(w.postgresStatements),
        };
        log(`  per call: ${out.wire.redisRoundTripsPerCall ?? 0} Redis round trips, ${out.wire.redisRoundTripsBeforeAnswerPerCall ?? 0} of them before the answer (${Object.entries(out.wire.redisCommands).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'}), ${out.wire.postgresRoundTripsPerCall} PostgreSQL round trips`);
      }
      if (sys.redisRoundTrip) {
        // Measured with the server idle, from its own process: the least one round trip costs on this machine.
        out.redisRoundTripUs = await sys.redisRoundTrip();
        if (out.redisRoundTripUs !== null) log(`  one Redis round trip from the server process, alone: ${(out.redisRoundTripUs / 1000).toFixed(3)} ms (p50)`);
      }
    }

    if (info.modern) {
      const c0 = sys.usesRedis ? await stats.commands() : undefined;
      out.modern = await phase('tool calls (2026-07-28)', {
        name: 'modern tool calls',
        vus: settings.connections,
        warmupMs: settings.warmupMs,
        durationMs: settings.modernMs,
        setup: async (vu) => `m${vu}`,
        step: modernToolStep(http, key),
      });
      if (c0) {
        const n = out.modern.total + out.modern.failures;
        out.redisExecutedPerModernCall = Object.fromEntries(Object.entries(commandDelta(c0, await stats.commands())).map(([k, v]) => [k, round(v / n, 3)]));
      }
    }

    if (info.legacy) {
      out.opens = await phase('session opens', {
        name: 'session opens',
        vus: settings.connections,
        warmupMs: settings.warmupMs,
        durationMs: settings.opensMs,
        setup: async () => undefined,
        step: async () => {
          const s = await openSession(http, key);
          return 'error' in s ? s.error : null;
        },
      });
      out.agentSteps = await phase('agent steps (ADK-style)', {
        name: 'agent steps',
        vus: settings.connections,
        warmupMs: settings.warmupMs,
        durationMs: settings.opensMs,
        setup: async () => undefined,
        step: agentStep(http, key),
      });
    }

    // Long run: RSS after one minute and at the end, under the tool-call load.
    if (settings.longMs > 0 && (id === 'sdk-stateful' || id === 'flowpos-redis')) {
      const samples: { atMs: number; rss: number }[] = [];
      const rss = () => sys.pids.reduce((n, pid) => n + (procRss(pid) ?? NaN), 0);
      const r = await phase('long run', {
        name: 'long run',
        vus: settings.connections,
        warmupMs: 0,
        durationMs: settings.longMs,
        setup: (vu) => setupSession(http, key, `l${vu}`),
        step: legacyToolStep(http, key),
        tickMs: 5_000,
        onTick: (atMs) => {
          samples.push({ atMs, rss: rss() });
          void pinBackends();
        },
      });
      const at1 = samples.find((s) => s.atMs >= settings.longSampleAtMs) ?? samples[0];
      const atEnd = samples[samples.length - 1];
      out.long = {
        seconds: settings.longMs / 1000,
        perSecond: r.perSecond,
        rssAt1MinBytes: at1?.rss ?? null,
        rssAtEndBytes: atEnd?.rss ?? null,
        growth: at1 && atEnd ? atEnd.rss / at1.rss - 1 : null,
        samples: samples.map((s) => ({ s: round(s.atMs / 1000, 1), rssMb: round(s.rss / 2 ** 20, 1) })),
      };
      log(`  RSS after 1 min ${fmtBytes(out.long.rssAt1MinBytes)}, after ${out.long.seconds / 60} min ${fmtBytes(out.long.rssAtEndBytes)}`);
    }
  } finally {
    await http.close();
    await one.close();
  }
  return out;
}

/** The commit measured, and whether src/ differed from it. */
function gitSource(): { commit: string; srcModified: boolean } {
  if (args.source) return { commit: args.source, srcModified: false };
  const root = fileURLToPath(new URL('../', import.meta.url));
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout?.trim() || 'unknown';
  const dirty = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: root, encoding: 'utf8' }).stdout?.trim();
  return { commit, srcModified: Boolean(dirty) };
}

interface CpuSnapshot {
  server: number;
  redis?: number;
  postgres: Map<number, number>;
}

/** CPU seconds used so far by the system's processes, Redis, and the PostgreSQL backends of its database. */
async function cpuSnapshot(sys: RunningSystem, stats: RedisStats): Promise<CpuSnapshot> {
  const postgres = new Map<number, number>();
  if (sys.database) {
    for (const pid of await postgresBackends(sys.database)) {
      const s = procCpuSeconds(pid);
      if (s !== undefined) postgres.set(pid, s);
    }
  }
  return {
    server: sys.pids.reduce((n, pid) => n + (procCpuSeconds(pid) ?? NaN), 0),
    ...(sys.usesRedis ? { redis: await stats.cpuSeconds() } : {}),
    postgres,
  };
}

/** µs of CPU per call between two snapshots (PostgreSQL: backends alive at both). */
function cpuPerCall(a: CpuSnapshot, b: CpuSnapshot, calls: number): SystemResult['cpuPerCall'] {
  let pgSeconds = 0;
  for (const [pid, s] of b.postgres) {
    const before = a.postgres.get(pid);
    if (before !== undefined) pgSeconds += s - before;
  }
  const us = (seconds: number) => round((seconds * 1e6) / calls, 1);
  return {
    serverUs: us(b.server - a.server),
    redisUs: a.redis !== undefined && b.redis !== undefined ? us(b.redis - a.redis) : null,
    postgresUs: a.postgres.size || b.postgres.size ? us(pgSeconds) : null,
  };
}

function sum(o: Record<string, number>): number {
  return Object.values(o).reduce((a, b) => a + b, 0);
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

function fmtBytes(n: number | null | undefined): string {
  if (n === null || n === undefined || Number.isNaN(n)) return 'n/a';
  if (Math.abs(n) >= 2 ** 20) return `${(n / 2 ** 20).toFixed(1)} MB`;
  if (Math.abs(n) >= 1024) return `${(n / 1024).toFixed(2)} KB`;
  return `${n.toFixed(0)} B`;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(2);
  },
);
