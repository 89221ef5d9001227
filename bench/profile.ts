/**
 * Where the time of a Redis-backed add_item_to_cart goes: runs one flowpos-mcp process with `--cpu-prof` (on the
 * server core), drives it with 2025-era session tool calls, and summarises the profile over the measured window
 * (start-up and warm-up left out).
 *
 *   npx tsx bench/profile.ts [--seconds 20] [--connections 50] [--modern | --opens | --agent] [--memory] [--out bench/results] [--keep file.cpuprofile]
 *
 * --opens profiles session opens (initialize + initialized), --agent ADK-style agent steps (a session per tool call);
 * "per call" then means per open or per step.
 *
 * Prints the busiest functions (self time), the time per area (each src/ file, each package, Node internals,
 * GC) and per layer (inclusive), and writes profile-<date>.md and .json into --out.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createBenchDatabase, pinPostgresBackends, startBenchRedis } from './support/backing.js';
import { summarise, type CpuProfile } from './support/cpuprofile.js';
import { startServer } from './support/ipc.js';
import { Http, runPhase } from './support/load.js';
import { canPin, pinPid } from './support/pin.js';
import { agentStep, chooseActiveBusiness, legacyToolStep, modernToolStep, openSession, setupSession } from './support/scenarios.js';
import { FLOWPOS_ENV } from './support/systems.js';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '20' },
    connections: { type: 'string', default: '50' },
    modern: { type: 'boolean', default: false },
    opens: { type: 'boolean', default: false },
    agent: { type: 'boolean', default: false },
    memory: { type: 'boolean', default: false },
    out: { type: 'string' },
    keep: { type: 'string' },
  },
});
const seconds = Number(args.seconds);
const connections = Number(args.connections);
const outDir = args.out ?? fileURLToPath(new URL('./results/', import.meta.url));
const log = (line: string) => process.stdout.write(`${line}\n`);

async function main(): Promise<void> {
  const pin = canPin();
  if (pin) pinPid(process.pid, '1');
  const profDir = mkdtempSync(join(tmpdir(), 'flowpos-prof-'));
  const redis = await startBenchRedis();
  const { db, name, key } = await createBenchDatabase(true);
  let server: Awaited<ReturnType<typeof startServer>> | undefined;
  try {
    server = await startServer('flowpos', {
      ...(pin ? { cpu: '0' } : {}),
      cpuProfDir: profDir,
      env: { ...FLOWPOS_ENV, PORT: '0', HOST: '127.0.0.1', DATABASE_URL: db.url, ...(args.memory ? {} : { REDIS_URL: redis.url }) },
    });
    const http = new Http(server.url, connections);
    await chooseActiveBusiness(http, key);
    if (pin) await pinPostgresBackends(name, '1');
    const scenario = args.modern
      ? 'tool calls, 2026-07-28 stateless'
      : args.opens
        ? 'session opens (initialize + initialized)'
        : args.agent
          ? 'ADK-style agent steps'
          : 'tool calls in 2025-era sessions';
    log(`profiling flowpos-mcp (${args.memory ? 'memory store' : 'Redis'}), ${scenario}, ${connections} connections, ${seconds} s; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
    let from = 0;
    let to = 0;
    const opened = async () => {
      const s = await openSession(http, key);
      return 'error' in s ? s.error : null;
    };
    const r = args.modern || args.opens || args.agent
      ? await runPhase({
          name: 'profile',
          vus: connections,
          warmupMs: 3000,
          durationMs: seconds * 1000,
          setup: async (vu) => `p${vu}`,
          step: args.opens ? opened : args.agent ? agentStep(http, key) : modernToolStep(http, key),
          tickMs: 2000,
          onTick: async (at) => {
            if (pin) await pinPostgresBackends(name, '1');
            if (!from && at >= 3000) from = await server!.mark();
          },
        })
      : await runPhase({
          name: 'profile',
          vus: connections,
          warmupMs: 3000,
          durationMs: seconds * 1000,
          setup: (vu) => setupSession(http, key, `p${vu}`),
          step: legacyToolStep(http, key),
          tickMs: 2000,
          onTick: async (at) => {
            if (pin) await pinPostgresBackends(name, '1');
            if (!from && at >= 3000) from = await server!.mark();
          },
        });
    to = await server.mark();
    await http.close();
    await server.stop();
    log(`${r.perSecond.toFixed(0)} calls/s under the profiler, ${r.failures} failures`);
    const file = readdirSync(profDir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error('no .cpuprofile was written');
    if (args.keep) copyFileSync(join(profDir, file), args.keep);
    const profile = JSON.parse(readFileSync(join(profDir, file), 'utf8')) as CpuProfile;
    const s = summarise(profile, { fromUs: from, toUs: to }, 30);
    const calls = r.perSecond * ((to - from) / 1e6);
    const perCallUs = calls ? s.busyUs / calls : 0;
    const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
    const md: string[] = [
      `# CPU profile (${args.memory ? 'memory store' : 'Redis'}, ${scenario})`,
      '',
      `${new Date().toISOString()}; ${connections} connections; ${((to - from) / 1e6).toFixed(1)} s window; ${r.perSecond.toFixed(0)} calls/s under the profiler; ` +
        `server busy ${(s.busyUs / 1000).toFixed(0)} ms of ${(s.totalUs / 1000).toFixed(0)} ms sampled, ≈ ${perCallUs.toFixed(0)} µs of server CPU per call.`,
      '',
      '## Layers (inclusive: a sample counts for every layer on its stack)',
      '',
      '| layer | share of busy time | µs per call |',
      '|---|---|---|',
      ...s.layers.map((l) => `| ${l.layer} | ${pct(l.share)} | ${calls ? (l.us / calls).toFixed(0) : '–'} |`),
      '',
      '## Areas (self time)',
      '',
      '| area | share | µs per call |',
      '|---|---|---|',
      ...s.areas.slice(0, 20).map((a) => `| ${a.area} | ${pct(a.share)} | ${calls ? (a.us / calls).toFixed(1) : '–'} |`),
      '',
      '## Top frames (self time)',
      '',
      '| # | function | share |',
      '|---|---|---|',
      ...s.frames.map((f, i) => `| ${i + 1} | \`${f.frame}\` | ${pct(f.share)} |`),
      '',
    ];
    mkdirSync(outDir, { recursive: true });
    const base = join(outDir, `profile-${new Date().toISOString().slice(0, 19).replace(/:/g, '-')}`);
    writeFileSync(`${base}.md`, md.join('\n'));
    writeFileSync(`${base}.json`, `${JSON.stringify({ calls, perSecond: r.perSecond, failures: r.failures, perCallUs, ...s }, null, 2)}\n`);
    log(md.join('\n'));
    log(`written: ${base}.md, ${base}.json`);
  } finally {
    await server?.stop().catch(() => {});
    await redis.stop().catch(() => {});
    await db.drop().catch(() => {});
    rmSync(profDir, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
